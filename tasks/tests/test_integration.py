"""A real Celery worker (two prefork processes) on the configured broker and the test database.

coreTasker is the real one when ``coretasker.services.workflow_submit`` exists,
otherwise the stand-in of ``tasks/tests/corestub.py`` (loaded by the worker).
"""

import pytest
from django.db import connection

from coretasker.models import CpuTypeTpl
from tasks.models import CloudTask, CloudTaskErrorLog, OperationStatus, ResUserOperation, TaskStatus
from tasks.services import operation_place, task_retry
from tasks.tests import corestub
from tasks.tests.worker import Worker, purge_queues, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

if not corestub.real_coretasker_present():
    corestub.install()  # this process asks coreTasker for lookups too


@pytest.fixture
def worker(tmp_path):
    purge_queues()
    started = Worker(concurrency=2, log_path=tmp_path / "worker.log").start()
    yield started
    started.stop()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    print(log[-5000:])


@pytest.fixture
def cpu_code(db):
    row = CpuTypeTpl.objects.first() or CpuTypeTpl.objects.create(name="Test CPU", code="test_cpu")
    return row.code


def place(task_type, resource_type, resource_id, **params):
    return operation_place(
        customer_id="cust-it",
        task_type=task_type,
        resource_type=resource_type,
        resource_id=resource_id,
        site_id="cn-east-1",
        params=params,
    )


def finished(ids):
    statuses = list(ResUserOperation.objects.filter(pk__in=ids).values_list("task_status", flat=True))
    return len(statuses) == len(ids) and all(s in (OperationStatus.DONE, OperationStatus.ERROR) for s in statuses)


def errors_of(ids):
    return {
        op.pk: (op.task_status, op.error_msg)
        for op in ResUserOperation.objects.filter(pk__in=ids).exclude(task_status=OperationStatus.DONE)
    }


def worker_connection_ids() -> set[int]:
    """MariaDB: the ids of the other connections to the test database right now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()")
        return {row[0] for row in cursor.fetchall()}


def test_fifty_mixed_operations_reach_done(worker, cpu_code):
    vm = {"cpu_type": cpu_code, "cpu": 2, "memory_gb": 4, "disk_gb": 40}
    first = [place("create_vm", "vm", f"it-vm-{i}", bandwidth_mbps=100, **vm).pk for i in range(20)]
    first += [place("create_pipe", "pipe", f"it-pipe-{i}", bandwidth_mbps=50).pk for i in range(10)]
    seen: set[int] = set()

    def first_finished():
        if connection.vendor == "mysql":
            seen.update(worker_connection_ids())
        return finished(first)

    assert wait_for(first_finished, timeout=240, worker=worker), errors_of(first)
    if connection.vendor == "mysql":
        # Hundreds of messages ran; the worker's processes kept their connections
        # (a connection per message would show as a new id at almost every look).
        assert 1 <= len(seen) <= 4, seen
    assert errors_of(first) == {}
    second = [place("set_bandwidth", "vm", f"it-vm-{i}", bandwidth_mbps=200).pk for i in range(8)]
    second += [place("reboot_vm", "vm", f"it-vm-{i}").pk for i in range(8, 14)]
    second += [place("create_nic", "nic", f"it-nic-{i}", vm_id=f"it-vm-{i}").pk for i in range(14, 20)]
    assert len(first) + len(second) == 50
    assert wait_for(lambda: finished(second), timeout=240, worker=worker), errors_of(second)
    assert errors_of(second) == {}
    assert CloudTask.objects.filter(status=TaskStatus.DONE).count() == 50


def test_a_failing_step_ends_in_error_then_retry_reaches_done(worker, cpu_code):
    # start_vm on a VM that does not exist yet: coreTasker refuses every attempt.
    failing = place("start_vm", "vm", "it-late-vm")
    assert wait_for(lambda: finished([failing.pk]), timeout=120, worker=worker)
    task = CloudTask.objects.get(operation=failing)
    assert task.status == TaskStatus.ERROR
    logs = list(CloudTaskErrorLog.objects.filter(task=task).order_by("id"))
    assert [log.attempt for log in logs] == [1, 2, 3]  # the step's policy: three attempts
    assert all(log.subtask.action == "start_vm" and log.traceback == "" for log in logs)
    # The lock was released with the ERROR, so the VM can be made; then a person retries.
    created = place("create_vm", "vm", "it-late-vm", cpu_type=cpu_code, cpu=1, memory_gb=1, disk_gb=10)
    assert wait_for(lambda: finished([created.pk]), timeout=120, worker=worker)
    assert ResUserOperation.objects.get(pk=created.pk).task_status == OperationStatus.DONE
    task_retry(task_id=task.pk, user=None, reason="the VM exists now")
    assert wait_for(
        lambda: CloudTask.objects.get(pk=task.pk).status in (TaskStatus.DONE, TaskStatus.ERROR),
        timeout=120,
        worker=worker,
    )
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert ResUserOperation.objects.get(pk=failing.pk).task_status == OperationStatus.DONE
    assert CloudTaskErrorLog.objects.filter(task=task).count() == 3  # old logs kept


@pytest.mark.skipif(
    connection.vendor != "mysql", reason="SQLite serialises every writer: the lock race needs MariaDB's row locks"
)
def test_two_workers_racing_on_one_resource_leave_one_error_naming_the_holder(worker, cpu_code):
    vm = {"cpu_type": cpu_code, "cpu": 2, "memory_gb": 4, "disk_gb": 40}
    ids = [place("create_vm", "vm", "it-race", **vm).pk, place("create_vm", "vm", "it-race", **vm).pk]
    assert wait_for(lambda: finished(ids), timeout=120, worker=worker)
    tasks = {t.operation_id: t for t in CloudTask.objects.filter(operation_id__in=ids)}
    statuses = sorted(t.status for t in tasks.values())
    assert statuses == [TaskStatus.DONE, TaskStatus.ERROR]
    loser = next(t for t in tasks.values() if t.status == TaskStatus.ERROR)
    winner = next(t for t in tasks.values() if t.status == TaskStatus.DONE)
    assert loser.blocked_by_id == winner.pk
    assert f"task #{winner.pk}" in loser.error_logs.get().message
