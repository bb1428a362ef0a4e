"""``resume_key``: a new attempt keeps the DONE steps of the failed attempt it resumes."""

import dataclasses

import pytest

from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from simcloud.models import SimHost, SimVm, VmState

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def test_a_resumed_attempt_keeps_the_finished_steps_and_runs_from_the_failed_one():
    failed = submit(make_request("create_vm", "vm-r", key="70:1", fail_at="boot_vm", **VM_SPEC))
    assert failed.status == AnswerStatus.ERROR and failed.error_code == "simulated_failure"
    used = SimHost.objects.get(pk=SimVm.objects.get(vm_id="vm-r").host_id).cpu_used

    request = make_request("create_vm", "vm-r", key="70:2", **VM_SPEC)
    answer = submit(dataclasses.replace(request, resume_key="70:1"))

    assert answer.status == AnswerStatus.DONE, answer
    vm = SimVm.objects.get(vm_id="vm-r")
    assert vm.state == VmState.RUNNING
    assert SimHost.objects.get(pk=vm.host_id).cpu_used == used  # allocated once
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert f"#{failed.workflow_task_id}" in wf.task_info and wf.restart == 0
    kept = WorkflowSubtask.objects.filter(parent=wf).order_by("step")
    old = {s.step: s.result for s in WorkflowSubtask.objects.filter(parent_id=failed.workflow_task_id)}
    assert [s.status for s in kept] == [WorkflowStatus.DONE] * 3
    assert [s.result for s in kept[:2]] == [old[1], old[2]]  # copied, not run again
    assert answer.result["disk_id"] == "disk-vm-r" and answer.result["state"] == "running"


def test_without_resume_key_a_new_attempt_starts_over_and_the_cloud_refuses_it():
    submit(make_request("create_vm", "vm-s", key="71:1", fail_at="boot_vm", **VM_SPEC))
    answer = submit(make_request("create_vm", "vm-s", key="71:2", **VM_SPEC))
    assert answer.status == AnswerStatus.ERROR and answer.error_code == "already_exists"


@pytest.mark.parametrize("resume_key", ["nope:1", "72:1"])
def test_a_resume_key_of_nothing_failed_is_ignored(resume_key):
    done = submit(make_request("create_pipe", "pipe-r", key="72:1", bandwidth_mbps=10))
    assert done.status == AnswerStatus.DONE
    request = make_request("set_bandwidth", "", key="73:1", resource_type="pipe", resource_id="pipe-r")
    answer = submit(dataclasses.replace(request, resume_key=resume_key))
    assert answer.status == AnswerStatus.DONE
    assert "resumes" not in WorkflowTask.objects.get(pk=answer.workflow_task_id).task_info
