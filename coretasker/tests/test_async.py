"""Asynchronous requests: ACCEPTED at once, then progress and the end reported after commit."""

from unittest import mock

import pytest
from django.test import override_settings

from coretasker import tasks
from coretasker.drivers.base import get_driver
from coretasker.interface import AnswerStatus, lookup, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from coretasker.services.execution import message_priority, run_inline
from simcloud.models import NicState, SimNic, SimVm

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def test_async_create_vm_reports_progress_then_done(reports, eager):
    answer = eager(submit, make_request("create_vm", "vm-a", mode="async", key="77:1", **VM_SPEC))

    assert answer.status == AnswerStatus.ACCEPTED and answer.result is None
    assert [(r.kind, r.progress) for r in reports] == [("progress", 33), ("progress", 66), ("done", 100)]
    assert {r.workflow_task_id for r in reports} == {answer.workflow_task_id}
    assert {r.idempotency_key for r in reports} == {"77:1"}
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert reports[-1].result == wf.result and wf.result["state"] == "running"
    assert (wf.status, wf.progress, wf.queue, wf.mode) == (WorkflowStatus.DONE, 100, "queue_coretasker", "async")
    assert len(wf.celery_task_id) == 36
    subtask_ids = set(WorkflowSubtask.objects.filter(parent=wf).values_list("celery_task_id", flat=True))
    assert len(subtask_ids) == 3 and "" not in subtask_ids and wf.celery_task_id not in subtask_ids
    assert lookup("77:1").status == AnswerStatus.DONE


def test_nothing_is_sent_or_reported_before_commit(reports, django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.run_workflow, "apply_async") as send:
        with django_capture_on_commit_callbacks(execute=False) as pending:
            answer = submit(make_request("create_vm", "vm-b", mode="async", pri=8, **VM_SPEC))
        send.assert_not_called()
        assert WorkflowTask.objects.get(pk=answer.workflow_task_id).status == WorkflowStatus.NEW
        for callback in pending:
            callback()
    send.assert_called_once()
    kwargs = send.call_args.kwargs
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert kwargs["args"] == [wf.pk] and kwargs["task_id"] == wf.celery_task_id and kwargs["priority"] == 8
    assert reports == []


def test_parallel_group_of_delete_vm_runs_and_releases_everything(reports, eager, sync_vm):
    host = SimVm.objects.get(vm_id=sync_vm).host
    used_before = (host.cpu_used, host.memory_gb_used)
    assert submit(make_request("create_nic", "nic-1", vm_id=sync_vm)).status == AnswerStatus.DONE
    answer = eager(submit, make_request("delete_vm", sync_vm, mode="async"))

    subtasks = list(WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id).order_by("step"))
    assert [(s.params["step"], s.group_id, s.is_last) for s in subtasks] == [
        ("detach_nics", 1, False),
        ("delete_disk", 1, False),
        ("release_host", 2, True),
    ]
    assert subtasks[2].result_key_id == subtasks[1].pk
    assert [r.kind for r in reports] == ["progress", "progress", "done"]
    assert SimVm.objects.get(vm_id=sync_vm).state == "deleted"
    assert SimNic.objects.get(nic_id="nic-1").state == NicState.DELETED
    host.refresh_from_db()
    assert (host.cpu_used, host.memory_gb_used) == (
        used_before[0] - VM_SPEC["cpu"],
        used_before[1] - VM_SPEC["memory_gb"],
    )
    assert subtasks[0].result["detached_nics"] == ["nic-1"]


def test_a_redelivered_subtask_message_runs_nothing_twice(reports, eager):
    answer = eager(submit, make_request("create_pipe", "pipe-a", mode="async", bandwidth_mbps=20))
    subtask = WorkflowSubtask.objects.get(parent_id=answer.workflow_task_id)
    count = len(reports)

    tasks.run_subtask.apply(args=[subtask.pk])
    tasks.run_workflow.apply(args=[answer.workflow_task_id])

    assert len(reports) == count
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).status == WorkflowStatus.DONE


def test_a_sync_repeat_of_a_running_request_is_accepted_and_then_reported(reports, eager):
    request = make_request("create_pipe", "pipe-b", bandwidth_mbps=20)
    with mock.patch("coretasker.services.submit.run_inline"):  # the first caller dies before running
        first = submit(request)
    assert first.status == AnswerStatus.ACCEPTED

    again = submit(request)

    assert again.status == AnswerStatus.ACCEPTED
    assert WorkflowTask.objects.get(pk=first.workflow_task_id).mode == "async"
    eager(run_inline, first.workflow_task_id)  # the run completes after all: the repeat hears of it
    assert [(r.kind, r.workflow_task_id) for r in reports] == [("done", first.workflow_task_id)]


def test_a_sync_repeat_arriving_during_the_inline_run_is_accepted_and_hears_the_end(reports, eager):
    request = make_request("create_vm", "vm-rep", key="78:1", **VM_SPEC)
    driver = get_driver()
    run_step, repeats = driver.run_step, []

    def repeat_midway(step, context):
        if step.name == "create_disk":  # the first call is between steps when the repeat comes
            repeats.append(submit(request))
        return run_step(step, context)

    with mock.patch.object(driver, "run_step", side_effect=repeat_midway):
        first = eager(submit, request)

    assert first.status == AnswerStatus.DONE and first.result["state"] == "running"
    assert [a.status for a in repeats] == [AnswerStatus.ACCEPTED]
    assert WorkflowTask.objects.get(pk=first.workflow_task_id).mode == "async"
    # The run read the switch under the workflow's lock: the repeat hears the rest.
    assert [(r.kind, r.progress) for r in reports] == [("progress", 66), ("done", 100)]
    assert reports[-1].result == first.result == lookup("78:1").result


@pytest.mark.parametrize(
    "broker,pri,expected",
    [("amqp://guest@localhost//", 9, 9), ("amqp://x//", 0, 0), ("redis://localhost/0", 9, 0), ("redis://h/1", 2, 7)],
)
def test_message_priority_follows_the_brokers_scale(broker, pri, expected):
    with override_settings(CELERY_BROKER_URL=broker):
        assert message_priority(pri) == expected
