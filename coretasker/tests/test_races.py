"""Races that only row locks settle: run on MariaDB (SQLite serialises writers and ignores locks)."""

import threading
import time
from functools import partial
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings

from coretasker import tasks
from coretasker.drivers.base import Driver, PlanStep
from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from coretasker.services import execution, subtask_run, workflow_start
from simcloud.models import SimHost, SimPipe, SimVm

from .conftest import VM_SPEC, make_request

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.skipif(connection.vendor != "mysql", reason="row locks and concurrent writers need MariaDB"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 4


def _race(requests):
    """Submit each request from its own thread and connection, all at once; return the answers."""
    return _race_calls([partial(submit, request) for request in requests])


def _race_calls(calls):
    """Make each call from its own thread and connection, all at once; return what they returned."""
    barrier = threading.Barrier(len(calls), timeout=30)
    answers, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait()
            answers[index] = call()
        except Exception as exc:  # collected and re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit hung"
    assert errors == []
    return answers


def test_one_key_submitted_by_racing_consumers_makes_one_workflow_and_one_vm():
    request = make_request("create_vm", "vm-race", key="500:1", **VM_SPEC)

    answers = _race([request] * THREADS)

    assert WorkflowTask.objects.filter(idempotency_key="500:1").count() == 1
    wf = WorkflowTask.objects.get(idempotency_key="500:1")
    assert {a.workflow_task_id for a in answers} == {wf.pk}
    assert WorkflowSubtask.objects.filter(parent=wf).count() == 3
    assert SimVm.objects.filter(vm_id="vm-race").count() == 1
    assert AnswerStatus.DONE in {a.status for a in answers}
    assert {a.status for a in answers} <= {AnswerStatus.DONE, AnswerStatus.ACCEPTED}


def test_racing_placements_never_overbook_a_host():
    hosts = SimHost.objects.filter(site__site_id="cn-north-1").order_by("pk")
    only = hosts.first()
    hosts.exclude(pk=only.pk).update(enabled=False)
    SimHost.objects.filter(pk=only.pk).update(cpu_total=only.cpu_used + VM_SPEC["cpu"])  # room for exactly one

    answers = _race(
        [make_request("create_vm", f"vm-place-{n}", site_id="cn-north-1", **VM_SPEC) for n in range(THREADS)]
    )

    assert sorted(a.status for a in answers) == [AnswerStatus.DONE] + [AnswerStatus.ERROR] * (THREADS - 1)
    assert {a.error_code for a in answers if a.status == AnswerStatus.ERROR} == {"no_capacity"}
    only.refresh_from_db()
    assert only.cpu_used == only.cpu_total
    assert SimVm.objects.filter(vm_id__startswith="vm-place-").count() == 1


def _first_group_finishing_together(request):
    """Start ``request``'s workflow, run its first group's two subtasks at once, each holding its
    bookkeeping open after reading the plan: the next group (step 3) is queued once, by one of them."""
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(request)
        workflow_start(workflow_task_id=answer.workflow_task_id)
        group_one = [call.kwargs["args"][0] for call in sent.call_args_list]
        sent.reset_mock()
        lock_with_plan = execution._lock_with_plan

        def slow_lock_with_plan(*args, **kwargs):
            found = lock_with_plan(*args, **kwargs)
            time.sleep(0.3)
            return found

        with mock.patch.object(execution, "_lock_with_plan", side_effect=slow_lock_with_plan):
            ran = _race_calls([partial(subtask_run, subtask_id=pk) for pk in group_one])

    assert len(group_one) == 2 and ran == [True, True]
    third = WorkflowSubtask.objects.get(parent_id=answer.workflow_task_id, step=3)
    assert [call.kwargs["args"] for call in sent.call_args_list] == [[third.pk]]
    assert third.celery_task_id == sent.call_args.kwargs["task_id"]
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.status, wf.step, wf.progress) == (WorkflowStatus.DOING, 2, 66)


@override_settings(SIMCLOUD_ACTION_SECONDS=0.05)  # both start at once; the VM row, locked by each step, orders the rest
def test_parallel_subtasks_of_a_group_finishing_together_queue_the_next_group_once():
    assert submit(make_request("create_vm", "vm-par", **VM_SPEC)).status == AnswerStatus.DONE
    _first_group_finishing_together(make_request("delete_vm", "vm-par", mode="async"))


def test_one_subtask_delivered_twice_at_once_runs_its_step_once():
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(make_request("create_pipe", "pipe-twice", mode="async", bandwidth_mbps=10))
        workflow_start(workflow_task_id=answer.workflow_task_id)
        (subtask_id,) = [call.kwargs["args"][0] for call in sent.call_args_list]

        ran = _race_calls([partial(subtask_run, subtask_id=subtask_id)] * THREADS)

    assert sorted(ran, key=str) == [None] * (THREADS - 1) + [True]
    assert SimPipe.objects.filter(pipe_id="pipe-twice").count() == 1
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).status == WorkflowStatus.DONE


def test_a_start_delivered_several_times_at_once_queues_each_subtask_of_the_first_group_once():
    assert submit(make_request("create_vm", "vm-starts", **VM_SPEC)).status == AnswerStatus.DONE
    with (
        mock.patch.object(tasks.run_workflow, "apply_async"),
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
    ):
        answer = submit(make_request("delete_vm", "vm-starts", mode="async"))
        _race_calls([partial(workflow_start, workflow_task_id=answer.workflow_task_id)] * THREADS)

    group_one = list(WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id, group_id=1).order_by("step"))
    assert len(group_one) == 2
    assert sorted(call.kwargs["args"][0] for call in sent.call_args_list) == [s.pk for s in group_one]
    assert {call.kwargs["task_id"] for call in sent.call_args_list} == {s.celery_task_id for s in group_one}
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.status, wf.step) == (WorkflowStatus.DOING, 1)


class ParallelStubDriver(Driver):
    """Two parallel steps that share no row of the cloud (so nothing but coreTasker's lock orders them), then one."""

    name = "Parallel stub driver"

    def plan(self, action, params):
        return [PlanStep("left", 1, None, "a"), PlanStep("right", 1, None, "b"), PlanStep("join", 2, "right", "c")]

    def run_step(self, step, context):
        time.sleep(0.05)
        return {step.name: True, "device": f"stub-{step.name}"}


@override_settings(CORETASKER_DRIVER="coretasker.tests.test_races.ParallelStubDriver")
def test_parallel_steps_sharing_no_cloud_row_finishing_together_queue_the_next_group_once():
    _first_group_finishing_together(make_request("create_pipe", "pipe-par", mode="async"))
