"""Resource locks: a unique key taken by INSERT, released in every final state."""

import contextlib
import threading

import pytest
from django.db import connection, connections

from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskResourceLock, ResUserOperation, TaskStatus
from tasks.services import operation_place, process_operation_task, task_cancel, taskercenter
from tasks.services.locks import lock_acquire, lock_release

mariadb_only = pytest.mark.skipif(
    connection.vendor != "mysql", reason="SQLite ignores row locks and serialises writers: race tests need MariaDB"
)


def place(resource_id, task_type="start_vm"):
    return operation_place(customer_id="c", task_type=task_type, resource_type="vm", resource_id=resource_id)


@pytest.mark.django_db
def test_lock_is_per_resource_and_reentrant_for_its_holder():
    a = CloudTask.objects.create(task_type="start_vm", customer_id="c", resource_type="vm", resource_id="x")
    b = CloudTask.objects.create(task_type="start_vm", customer_id="c", resource_type="vm", resource_id="x")
    c = CloudTask.objects.create(task_type="start_vm", customer_id="c", resource_type="vm", resource_id="y")
    assert lock_acquire(task=a) is None
    assert lock_acquire(task=a) is None
    assert lock_acquire(task=b) == a.pk
    assert lock_acquire(task=c) is None
    assert lock_release(task_id=a.pk) and not lock_release(task_id=a.pk)
    assert lock_acquire(task=b) is None


@pytest.mark.django_db
def test_cancel_releases_the_lock(bus):
    operation = bus.run(place, "vm-1")
    task = bus.run(process_operation_task, operation_id=operation.pk)
    assert CloudTaskResourceLock.objects.filter(task=task).exists()
    task_cancel(task_id=task.pk, user=None, reason="x")
    assert not CloudTaskResourceLock.objects.exists()


def _run_in_threads(targets, timeout=30):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as exc:  # reported to the test below
                errors.append(exc)
            finally:
                connections.close_all()

        return run

    threads = [threading.Thread(target=wrap(fn)) for fn in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert errors == []


@mariadb_only
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_operations_on_one_resource_at_once_leave_one_doing_one_error(bus, monkeypatch, round_):
    ids = [place(f"race-{round_}").pk, place(f"race-{round_}").pk]
    barrier = threading.Barrier(2, timeout=10)
    original = taskercenter.split_task

    def slow_split(**kwargs):
        rows = original(**kwargs)
        threading.Event().wait(0.3)  # keep the lock's transaction open while the other worker tries
        return rows

    monkeypatch.setattr(taskercenter, "split_task", slow_split)

    def consume(pk):
        def run():
            barrier.wait()
            process_operation_task(operation_id=pk)

        return run

    _run_in_threads([consume(pk) for pk in ids])
    tasks = list(CloudTask.objects.filter(operation_id__in=ids))
    assert sorted(t.status for t in tasks) == [TaskStatus.DOING, TaskStatus.ERROR]
    winner = next(t for t in tasks if t.status == TaskStatus.DOING)
    loser = next(t for t in tasks if t.status == TaskStatus.ERROR)
    assert loser.blocked_by_id == winner.pk
    assert f"task #{winner.pk}" in CloudTaskErrorLog.objects.get(task=loser).message
    assert CloudTaskResourceLock.objects.get(resource_id=f"race-{round_}").task_id == winner.pk
    assert sorted(ResUserOperation.objects.filter(pk__in=ids).values_list("task_status", flat=True)) == [
        "DOING",
        "ERROR",
    ]


@mariadb_only
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_operations_on_different_resources_do_not_wait_on_each_other(bus, monkeypatch):
    slow, fast = place("vm-slow").pk, place("vm-fast").pk
    fast_done = threading.Event()
    original = taskercenter.split_task

    def split(**kwargs):
        rows = original(**kwargs)
        if kwargs["task"].resource_id == "vm-slow":
            # Holds its transaction (and its lock row) open until the other task has started.
            assert fast_done.wait(10), "the other resource's task waited on this one"
        return rows

    monkeypatch.setattr(taskercenter, "split_task", split)

    def run_fast():
        threading.Event().wait(0.2)
        process_operation_task(operation_id=fast)
        fast_done.set()

    _run_in_threads([lambda: process_operation_task(operation_id=slow), run_fast])
    assert set(CloudTask.objects.values_list("status", flat=True)) == {TaskStatus.DOING}


@mariadb_only
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_operation_message_start_one_task_once(bus):
    operation = place("vm-twice")
    bus.sent.clear()
    barrier = threading.Barrier(2, timeout=10)

    def consume():
        barrier.wait()
        process_operation_task(operation_id=operation.pk)

    _run_in_threads([consume, consume])
    task = CloudTask.objects.get(operation=operation)
    assert task.status == TaskStatus.DOING and task.subtasks.count() == 1
    assert [name for name, _body, _ in bus.sent] == ["taskconsumer.consume"]  # the first group sent once


@mariadb_only
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_subtask_message_run_it_once(bus, core, monkeypatch):
    from coretasker.models import WorkflowTask
    from tasks.services import do_prepare_subtask

    operation = place("vm-sub")
    task = process_operation_task(operation_id=operation.pk)
    row = task.subtasks.get()
    calls = []
    original = core.workflow_submit

    def counted(request):
        calls.append(request.idempotency_key)
        return original(request)

    import coretasker.services

    monkeypatch.setattr(coretasker.services, "workflow_submit", counted)
    barrier = threading.Barrier(2, timeout=10)
    outcomes = []

    def consume():
        barrier.wait()
        outcomes.append(do_prepare_subtask(subtask_id=row.pk))

    _run_in_threads([consume, consume])
    assert sorted(outcomes) == ["forwarded", "ran"]
    assert calls == [f"{row.pk}:1"]
    assert WorkflowTask.objects.filter(idempotency_key=f"{row.pk}:1").count() == 1


@mariadb_only
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_subtasks_of_a_group_finishing_at_once_finish_their_task(bus, core, cpu_type, monkeypatch):
    """Both reports of create_vm's second group land together: one of them finishes the task.

    Each advancer reads the task's subtasks inside the transaction that wrote its own
    DONE; read side by side, each would see the other unfinished and the task would
    wait for the sweeper. The task's row lock makes them take turns.
    """
    from tasks.models import CloudTaskSubtask, SubtaskStatus
    from tasks.services import do_async_subtask, process_prepare_subtask, taskdone
    from tasks.tests.conftest import vm_params

    operation = bus.run(
        operation_place,
        customer_id="c",
        task_type="create_vm",
        resource_type="vm",
        resource_id="vm-group",
        site_id="s1",
        params=vm_params(cpu_type, bandwidth_mbps=20),
    )
    task = bus.run(process_operation_task, operation_id=operation.pk)
    CloudTaskSubtask.objects.filter(task=task, step=1).update(status=SubtaskStatus.DONE, result={})
    CloudTask.objects.filter(pk=task.pk).update(current_group=2)
    rows = [
        process_prepare_subtask(subtask_id=pk, wait=True)
        for pk in CloudTaskSubtask.objects.filter(task=task, group=2).values_list("pk", flat=True)
    ]
    assert len(rows) == 2
    barrier = threading.Barrier(2, timeout=2)
    original = taskdone.task_rows

    def side_by_side(**kwargs):
        # Both advancers read together, unless one waits for the other's lock.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(**kwargs)

    monkeypatch.setattr(taskdone, "task_rows", side_by_side)

    def finish(row):
        key = f"{row.pk}:{row.attempts}"
        return lambda: bus.run(do_async_subtask, report={"idempotency_key": key, "kind": "done", "result": {}})

    _run_in_threads([finish(row) for row in rows])
    assert CloudTask.objects.get(pk=task.pk).status == TaskStatus.DONE
    assert ResUserOperation.objects.get(pk=operation.pk).task_status == "DONE"
