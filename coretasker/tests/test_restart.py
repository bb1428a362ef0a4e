"""Restart re-runs a failed workflow_task from its failed subtask, keeping what succeeded."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from common.errors import Conflict, Forbidden, InvalidInput
from common.transitions import IllegalTransition, transition
from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from coretasker.services import workflow_restart
from coretasker.transitions import WORKFLOW_SUBTASK, WORKFLOW_TASK
from simcloud.models import SimHost, SimVm

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def _failed_at_boot():
    answer = submit(make_request("create_vm", "vm-r", key="90:1", fail_at="boot_vm", **VM_SPEC))
    assert answer.status == AnswerStatus.ERROR
    return answer.workflow_task_id


def test_restart_continues_from_the_failed_subtask(ops_user, reports, eager):
    wf_id = _failed_at_boot()
    kept = {s.pk: (s.updated_at, s.result) for s in WorkflowSubtask.objects.filter(parent_id=wf_id, step__lt=3)}
    host = SimVm.objects.get(vm_id="vm-r").host
    used = SimHost.objects.get(pk=host.pk).cpu_used

    wf = eager(workflow_restart, workflow_task_id=wf_id, user=ops_user, reason="hypervisor fixed")

    wf.refresh_from_db()
    assert (wf.status, wf.restart, wf.progress, wf.error_msg, wf.is_valid) == (WorkflowStatus.DONE, 1, 100, "", True)
    assert "hypervisor fixed" in wf.task_info and "simulated_failure" in wf.task_info
    subtasks = {s.pk: s for s in WorkflowSubtask.objects.filter(parent_id=wf_id)}
    for pk, (updated_at, result) in kept.items():  # the DONE steps did not run again
        assert (subtasks[pk].updated_at, subtasks[pk].result) == (updated_at, result)
    assert {s.status for s in subtasks.values()} == {WorkflowStatus.DONE}
    assert SimVm.objects.get(vm_id="vm-r").state == "running"
    assert SimHost.objects.get(pk=host.pk).cpu_used == used  # the host was not allocated twice
    assert reports[-1].kind == "done" and reports[-1].idempotency_key == "90:1"


def test_restart_needs_the_permission_a_reason_and_a_failed_workflow(ops_user, django_user_model):
    wf_id = _failed_at_boot()
    clerk = django_user_model.objects.create_user("clerk", password="pw-for-tests")
    with pytest.raises(Forbidden):
        workflow_restart(workflow_task_id=wf_id, user=clerk, reason="try")
    with pytest.raises(Forbidden):
        workflow_restart(workflow_task_id=wf_id, user=AnonymousUser(), reason="try")
    with pytest.raises(InvalidInput) as no_reason:
        workflow_restart(workflow_task_id=wf_id, user=ops_user, reason="  ")
    assert no_reason.value.field == "reason"
    assert WorkflowTask.objects.get(pk=wf_id).restart == 0

    done = submit(make_request("create_pipe", "pipe-r", bandwidth_mbps=10)).workflow_task_id
    with pytest.raises(Conflict):
        workflow_restart(workflow_task_id=done, user=ops_user, reason="again")
    assert WorkflowTask.objects.get(pk=done).restart == 0


def test_restart_of_a_request_the_cloud_still_refuses_changes_nothing(ops_user):
    wf_id = submit(make_request("create_vm", "vm-q", **{**VM_SPEC, "cpu_type": "pentium_iii"})).workflow_task_id
    with pytest.raises(Conflict) as refused:
        workflow_restart(workflow_task_id=wf_id, user=ops_user, reason="try")
    assert "unknown_cpu_type" in refused.value.message
    assert WorkflowTask.objects.get(pk=wf_id).status == WorkflowStatus.ERROR


def test_illegal_transitions_are_refused_by_name():
    wf_id = submit(make_request("create_pipe", "pipe-t", bandwidth_mbps=10)).workflow_task_id
    with pytest.raises(IllegalTransition):
        transition(WorkflowTask, wf_id, table=WORKFLOW_TASK, to=WorkflowStatus.DOING)
    subtask = WorkflowSubtask.objects.get(parent_id=wf_id)
    with pytest.raises(IllegalTransition):
        transition(WorkflowSubtask, subtask.pk, table=WORKFLOW_SUBTASK, to=WorkflowStatus.NEW)
    assert WORKFLOW_TASK.allowed(WorkflowStatus.ERROR, WorkflowStatus.DOING)
    assert not WORKFLOW_TASK.allowed(WorkflowStatus.DONE, WorkflowStatus.ERROR)


def test_admin_restart_action_asks_for_a_reason_then_restarts(admin_client_logged_in, eager):
    wf_id = _failed_at_boot()
    url = reverse("admin:coretasker_workflowtask_changelist")
    form = {"action": "restart_workflow", "_selected_action": [wf_id]}

    page = admin_client_logged_in.post(url, form)
    assert page.status_code == 200 and b"reason" in page.content
    assert WorkflowTask.objects.get(pk=wf_id).restart == 0

    eager(admin_client_logged_in.post, url, {**form, "confirm": "yes", "reason": "disk array back"})
    wf = WorkflowTask.objects.get(pk=wf_id)
    assert (wf.status, wf.restart) == (WorkflowStatus.DONE, 1)
