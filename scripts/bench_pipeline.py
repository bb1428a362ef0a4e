#!/usr/bin/env python
"""Benchmark: N create_vm operations end to end, against the same number of no-op messages.

On the configured database and broker (DATABASE_URL, CELERY_BROKER_URL), with one
Celery worker of two prefork processes serving the four queues:

1. place N create_vm operations and wait until every one is DONE or ERROR,
   counting every Celery message the pipeline published meanwhile (M);
2. send M no-op messages through the same broker and workers and wait until
   all ran.

It prints operations per second, messages per operation, the median latency of
one operation, and the ratio of the two times (pipeline / raw messaging).
coreTasker is the real one with the simulated cloud answering at once
(``SIMCLOUD_ACTION_SECONDS=0`` unless set; a site ``bench-site`` with one host
big enough for any N is added to the simulated inventory); ``--stand-in`` uses
the tests' in-process stand-in instead. The output says which ran.

Run it with no other worker on the broker: it purges the four queues first.
Usage: ``python scripts/bench_pipeline.py --n 1000`` (``make bench-pipeline BENCH_N=1000``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
# Production-like: no query log kept in memory by the workers while measuring.
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))


def bench_site() -> None:
    """A simulated site whose one host has room for any N (the starting inventory is small)."""
    from simcloud.models import SimHost, SimSite

    site, _ = SimSite.objects.get_or_create(site_id="bench-site", defaults={"name": "Benchmark site (simulation)"})
    SimHost.objects.update_or_create(
        hostname="sim-bench-h01",
        defaults={"site": site, "cpu_total": 10**9, "memory_gb_total": 10**9, "enabled": True},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="create_vm operations to run (default 1000)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait per phase (default 60 + n/2)")
    parser.add_argument(
        "--stand-in", action="store_true", help="use the tests' coreTasker stand-in instead of the real coreTasker"
    )
    args = parser.parse_args()
    count_dir = ROOT / "var" / "bench"
    os.environ["BENCH_COUNT_DIR"] = str(count_dir)
    os.environ.setdefault("SIMCLOUD_ACTION_SECONDS", "0")  # the benchmark measures the pipeline, not sleeps
    if args.stand_in:
        os.environ["BENCH_CORE_STAND_IN"] = "1"  # read by scripts.bench_celery in the worker

    import django

    django.setup()

    from django.conf import settings
    from django.db import connection

    from coretasker.models import CpuTypeTpl
    from scripts import bench_celery  # counts this process's publishes too
    from tasks.models import CloudTask, OperationStatus, ResUserOperation
    from tasks.services import operation_place
    from tasks.tests import corestub
    from tasks.tests.worker import wait_for

    timeout = args.timeout or 60 + args.n / 2
    cpu = CpuTypeTpl.objects.order_by("code").first()
    if cpu is None:
        print("No CPU type template: run `manage.py migrate` first.", file=sys.stderr)
        return 2
    if args.stand_in or not corestub.real_coretasker_present():
        corestub.install()  # this process answers lookups the same way as the worker
        core = "coreTasker stand-in (tasks/tests/corestub.py)"
    else:
        bench_site()
        seconds = settings.SIMCLOUD_ACTION_SECONDS
        core = f"real coreTasker, driver {settings.CORETASKER_DRIVER}, SIMCLOUD_ACTION_SECONDS={seconds}"
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"broker:   {settings.CELERY_BROKER_URL.split('@')[-1]}   coreTasker: {core}")
    print(f"operations: {args.n}   worker: 1 x prefork, 2 processes")

    worker = bench_celery.start_worker(count_dir)
    if worker is None:
        return 1
    try:
        run = uuid.uuid4().hex[:8]
        started = time.monotonic()
        ids = [
            operation_place(
                customer_id="bench",
                task_type="create_vm",
                resource_type="vm",
                resource_id=f"bench-{run}-{i}",
                site_id="bench-site",
                params={"cpu_type": cpu.code, "cpu": 1, "memory_gb": 1, "disk_gb": 10, "bandwidth_mbps": 10},
            ).pk
            for i in range(args.n)
        ]
        final = (OperationStatus.DONE, OperationStatus.ERROR)

        def all_final():
            return ResUserOperation.objects.filter(pk__in=ids, task_status__in=final).count() == len(ids)

        finished = wait_for(all_final, timeout=timeout, interval=0.5, worker=worker)
        pipeline_seconds = time.monotonic() - started
        if not finished:
            print(f"timed out after {timeout:.0f} s", file=sys.stderr)
            return 1
        messages = bench_celery.count("published")
        errors = ResUserOperation.objects.filter(pk__in=ids, task_status=OperationStatus.ERROR).count()
        latencies = [
            (task.finished_at - task.operation.created_at).total_seconds()
            for task in CloudTask.objects.filter(operation_id__in=ids).select_related("operation")
            if task.finished_at
        ]

        noop_seconds = bench_celery.noop_seconds(worker, messages, timeout)
        if noop_seconds is None:
            print(f"no-op phase timed out after {timeout:.0f} s", file=sys.stderr)
            return 1
    finally:
        worker.stop()

    print(f"pipeline: {pipeline_seconds:.2f} s   {args.n / pipeline_seconds:.1f} ops/s   errors: {errors}")
    print(f"messages: {messages} ({messages / args.n:.1f} per operation)")
    print(f"latency:  median {statistics.median(latencies):.2f} s per operation (placed -> task DONE)")
    print(f"no-ops:   {messages} in {noop_seconds:.2f} s   {messages / noop_seconds:.1f} msg/s")
    print(f"ratio:    {pipeline_seconds / noop_seconds:.2f} (pipeline time / no-op time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
