"""Start and stop a real Celery worker for the integration tests and the benchmark.

The worker runs ``tasks.tests.stub_worker`` (the project's Celery app, with
coreTasker's stand-in when the real coreTasker is absent) against the database
the caller uses and the configured broker. It is stopped by the process group of
the PID this module started, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
QUEUES = [
    settings.QUEUE_OPERATION_TASK,
    settings.QUEUE_SUBTASK,
    settings.QUEUE_TASKDONE,
    settings.QUEUE_CORETASKER,
]


def database_url() -> str:
    """A DATABASE_URL for the database this process is connected to (the test database in tests)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if connection.vendor == "mysql":
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"mysql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"
    raise RuntimeError(f"no worker support for {connection.vendor}")


def purge_queues() -> None:
    from celery import current_app

    with current_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            with contextlib.suppress(Exception):  # a queue never declared has nothing to purge
                channel.queue_purge(queue)


class Worker:
    def __init__(self, *, concurrency: int = 2, app: str = "tasks.tests.stub_worker", log_path: Path | None = None):
        self.concurrency = concurrency
        self.app = app
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "opsplatform.test_settings"),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PYTHONPATH": str(ROOT),
        }
        log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                self.app,
                "worker",
                "-Q",
                ",".join(QUEUES),
                "-c",
                str(self.concurrency),
                "--pool",
                "prefork",
                "-l",
                os.environ.get("BENCH_WORKER_LOGLEVEL", "warning"),
                "-n",
                f"itest-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # start_new_session: the group id is the PID we started
        try:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown: the main process stops its children
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # whatever of our group is left
        self.process.wait(timeout=10)


def wait_for(predicate, *, timeout: float, interval: float = 0.2, worker: Worker | None = None):
    """Poll ``predicate`` until it returns something true or ``timeout`` seconds pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker is not None and not worker.alive():
            raise RuntimeError("the worker died")
        time.sleep(interval)
    return predicate()
