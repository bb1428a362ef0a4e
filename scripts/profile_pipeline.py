#!/usr/bin/env python
"""Where one create_vm operation spends its statements and time, message by message.

A profiling aid next to ``bench_pipeline.py``, not a benchmark of the broker: it
places N create_vm operations and delivers every message the pipeline publishes
in this one process, in the order published, with no broker and no worker
(``send_task`` and ``apply_async`` are redirected to an in-process queue for the
run; a delivery simulation, said so in the output). For each kind of message it
prints how many ran, the SQL statements each ran (transaction control counted
apart), and the milliseconds each took; then the totals per operation.

    .venv/bin/python scripts/profile_pipeline.py --n 50          # DATABASE_URL decides the database
    .venv/bin/python scripts/profile_pipeline.py --n 1 --sql     # print every statement of one operation
    .venv/bin/python scripts/profile_pipeline.py --n 50 --cprofile 30

The real coreTasker runs with the simulated cloud answering at once, on the
``bench-site`` the benchmark adds. Run ``manage.py migrate`` first.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import secrets
import sys
import time
import uuid
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
os.environ.setdefault("DJANGO_DEBUG", "false")  # production-like: no query log of our own kept
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
os.environ["SIMCLOUD_ACTION_SECONDS"] = "0"

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="create_vm operations (default 50)")
    parser.add_argument("--sql", action="store_true", help="print the statements of the first operation")
    parser.add_argument("--cprofile", type=int, default=0, metavar="K", help="print the K most expensive functions")
    args = parser.parse_args()

    import django

    django.setup()

    from celery import current_app
    from celery.app.task import Task
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from coretasker.models import CpuTypeTpl
    from opsplatform.celery import app
    from scripts.bench_pipeline import bench_site
    from tasks.services import operation_place

    app.loader.import_default_modules()
    queue: collections.deque = collections.deque()

    def send_task(name, args=None, kwargs=None, **options):
        queue.append((name, args or [], kwargs or {}))

    def apply_async(self, args=None, kwargs=None, **options):
        queue.append((self.name, args or [], kwargs or {}))

    current_app.send_task = send_task
    Task.apply_async = apply_async

    cpu = CpuTypeTpl.objects.order_by("code").first()
    if cpu is None:
        print("No CPU type template: run `manage.py migrate` first.", file=sys.stderr)
        return 2
    bench_site()
    stats: dict[str, list] = collections.defaultdict(lambda: [0, 0, 0, 0.0])  # runs, statements, commits, seconds

    def measure(key: str, fn, show: bool) -> None:
        connection.queries_log.clear()  # a full log (9,000 entries) would hide what this run adds
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - started
        sqls = [query["sql"] for query in captured.captured_queries]
        row = stats[key]
        row[0] += 1
        row[1] += sum(1 for sql in sqls if not sql.startswith(TRANSACTION_CONTROL))
        row[2] += sum(1 for sql in sqls if sql == "COMMIT")
        row[3] += elapsed
        if show:
            print(f"== {key}")
            for sql in sqls:
                print(f"   {sql[:220]}")

    def run() -> None:
        run_id = uuid.uuid4().hex[:8]
        for i in range(args.n):
            show = args.sql and i == 0
            params = {"cpu_type": cpu.code, "cpu": 1, "memory_gb": 1, "disk_gb": 10, "bandwidth_mbps": 10}
            measure(
                "operation_place (web)",
                lambda i=i, params=params: operation_place(
                    customer_id="bench",
                    task_type="create_vm",
                    resource_type="vm",
                    resource_id=f"bench-{run_id}-{i}",
                    site_id="bench-site",
                    params=params,
                ),
                show,
            )
            while queue:
                name, task_args, task_kwargs = queue.popleft()
                body = task_args[0] if task_args and isinstance(task_args[0], dict) else {}
                key = " ".join(part for part in (name, body.get("type", ""), body.get("kind", "")) if part)
                measure(key, partial(app.tasks[name], *task_args, **task_kwargs), show)

    print(f"database: {connection.vendor}   delivery: simulated, in this process (no broker)   operations: {args.n}")
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.cprofile)
    else:
        run()
    print(f"{'message':42s} {'runs':>6s} {'stmts/run':>10s} {'commits/run':>12s} {'ms/run':>8s}")
    totals = [0, 0, 0, 0.0]
    for key, (runs, statements, commits, seconds) in sorted(stats.items()):
        print(f"{key:42s} {runs:6d} {statements / runs:10.1f} {commits / runs:12.1f} {seconds / runs * 1000:8.2f}")
        for index, value in enumerate((runs, statements, commits, seconds)):
            totals[index] += value
    n = args.n
    print(
        f"per operation: {(totals[0] - n) / n:.1f} messages, {totals[1] / n:.1f} statements, "
        f"{totals[2] / n:.1f} commits, {totals[3] / n * 1000:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
