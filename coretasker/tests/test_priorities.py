"""Priorities for real: on RabbitMQ a high-priority workflow overtakes a backlog of low ones.

Low-priority requests are queued while no worker consumes; then one high-priority
request; then one worker starts with concurrency 1 and prefetch 1. The high one
must finish before most of the low ones. Needs RabbitMQ (queue priorities) and
MariaDB (the worker, another process, shares the test database).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowTask
from opsplatform.celery import app as celery_app

from .conftest import make_request

LOW = 20

pytestmark = [
    pytest.mark.integration,
    pytest.mark.mariadb,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("amqp"), reason="queue priorities need RabbitMQ"),
    pytest.mark.skipif(connection.vendor != "mysql", reason="the worker process needs a shared MariaDB database"),
    pytest.mark.django_db(transaction=True),
]


def _purge_coretasker_queue():
    queue = next(q for q in settings.CELERY_TASK_QUEUES if q.name == settings.QUEUE_CORETASKER)
    with celery_app.connection_for_write() as conn:
        bound = queue(conn.default_channel)
        bound.declare()
        bound.purge()


@pytest.fixture
def start_worker(tmp_path):
    started = []

    def start():
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "opsplatform.test_settings",
            "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{connection.settings_dict['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "SIMCLOUD_ACTION_SECONDS": "0",
        }
        log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (closed in the finalizer)
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "opsplatform",
                "worker",
                "-Q",
                settings.QUEUE_CORETASKER,
                "-P",
                "solo",
                "-c",
                "1",
                "--prefetch-multiplier",
                "1",
                "-n",
                f"prio-test-{os.getpid()}@%h",
                "-l",
                "info",
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def test_high_priority_overtakes_a_backlog_of_low_priority(start_worker, tmp_path):
    _purge_coretasker_queue()
    low = [
        submit(make_request("create_pipe", f"pipe-low-{n}", mode="async", pri=0, bandwidth_mbps=10)) for n in range(LOW)
    ]
    high = submit(make_request("create_pipe", "pipe-high", mode="async", pri=9, bandwidth_mbps=10))
    assert {a.status for a in [*low, high]} == {AnswerStatus.ACCEPTED}
    ids = [a.workflow_task_id for a in [*low, high]]

    start_worker()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if WorkflowTask.objects.filter(pk__in=ids, status=WorkflowStatus.DONE).count() == len(ids):
            break
        time.sleep(0.25)
    else:
        pytest.fail("the worker did not finish in 90 s:\n" + (tmp_path / "worker.log").read_text()[-3000:])

    finished = list(WorkflowTask.objects.filter(pk__in=ids).order_by("updated_at", "pk").values_list("pk", flat=True))
    rank = finished.index(high.workflow_task_id)
    print(f"high-priority workflow finished {rank + 1} of {len(finished)}")
    assert rank < LOW // 4, f"the high-priority workflow finished {rank + 1} of {len(finished)}"
