"""One test (at least) per pipeline step, each called directly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coretasker import interface
from tasks.flows import FLOWS
from tasks.models import (
    CloudTask,
    CloudTaskErrorLog,
    CloudTaskResourceLock,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)
from tasks.services import (
    add_subtask,
    deal_with_result,
    do_async_subtask,
    do_prepare_subtask,
    do_subtask,
    finish_subtask,
    get_product_subtasks,
    operation_place,
    pre_produce_subtasks,
    process_action,
    process_operation_task,
    process_prepare_subtask,
    process_task_func,
    save_task,
    split_task,
    task_advance,
    taskdone_consume,
)
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def operation(bus, cpu_type):
    op = bus.run(
        operation_place,
        customer_id="c1",
        task_type="create_vm",
        resource_type="vm",
        resource_id="vm-1",
        site_id="s1",
        params=vm_params(cpu_type, bandwidth_mbps=20),
    )
    bus.outbox.clear()
    bus.sent.clear()
    return op


@pytest.fixture
def doing_task(bus, core, operation):
    task = bus.run(process_operation_task, operation_id=operation.pk)
    bus.sent.clear()
    bus.outbox.clear()
    return CloudTask.objects.get(pk=task.pk)


def subtask(task, step):
    return CloudTaskSubtask.objects.get(task=task, step=step)


# --- taskercenter ---------------------------------------------------------------------


def test_process_operation_task_locks_the_operation_and_starts_its_task(bus, core, operation):
    task = bus.run(process_operation_task, operation_id=operation.pk)
    operation.refresh_from_db()
    assert operation.task_status == OperationStatus.DOING
    assert task.status == TaskStatus.DOING
    assert bus.names() == ["taskconsumer.consume"]
    assert bus.run(process_operation_task, operation_id=operation.pk) is None  # redelivered: nothing more
    assert CloudTask.objects.count() == 1 and bus.names() == ["taskconsumer.consume"]


def test_process_operation_task_resumes_an_operation_left_in_lock(bus, core, operation):
    ResUserOperation.objects.filter(pk=operation.pk).update(task_status=OperationStatus.LOCK)
    task = bus.run(process_operation_task, operation_id=operation.pk)
    assert task.status == TaskStatus.DOING


def test_process_operation_task_ignores_a_missing_operation(bus):
    assert bus.run(process_operation_task, operation_id=999999) is None


def test_save_task_creates_one_new_task_per_operation(operation):
    ResUserOperation.objects.filter(pk=operation.pk).update(task_status=OperationStatus.LOCK)
    first = save_task(operation=operation)
    second = save_task(operation=operation)
    assert first.pk == second.pk and first.status == TaskStatus.NEW
    assert (first.task_type, first.resource_id, first.params) == ("create_vm", "vm-1", operation.params)


def test_process_task_func_splits_locks_and_starts(bus, operation):
    task = save_task(operation=operation)
    ResUserOperation.objects.filter(pk=operation.pk).update(task_status=OperationStatus.LOCK)
    assert bus.run(process_task_func, task_id=task.pk) == TaskStatus.DOING
    assert CloudTaskResourceLock.objects.get().task_id == task.pk
    assert task.subtasks.count() == 3
    assert bus.run(process_task_func, task_id=task.pk) == TaskStatus.DOING  # not NEW: left alone
    assert task.subtasks.count() == 3 and len(bus.sent) == 1


def test_process_task_func_on_a_locked_resource_fails_naming_the_holder(bus, core, operation, cpu_type):
    holder = bus.run(process_operation_task, operation_id=operation.pk)
    other = bus.run(
        operation_place, customer_id="c2", task_type="start_vm", resource_type="vm", resource_id="vm-1", params={}
    )
    blocked = bus.run(process_operation_task, operation_id=other.pk)
    blocked.refresh_from_db()
    other.refresh_from_db()
    assert blocked.status == TaskStatus.ERROR and blocked.blocked_by_id == holder.pk
    assert other.task_status == OperationStatus.ERROR
    log = CloudTaskErrorLog.objects.get(task=blocked)
    assert log.error_class == "ResourceLocked" and f"task #{holder.pk}" in log.message
    assert not blocked.subtasks.exists()
    assert CloudTaskResourceLock.objects.get().task_id == holder.pk


def test_split_task_and_add_subtask_follow_the_flow_once(operation):
    task = save_task(operation=operation)
    rows = split_task(task=task)
    assert [(r.step, r.group, r.action, r.mode, r.max_attempts) for r in rows] == [
        (n, s.group, s.action, s.mode, s.attempts) for n, s in enumerate(FLOWS["create_vm"].steps, start=1)
    ]
    assert [r.pk for r in split_task(task=task)] == [r.pk for r in rows]
    bandwidth = rows[2]
    assert bandwidth.params["resource_type"] == "vm" and bandwidth.params["resource_id"] == "vm-1"
    assert rows[0].params["vm_id"] == "vm-1" and rows[0].params["site_id"] == "s1"


def test_add_subtask_copies_the_step_policy(operation):
    task = save_task(operation=operation)
    row = add_subtask(task=task, number=1, step=FLOWS["start_vm"].steps[0])
    assert (row.status, row.timeout, row.backoff, row.max_attempts) == (SubtaskStatus.NEW, 300, 2, 3)


def test_get_product_subtasks_gives_each_group_once_in_order(doing_task):
    first, second, third = (subtask(doing_task, n) for n in (1, 2, 3))
    assert get_product_subtasks(task_id=doing_task.pk) == []  # group 1 was produced when the task started
    assert get_product_subtasks(task_id=doing_task.pk, resend=True) == [first.pk]
    CloudTaskSubtask.objects.filter(pk=first.pk).update(status=SubtaskStatus.DONE)
    assert sorted(get_product_subtasks(task_id=doing_task.pk)) == sorted([second.pk, third.pk])
    assert get_product_subtasks(task_id=doing_task.pk) == []
    CloudTaskSubtask.objects.filter(pk=second.pk).update(status=SubtaskStatus.ERROR)
    assert get_product_subtasks(task_id=doing_task.pk, resend=True) == []


def test_pre_produce_subtasks_sends_after_commit(bus, doing_task):
    CloudTaskSubtask.objects.filter(task=doing_task, step=1).update(status=SubtaskStatus.DONE)
    sent = bus.run(pre_produce_subtasks, task_id=doing_task.pk)
    assert sorted(body["subtask_id"] for _, body, _ in bus.sent) == sorted(sent) and len(sent) == 2


# --- taskconsumer ---------------------------------------------------------------------


def test_process_prepare_subtask_moves_new_to_prepare_with_a_deadline(doing_task):
    row = process_prepare_subtask(subtask_id=subtask(doing_task, 1).pk)
    assert row.status == SubtaskStatus.PREPARE and row.attempts == 1
    assert row.deadline - row.started_at == timedelta(seconds=row.timeout)
    assert process_prepare_subtask(subtask_id=row.pk) == "forward"


def test_process_prepare_subtask_does_not_run_subtasks_of_a_task_not_doing(doing_task):
    CloudTask.objects.filter(pk=doing_task.pk).update(status=TaskStatus.ERROR)
    assert process_prepare_subtask(subtask_id=subtask(doing_task, 1).pk) is None
    assert subtask(doing_task, 1).status == SubtaskStatus.NEW


def test_process_action_is_a_guarded_change(doing_task):
    row = subtask(doing_task, 1)
    assert process_action(subtask_id=row.pk, to=SubtaskStatus.PREPARE, progress=5)
    assert not process_action(subtask_id=row.pk, to=SubtaskStatus.PREPARE)
    assert not process_action(subtask_id=row.pk, to=SubtaskStatus.DONE)  # PREPARE -> DONE is no edge
    assert subtask(doing_task, 1).progress == 5


def test_do_prepare_subtask_runs_new_and_forwards_the_rest(bus, core, doing_task):
    row = subtask(doing_task, 1)
    assert bus.run(do_prepare_subtask, subtask_id=row.pk) == "ran"
    assert bus.run(do_prepare_subtask, subtask_id=row.pk) == "forwarded"
    assert ("taskdone.consume", {"subtask_id": row.pk, "type": "subtask"}, None) in bus.sent


def test_do_subtask_async_waits_in_async_with_the_workflow_task(bus, core, doing_task):
    core.AUTO_REPORT = False
    row = process_prepare_subtask(subtask_id=subtask(doing_task, 1).pk)
    assert bus.run(do_subtask, subtask=row) == "async"
    row.refresh_from_db()
    assert row.status == SubtaskStatus.ASYNC and row.workflow_task.idempotency_key == f"{row.pk}:1"


def test_do_subtask_sync_finishes_and_tells_taskdone(bus, core, doing_task):
    CloudTaskSubtask.objects.filter(task=doing_task, step__in=[1, 2]).update(status=SubtaskStatus.DONE)
    from coretasker.models import WorkflowStatus, WorkflowTask

    WorkflowTask.objects.create(
        target_type="vm", task_type="create_vm", target_obj="vm:vm-1", status=WorkflowStatus.DONE
    )
    row = process_prepare_subtask(subtask_id=subtask(doing_task, 3).pk)
    assert bus.run(do_subtask, subtask=row) == "done"
    row.refresh_from_db()
    assert row.status == SubtaskStatus.DONE and row.result["ok"] and row.progress == 100
    assert bus.sent[-1] == ("taskdone.consume", {"subtask_id": row.pk, "type": "subtask"}, None)


def test_do_subtask_exception_is_logged_with_its_traceback(bus, core, doing_task, monkeypatch):
    def broken(request):
        raise ConnectionError("coreTasker is down")

    monkeypatch.setattr(core, "workflow_submit", broken)
    import coretasker.services

    monkeypatch.setattr(coretasker.services, "workflow_submit", broken)
    row = process_prepare_subtask(subtask_id=subtask(doing_task, 1).pk)
    assert bus.run(do_subtask, subtask=row) == "error"  # create_vm: one attempt only
    log = CloudTaskErrorLog.objects.get(subtask=row)
    assert log.error_class == "ConnectionError" and "coreTasker is down" in log.message
    assert "Traceback" in log.traceback and log.attempt == 1 and log.step == 1
    assert "[do_subtask]" in log.message
    doing_task.refresh_from_db()
    assert doing_task.status == TaskStatus.ERROR
    assert ResUserOperation.objects.get(pk=doing_task.operation_id).task_status == OperationStatus.ERROR
    assert not CloudTaskResourceLock.objects.exists()


def _running(task, step, status=SubtaskStatus.DOING):
    row = process_prepare_subtask(subtask_id=subtask(task, step).pk)
    process_action(subtask_id=row.pk, to=status)
    row.refresh_from_db()
    return row


def test_deal_with_result_for_each_answer(bus, doing_task):
    row = _running(doing_task, 1, SubtaskStatus.ASYNC)
    accepted = interface.CoreAnswer(workflow_task_id=None, status=interface.AnswerStatus.ACCEPTED)
    assert bus.run(deal_with_result, subtask=row, answer=accepted) == "async"
    done = interface.CoreAnswer(workflow_task_id=None, status=interface.AnswerStatus.DONE, result={"ip": "10.0.0.1"})
    assert bus.run(deal_with_result, subtask=row, answer=done) == "done"
    assert subtask(doing_task, 1).result == {"ip": "10.0.0.1"}
    assert bus.run(deal_with_result, subtask=row, answer=done) == "stale"


def test_deal_with_result_error_applies_the_retry_policy(bus, doing_task):
    CloudTaskSubtask.objects.filter(task=doing_task, step=1).update(status=SubtaskStatus.DONE)
    row = _running(doing_task, 2, SubtaskStatus.ASYNC)  # start_vm: 3 attempts, backoff 2 s
    refused = interface.CoreAnswer(workflow_task_id=None, status="ERROR", error_code="busy", error_msg="host busy")
    assert bus.run(deal_with_result, subtask=row, answer=refused) == "retry"
    assert subtask(doing_task, 2).status == SubtaskStatus.NEW
    assert bus.sent[-1] == ("taskconsumer.consume", {"subtask_id": row.pk, "type": "subtask"}, 2)
    row = _running(doing_task, 2, SubtaskStatus.ASYNC)
    assert bus.run(deal_with_result, subtask=row, answer=refused) == "retry"
    assert bus.sent[-1][2] == 4  # backoff doubles
    row = _running(doing_task, 2, SubtaskStatus.ASYNC)
    assert bus.run(deal_with_result, subtask=row, answer=refused) == "error"
    assert subtask(doing_task, 2).status == SubtaskStatus.ERROR
    logs = list(CloudTaskErrorLog.objects.filter(subtask=row).order_by("id").values_list("attempt", "error_class"))
    assert logs == [(1, "CoreTasker:busy"), (2, "CoreTasker:busy"), (3, "CoreTasker:busy")]
    doing_task.refresh_from_db()
    assert doing_task.status == TaskStatus.ERROR and doing_task.error_msg == "host busy"


def test_finish_subtask_only_once(bus, doing_task):
    row = _running(doing_task, 1)
    assert bus.run(finish_subtask, subtask_id=row.pk, result={"a": 1})
    assert not bus.run(finish_subtask, subtask_id=row.pk, result={"a": 2})
    assert subtask(doing_task, 1).result == {"a": 1}


# --- taskdone ---------------------------------------------------------------------------


def report(row, kind, **extra):
    return {"idempotency_key": f"{row.pk}:{row.attempts}", "kind": kind, "workflow_task_id": None, **extra}


def test_do_async_subtask_progress_then_done_then_a_second_done(bus, doing_task):
    row = _running(doing_task, 1, SubtaskStatus.ASYNC)
    assert bus.run(do_async_subtask, report=report(row, "progress", progress=40)) == "progress"
    assert (subtask(doing_task, 1).status, subtask(doing_task, 1).progress) == (SubtaskStatus.DOING, 40)
    assert bus.run(do_async_subtask, report=report(row, "progress", progress=20)) == "progress"
    assert subtask(doing_task, 1).progress == 40  # never backwards
    assert bus.run(do_async_subtask, report=report(row, "done", result={"ok": 1})) == "done"
    assert subtask(doing_task, 1).status == SubtaskStatus.DONE
    assert sorted(b["subtask_id"] for n, b, _ in bus.sent if n == "taskconsumer.consume") == [
        subtask(doing_task, 2).pk,
        subtask(doing_task, 3).pk,
    ]
    assert bus.run(do_async_subtask, report=report(row, "done", result={"ok": 2})) == "ignored"
    assert bus.run(do_async_subtask, report=report(row, "error", error_msg="late")) == "ignored"
    assert subtask(doing_task, 1).result == {"ok": 1}


def test_do_async_subtask_ignores_reports_of_another_attempt_or_unreadable_keys(bus, doing_task):
    row = _running(doing_task, 1, SubtaskStatus.ASYNC)
    stale = {"idempotency_key": f"{row.pk}:{row.attempts + 5}", "kind": "done"}
    assert bus.run(do_async_subtask, report=stale) == "ignored"
    assert bus.run(do_async_subtask, report={"idempotency_key": "nonsense", "kind": "done"}) == "ignored"
    assert subtask(doing_task, 1).status == SubtaskStatus.ASYNC


def test_do_async_subtask_error_fails_the_task(bus, doing_task):
    row = _running(doing_task, 1, SubtaskStatus.ASYNC)
    assert bus.run(do_async_subtask, report=report(row, "error", error_code="no_capacity", error_msg="full")) == "error"
    assert CloudTaskErrorLog.objects.get(subtask=row).error_class == "CoreTasker:no_capacity"
    assert CloudTask.objects.get(pk=doing_task.pk).status == TaskStatus.ERROR


def test_task_advance_and_taskdone_consume(bus, doing_task, monkeypatch):
    from tasks import hooks

    heard = []
    monkeypatch.setattr(hooks, "_task_finished", [lambda *args: heard.append(args)])
    assert bus.run(task_advance, task_id=doing_task.pk) == "waiting"
    CloudTaskSubtask.objects.filter(task=doing_task).update(status=SubtaskStatus.DONE)
    assert bus.run(taskdone_consume, body={"task_id": doing_task.pk, "type": "task"}) == "finished"
    assert bus.run(task_advance, task_id=doing_task.pk) == "idle"
    assert heard == [(doing_task.pk, TaskStatus.DONE)]
    assert CloudTask.objects.get(pk=doing_task.pk).finished_at <= timezone.now()
    assert bus.run(taskdone_consume, body={"type": "mystery"}) == "unknown"
    assert bus.run(taskdone_consume, body={"subtask_id": 987654, "type": "subtask"}) == "missing"
