"""A step and the record of its outcome are one transaction: they commit together or not at all.

And a workflow's start is guarded single statements, with no transaction.
"""

from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from coretasker import tasks
from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from coretasker.services import execution, subtask_run, workflow_start
from simcloud import inventory
from simcloud.models import SimHost, SimPipe, SimVm

from .conftest import VM_SPEC, make_request


def _cpu_used():
    return dict(SimHost.objects.values_list("hostname", "cpu_used"))


def _crash_after(step):
    """The simulated cloud's ``step``, which crashes after it has written its changes."""
    real = inventory.STEPS[step]

    def crash(params, inputs):
        real(params, inputs)
        raise RuntimeError("the cloud fell over")

    return mock.patch.dict(inventory.STEPS, {step: crash})


@pytest.mark.django_db
def test_a_step_that_crashes_after_writing_leaves_nothing_and_fails_its_workflow():
    used = _cpu_used()

    with _crash_after("allocate_host"):
        answer = submit(make_request("create_vm", "vm-crash", **VM_SPEC))

    assert (answer.status, answer.error_code) == (AnswerStatus.ERROR, "driver_error")
    assert "RuntimeError: the cloud fell over" in answer.error_msg
    assert not SimVm.objects.filter(vm_id="vm-crash").exists() and _cpu_used() == used
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.status, wf.is_valid) == (WorkflowStatus.ERROR, True)  # nothing took effect
    first = WorkflowSubtask.objects.get(parent=wf, step=1)
    assert (first.status, first.result["error"]["code"]) == (WorkflowStatus.ERROR, "driver_error")


@pytest.mark.django_db
def test_a_later_step_that_crashes_keeps_the_earlier_steps_and_marks_the_half_built_resource():
    with _crash_after("create_disk"):
        answer = submit(make_request("create_vm", "vm-half", **VM_SPEC))

    assert (answer.status, answer.error_code) == (AnswerStatus.ERROR, "driver_error")
    vm = SimVm.objects.get(vm_id="vm-half")
    assert (vm.state, vm.disk_id) == ("allocated", "")  # the host was allocated, the disk's writes undone
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.status, wf.is_valid) == (WorkflowStatus.ERROR, False)
    statuses = list(WorkflowSubtask.objects.filter(parent=wf).order_by("step").values_list("status", flat=True))
    assert statuses == [WorkflowStatus.DONE, WorkflowStatus.ERROR, WorkflowStatus.NEW]


@pytest.mark.django_db
def test_a_bookkeeping_error_after_the_step_undoes_the_step_and_is_not_recorded_as_its_failure(
    django_capture_on_commit_callbacks,
):
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(make_request("create_pipe", "pipe-book", mode="async", bandwidth_mbps=10))
        with django_capture_on_commit_callbacks(execute=True):
            workflow_start(workflow_task_id=answer.workflow_task_id)
        (subtask_id,) = [call.kwargs["args"][0] for call in sent.call_args_list]
        with (
            mock.patch.object(execution, "_lock_with_plan", side_effect=RuntimeError("lost the database")),
            pytest.raises(RuntimeError, match="lost the database"),
        ):
            subtask_run(subtask_id=subtask_id)

    assert not SimPipe.objects.filter(pipe_id="pipe-book").exists()
    subtask = WorkflowSubtask.objects.get(pk=subtask_id)
    assert (subtask.status, subtask.result) == (WorkflowStatus.DOING, None)  # started, nothing recorded
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).status == WorkflowStatus.DOING


def _transactions(fn, *args, **kwargs):
    with CaptureQueriesContext(connection) as captured:
        result = fn(*args, **kwargs)
    sqls = [query["sql"] for query in captured.captured_queries]
    return result, sum(1 for sql in sqls if sql == "COMMIT"), [sql for sql in sqls if "SAVEPOINT" in sql]


@pytest.mark.django_db(transaction=True)
def test_the_start_needs_no_transaction_and_each_step_commits_once_with_no_savepoint():
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(make_request("create_vm", "vm-once", mode="async", **VM_SPEC))
        # The start: guarded single statements, no transaction.
        assert _transactions(workflow_start, workflow_task_id=answer.workflow_task_id)[1:] == (0, [])
        assert sent.call_count == 1
        for _ in range(3):
            ran, commits, savepoints = _transactions(subtask_run, subtask_id=sent.call_args.kwargs["args"][0])
            assert (ran, commits, savepoints) == (True, 1, [])

    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).status == WorkflowStatus.DONE
    assert SimVm.objects.get(vm_id="vm-once").state == "running"


@pytest.mark.django_db
def test_a_start_that_died_before_queueing_its_first_group_is_finished_by_the_redelivery(
    django_capture_on_commit_callbacks, sync_vm
):
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(make_request("delete_vm", sync_vm, mode="async"))
        with (
            mock.patch.object(execution, "_queue_next_group", side_effect=RuntimeError("worker killed")),
            pytest.raises(RuntimeError),
        ):
            workflow_start(workflow_task_id=answer.workflow_task_id)
        wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
        assert (wf.status, wf.step, sent.call_count) == (WorkflowStatus.DOING, 1, 0)  # started, nothing queued

        for _ in range(2):  # redelivered, then redelivered again
            with django_capture_on_commit_callbacks(execute=True):
                workflow_start(workflow_task_id=answer.workflow_task_id)

    group_one = WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id, group_id=1).order_by("step")
    assert sorted(call.kwargs["args"][0] for call in sent.call_args_list) == [s.pk for s in group_one]
    assert [call.kwargs["task_id"] for call in sent.call_args_list] == [s.celery_task_id for s in group_one]


DEADLOCK = OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")


def _started_pipe(name, sent_patch, capture):
    """An async create_pipe workflow started, its one subtask queued: the subtask's id."""
    answer = submit(make_request("create_pipe", name, mode="async", bandwidth_mbps=10))
    with capture(execute=True):
        workflow_start(workflow_task_id=answer.workflow_task_id)
    (subtask_id,) = [call.kwargs["args"][0] for call in sent_patch.call_args_list]
    return answer.workflow_task_id, subtask_id


@pytest.mark.django_db
@pytest.mark.parametrize("where", ["record", "driver"])
def test_a_deadlock_victim_step_gives_its_claim_back_and_runs_once_when_its_message_comes_again(
    where, django_capture_on_commit_callbacks
):
    """A transient error rolls the step back whole: not the step's failure; the retried message runs it."""
    real_lock, real_step = execution._lock_with_plan, inventory.STEPS["create_pipe"]
    failures = [DEADLOCK]

    def once(real):
        def call(*args, **kwargs):
            if failures:
                if where == "driver":
                    real(*args, **kwargs)  # the cloud wrote its changes, then the database chose it as victim
                raise failures.pop()
            return real(*args, **kwargs)

        return call

    patches = (
        mock.patch.object(execution, "_lock_with_plan", once(real_lock))
        if where == "record"
        else mock.patch.dict(inventory.STEPS, {"create_pipe": once(real_step)})
    )
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        workflow_id, subtask_id = _started_pipe(f"pipe-{where}", sent, django_capture_on_commit_callbacks)
        with patches, django_capture_on_commit_callbacks(execute=True):
            result = tasks.run_subtask.apply(args=[subtask_id])  # eager: the retry runs at once

    assert result.successful() and not failures
    assert SimPipe.objects.filter(pipe_id=f"pipe-{where}").count() == 1
    assert WorkflowSubtask.objects.get(pk=subtask_id).status == WorkflowStatus.DONE
    assert WorkflowTask.objects.get(pk=workflow_id).status == WorkflowStatus.DONE


@pytest.mark.django_db
def test_a_deadlock_in_a_synchronous_step_is_still_the_steps_failure():
    """Inline, the caller (the tasker's retry policy) decides: the workflow ends ERROR, resumable."""
    real = inventory.STEPS["create_pipe"]

    def victim(params, inputs):
        real(params, inputs)
        raise DEADLOCK

    with mock.patch.dict(inventory.STEPS, {"create_pipe": victim}):
        answer = submit(make_request("create_pipe", "pipe-sync", bandwidth_mbps=10))
    assert (answer.status, answer.error_code) == (AnswerStatus.ERROR, "driver_error")
    assert not SimPipe.objects.filter(pipe_id="pipe-sync").exists()
