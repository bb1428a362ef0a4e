"""The pipeline's per-message steps run the few statements they are meant to, with the same outcomes.

Each message costs its statements: these tests pin the count of the hot paths
(transaction control not counted), so that a change which adds a query to every
message is noticed. The behaviour itself is tested in test_steps.py.
"""

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from common.sql import insert
from coretasker import interface
from coretasker.models import WorkflowTask
from tasks.models import CloudTask, CloudTaskResourceLock, CloudTaskSubtask, SubtaskStatus, TaskStatus
from tasks.services import (
    deal_with_result,
    do_async_subtask,
    get_product_subtasks,
    operation_place,
    process_operation_task,
    process_prepare_subtask,
    task_advance,
)
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class Statements(CaptureQueriesContext):
    """The statements run inside the block, transaction control left out."""

    def __init__(self):
        super().__init__(connection)

    @property
    def sql(self):
        return [q["sql"] for q in self.captured_queries if not q["sql"].startswith(CONTROL)]


@pytest.fixture
def task(bus, core, cpu_type):
    operation = bus.run(
        operation_place,
        customer_id="c1",
        task_type="create_vm",
        resource_type="vm",
        resource_id="vm-1",
        site_id="s1",
        params=vm_params(cpu_type, bandwidth_mbps=20),
    )
    task = bus.run(process_operation_task, operation_id=operation.pk)
    bus.sent.clear()
    bus.outbox.clear()
    return CloudTask.objects.get(pk=task.pk)


def step(task, number):
    return CloudTaskSubtask.objects.get(task=task, step=number)


def test_starting_an_operation_is_six_statements_and_no_savepoint(bus, core, cpu_type):
    operation = bus.run(
        operation_place, customer_id="c1", task_type="start_vm", resource_type="vm", resource_id="vm-2", params={}
    )
    with CaptureQueriesContext(connection) as run:
        task = bus.run(process_operation_task, operation_id=operation.pk)
    sql = [q["sql"] for q in run.captured_queries]
    statements = [text for text in sql if not text.startswith(CONTROL)]
    # The operation NEW -> LOCK -> DOING in one guarded UPDATE, its columns read; the task, its lock
    # and its subtasks inserted; the task NEW -> DOING.
    assert [text.split()[0] for text in statements] == ["UPDATE", "SELECT", "INSERT", "INSERT", "INSERT", "UPDATE"]
    if connection.vendor in ("mysql", "sqlite"):  # a refused lock INSERT would undo only itself there
        lock = next(i for i, text in enumerate(sql) if "INSERT INTO" in text and "resource_lock" in text)
        assert not sql[lock - 1].startswith("SAVEPOINT") and not sql[lock + 1].startswith("RELEASE SAVEPOINT")
    operation.refresh_from_db()
    assert (task.status, CloudTask.objects.get(pk=task.pk).status, operation.task_status) == ("DOING", "DOING", "DOING")
    assert CloudTaskResourceLock.objects.get().task_id == task.pk


def test_a_refused_lock_without_a_savepoint_still_fails_the_task_naming_the_holder(bus, core, task):
    other = bus.run(
        operation_place, customer_id="c2", task_type="start_vm", resource_type="vm", resource_id="vm-1", params={}
    )
    with CaptureQueriesContext(connection) as run:
        blocked = bus.run(process_operation_task, operation_id=other.pk)
    sql = [q["sql"] for q in run.captured_queries]
    holder = next(i for i, text in enumerate(sql) if text and text.startswith("SELECT") and "resource_lock" in text)
    # Just before the read of the holder: the refused INSERT (logged as "None" on MySQL: a failed
    # statement has no executed SQL to show).
    assert sql[holder - 1] == "None" or "resource_lock" in sql[holder - 1]
    if connection.vendor in ("mysql", "sqlite"):
        # Run bare: no savepoint taken before it, none rolled back after it; the transaction went on.
        assert sql[holder - 2].startswith("INSERT INTO") and "cloud_task" in sql[holder - 2]
    blocked = CloudTask.objects.get(pk=blocked.pk)
    other.refresh_from_db()
    assert (blocked.status, blocked.blocked_by_id, other.task_status) == (TaskStatus.ERROR, task.pk, "ERROR")
    assert f"task #{task.pk}" in blocked.error_logs.get().message
    assert not blocked.subtasks.exists()
    assert CloudTaskResourceLock.objects.get().task_id == task.pk


def test_preparing_a_subtask_to_wait_is_one_read_and_one_guarded_update(task):
    first = step(task, 1).pk
    with Statements() as run:
        row = process_prepare_subtask(subtask_id=first, wait=True)
    assert len(run.sql) == 2 and run.sql[1].startswith("UPDATE")
    assert (row.status, row.attempts, row.task.resource_id, row.task.site_id) == (SubtaskStatus.ASYNC, 1, "vm-1", "s1")
    stored = step(task, 1)
    assert (stored.status, stored.attempts, stored.deadline) == (SubtaskStatus.ASYNC, 1, row.deadline)
    # A second message finds it past NEW and is passed on, whatever the state it waits in.
    assert process_prepare_subtask(subtask_id=row.pk, wait=True) == "forward"


def test_a_sync_subtask_waits_in_doing(task):
    CloudTaskSubtask.objects.filter(task=task, step__in=[1, 2]).update(status=SubtaskStatus.DONE)
    row = process_prepare_subtask(subtask_id=step(task, 3).pk, wait=True)
    assert row.status == step(task, 3).status == SubtaskStatus.DOING


def test_a_late_acceptance_does_not_relink_a_newer_attempt(bus, task):
    row = process_prepare_subtask(subtask_id=step(task, 1).pk, wait=True)
    CloudTaskSubtask.objects.filter(pk=row.pk).update(attempts=2)  # retried meanwhile

    old = WorkflowTask.objects.create(target_type="vm", task_type="create_vm", target_obj="vm:vm-1")
    accepted = interface.CoreAnswer(workflow_task_id=old.pk, status=interface.AnswerStatus.ACCEPTED)
    assert bus.run(deal_with_result, subtask=row, answer=accepted) == "async"
    assert step(task, 1).workflow_task_id is None


def report(row, kind, **extra):
    return {"idempotency_key": f"{row.pk}:{row.attempts}", "kind": kind, "workflow_task_id": None, **extra}


def test_reports_write_first_and_read_only_when_nothing_was_written(bus, task):
    row = process_prepare_subtask(subtask_id=step(task, 1).pk, wait=True)
    with Statements() as first:
        assert bus.run(do_async_subtask, report=report(row, "progress", progress=30)) == "progress"
    with Statements() as second:
        assert bus.run(do_async_subtask, report=report(row, "progress", progress=60)) == "progress"
    with Statements() as same:
        assert bus.run(do_async_subtask, report=report(row, "progress", progress=60)) == "progress"
    assert (len(first.sql), len(second.sql), len(same.sql)) == (1, 2, 3)
    assert (step(task, 1).status, step(task, 1).progress) == (SubtaskStatus.DOING, 60)
    with Statements() as done:
        assert bus.run(do_async_subtask, report=report(row, "done", result={"ok": 1})) == "done"
    # DONE, the task's row lock, every subtask of the task with its state, the next group's turn.
    assert len(done.sql) == 4
    assert sorted(body["subtask_id"] for name, body, _ in bus.sent if name == "taskconsumer.consume") == [
        step(task, 2).pk,
        step(task, 3).pk,
    ]


def test_a_report_of_an_old_attempt_changes_nothing(bus, task):
    row = process_prepare_subtask(subtask_id=step(task, 1).pk, wait=True)
    old = {"idempotency_key": f"{row.pk}:{row.attempts - 1}", "workflow_task_id": None}
    for kind in ("progress", "done", "error"):
        assert bus.run(do_async_subtask, report={**old, "kind": kind, "progress": 50}) == "ignored"
    assert (step(task, 1).status, step(task, 1).progress) == (SubtaskStatus.ASYNC, 0)
    assert CloudTask.objects.get(pk=task.pk).status == TaskStatus.DOING


def test_a_group_already_produced_is_not_produced_again_nor_written(task):
    rows = list(CloudTaskSubtask.objects.filter(task=task).values_list("id", "group", "status"))
    with Statements() as run:
        assert get_product_subtasks(task_id=task.pk, rows=rows, current_group=1) == []
    assert run.sql == []
    assert get_product_subtasks(task_id=task.pk, rows=rows, current_group=1, resend=True) == [step(task, 1).pk]
    first = step(task, 1).pk
    with Statements() as advance:
        assert task_advance(subtask_id=first) == "waiting"
    assert len(advance.sql) == 2  # the task's row lock, then its subtasks


def test_the_last_report_finishes_the_task_its_operation_and_its_lock(bus, task):
    from orders.services import order_task_finished
    from tasks import hooks

    # The listeners registered by the apps hear of it after the commit, inside the count below:
    # the orders app's, for a task without a sub-order, is not even called.
    assert order_task_finished in hooks._task_finished
    CloudTaskSubtask.objects.filter(task=task, step__in=[1, 3]).update(status=SubtaskStatus.DONE, result={"a": 1})
    CloudTask.objects.filter(pk=task.pk).update(current_group=2)
    row = process_prepare_subtask(subtask_id=step(task, 2).pk, wait=True)
    with Statements() as done:
        assert bus.run(do_async_subtask, report=report(row, "done", result={"b": 2})) == "done"
    # DONE, the task's row lock, its subtasks, then task, operation and resource lock; nothing after the commit.
    assert len(done.sql) == 6
    finished = CloudTask.objects.get(pk=task.pk)
    assert finished.status == TaskStatus.DONE
    assert finished.result == {"create_vm": {"a": 1}, "start_vm": {"b": 2}, "set_bandwidth": {"a": 1}}
    assert not CloudTaskResourceLock.objects.exists()


def test_insert_saves_rows_as_save_would(task):
    rows = [
        CloudTaskSubtask(task=task, step=10 + n, action="start_vm", params={"n": n}, status=SubtaskStatus.NEW)
        for n in range(3)
    ]
    with Statements() as run:
        insert(rows)
    assert len(run.sql) == (1 if connection.features.can_return_rows_from_bulk_insert else 3)
    for row in rows:
        stored = CloudTaskSubtask.objects.get(pk=row.pk)
        assert (stored.step, stored.params, stored.created_at) == (row.step, row.params, row.created_at)
        assert not row._state.adding


def test_insert_of_one_row_leaves_a_model_with_save_listeners_to_save(task):
    """One row is what ``save()`` would write, signals included; several, what ``bulk_create()`` would."""
    heard = []

    def listener(sender, instance, created, **kwargs):
        heard.append((instance.pk, created))

    post_save.connect(listener, sender=CloudTaskSubtask)
    try:
        rows = [CloudTaskSubtask(task=task, step=20, action="start_vm"), CloudTaskSubtask(task=task, step=21)]
        insert(rows)
        single = CloudTaskSubtask(task=task, step=22, action="start_vm")
        insert([single])
    finally:
        post_save.disconnect(listener, sender=CloudTaskSubtask)
    assert all(row.pk for row in rows)
    assert heard == [(single.pk, True)]
