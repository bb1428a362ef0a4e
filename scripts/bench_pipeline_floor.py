#!/usr/bin/env python
"""Experiment: the floor of the pipeline benchmark's ratio, on the configured database and broker.

The same shape as ``scripts/bench_pipeline.py`` (one worker, two prefork
processes; N chains of M messages, then as many no-op messages through the same
broker and workers), but each message does the least a pipeline step can do:
one guarded UPDATE of its row in autocommit (``step = k + 1 WHERE step = k``),
then publish the next message of its chain. No reads, no transactions, no
coreTasker. The ratio it prints is what one durable, guarded write per message
costs against raw messaging: the pipeline's ratio cannot go below it.

Usage: ``python scripts/bench_pipeline_floor.py --n 1000 --messages 15``. It
creates and drops its own table (``bench_floor``) and purges the four queues.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="chains (default 1000)")
    parser.add_argument("--messages", type=int, default=15, help="messages per chain (default 15, as create_vm)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait per phase (default 60 + n/2)")
    args = parser.parse_args()
    count_dir = ROOT / "var" / "bench"
    os.environ["BENCH_COUNT_DIR"] = str(count_dir)

    import django

    django.setup()
    from celery import current_app
    from django.conf import settings
    from django.db import connection

    from scripts import bench_celery
    from tasks.tests.worker import wait_for

    table = bench_celery.FLOOR_TABLE
    timeout = args.timeout or 60 + args.n / 2
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"broker:   {settings.CELERY_BROKER_URL.split('@')[-1]}")
    print(f"chains: {args.n} x {args.messages} messages, one guarded UPDATE each   worker: 1 x prefork, 2 processes")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, step INTEGER NOT NULL)")
        cursor.executemany(f"INSERT INTO {table} (id, step) VALUES (%s, 0)", [(i,) for i in range(args.n)])

    def steps_done() -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE step = %s", [args.messages])
            return cursor.fetchone()[0]

    worker = bench_celery.start_worker(count_dir)
    if worker is None:
        return 1
    try:
        started = time.monotonic()
        for i in range(args.n):
            body = [{"id": i, "step": 0, "last": args.messages}]
            current_app.send_task(bench_celery.FLOOR_STEP, args=body, argsrepr=repr(body), kwargsrepr="{}")
        if not wait_for(lambda: steps_done() == args.n, timeout=timeout, interval=0.2, worker=worker):
            print(f"timed out after {timeout:.0f} s", file=sys.stderr)
            return 1
        chain_seconds = time.monotonic() - started
        messages = args.n * args.messages

        noop_seconds = bench_celery.noop_seconds(worker, messages, timeout)
        if noop_seconds is None:
            print(f"no-op phase timed out after {timeout:.0f} s", file=sys.stderr)
            return 1
    finally:
        worker.stop()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")

    print(f"chains:   {messages} messages in {chain_seconds:.2f} s   {messages / chain_seconds:.1f} msg/s")
    print(f"no-ops:   {messages} in {noop_seconds:.2f} s   {messages / noop_seconds:.1f} msg/s")
    print(f"ratio:    {chain_seconds / noop_seconds:.2f} (one guarded UPDATE per message / no-op)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
