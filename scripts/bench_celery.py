"""The Celery app the pipeline benchmark's workers run (``celery -A scripts.bench_celery``).

The project's app, plus: coreTasker's stand-in when the real coreTasker is
absent or ``BENCH_CORE_STAND_IN`` is set, a count of every message published (one byte appended per message to
``$BENCH_COUNT_DIR/published``), and the no-op task the baseline sends.
"""

import os
from pathlib import Path

import django
from celery.signals import after_task_publish

from opsplatform.celery import app

django.setup()

from tasks.tests import corestub  # noqa: E402  (needs the app registry)

if os.environ.get("BENCH_CORE_STAND_IN") or not corestub.real_coretasker_present():
    corestub.install()

COUNT_DIR = Path(os.environ.get("BENCH_COUNT_DIR", "var/bench"))
NOOP = "taskconsumer.bench_noop"


_fds: dict[tuple[int, str], int] = {}


def _tick(name: str) -> None:
    # O_APPEND writes of one byte are atomic across processes: the file size is the count.
    # One descriptor per process and file, so a count costs one write, not open + write + close.
    key = (os.getpid(), name)
    fd = _fds.get(key)
    if fd is None:
        fd = _fds[key] = os.open(COUNT_DIR / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, b".")


@after_task_publish.connect
def count_published(sender=None, **kwargs):
    if sender != NOOP:
        _tick("published")


@app.task(name=NOOP)
def bench_noop():
    _tick("noop_done")


FLOOR_STEP = "taskconsumer.bench_floor_step"
FLOOR_TABLE = "bench_floor"


@app.task(name=FLOOR_STEP)
def bench_floor_step(body):
    """The floor experiment's step: one guarded UPDATE in autocommit, then the next message.

    A chain of ``body["last"]`` messages per row moves ``step`` 0 -> last, each
    message checking the step it expects in the same UPDATE, as a pipeline
    transition does; nothing else (scripts/bench_pipeline_floor.py).
    """
    from django.db import connection

    row, step, last = body["id"], body["step"], body["last"]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {FLOOR_TABLE} SET step = %s WHERE id = %s AND step = %s", [step + 1, row, step])
        moved = cursor.rowcount == 1
    if moved and step + 1 < last:
        args = [{"id": row, "step": step + 1, "last": last}]
        app.send_task(FLOOR_STEP, args=args, argsrepr=repr(args), kwargsrepr="{}")


def count(name: str) -> int:
    try:
        return (COUNT_DIR / name).stat().st_size
    except FileNotFoundError:
        return 0


def reset() -> None:
    COUNT_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("published", "noop_done"):
        # Emptied, not removed: running workers keep their descriptors to these files.
        with open(COUNT_DIR / name, "w"):
            pass


def start_worker(count_dir: Path):
    """Purge the four queues, start one worker (two prefork processes) and wait until a no-op ran.

    Returns the running worker, or ``None`` (stopped, the reason printed) when it did not start.
    Called by the benchmark scripts, never by the workers.
    """
    import sys

    from tasks.tests.worker import Worker, purge_queues, wait_for

    purge_queues()
    count_dir.mkdir(parents=True, exist_ok=True)
    reset()
    worker = Worker(concurrency=2, app="scripts.bench_celery", log_path=count_dir / "worker.log")
    worker.start()
    app.send_task(NOOP)
    if not wait_for(lambda: count("noop_done") >= 1, timeout=60, worker=worker):
        print("the worker did not start; see var/bench/worker.log", file=sys.stderr)
        worker.stop()
        return None
    reset()
    return worker


def noop_seconds(worker, messages: int, timeout: float) -> float | None:
    """Send ``messages`` no-ops through the broker and ``worker``; seconds until all ran (``None``: timed out)."""
    import time

    from tasks.tests.worker import wait_for

    started = time.monotonic()
    for _ in range(messages):
        app.send_task(NOOP)
    if not wait_for(lambda: count("noop_done") >= messages, timeout=timeout, interval=0.2, worker=worker):
        return None
    return time.monotonic() - started


__all__ = [
    "FLOOR_STEP",
    "FLOOR_TABLE",
    "app",
    "bench_floor_step",
    "bench_noop",
    "count",
    "noop_seconds",
    "reset",
    "start_worker",
]
