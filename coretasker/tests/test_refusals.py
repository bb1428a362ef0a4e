"""Every refusal of the simulated cloud ends as an ERROR carrying its code and message.

Sync requests answer it; async ones report it (kind="error") to the tasker's reporter.
"""

from dataclasses import replace

import pytest
from django.test import override_settings

from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from simcloud.models import SimHost, SimVm

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def _stopped_vm(vm_id):
    submit(make_request("create_vm", vm_id, **VM_SPEC))
    submit(make_request("stop_vm", vm_id))


def _half_built_vm(vm_id):
    submit(make_request("create_vm", vm_id, fail_at="create_disk", **VM_SPEC))


# refusal code -> a request that provokes it
CASES = {
    "unknown_cpu_type": lambda: make_request("create_vm", "vm-x", **{**VM_SPEC, "cpu_type": "pentium_iii"}),
    "unknown_site": lambda: make_request("create_vm", "vm-x", site_id="mars-1", **VM_SPEC),
    "invalid_spec": lambda: make_request("create_vm", "vm-x", **{**VM_SPEC, "cpu": 0}),
    "invalid_params": lambda: make_request("create_pipe", "pipe-x"),
    "no_capacity": lambda: make_request("create_vm", "vm-x", **{**VM_SPEC, "cpu": 65}),
    "already_exists": lambda: make_request("create_vm", "vm-baseline-1", **VM_SPEC),
    "not_found": lambda: make_request("delete_vm", "vm-never-made"),
    "not_found_nic": lambda: make_request("delete_nic", "nic-never-made"),
    "not_found_bandwidth": lambda: make_request("set_bandwidth", "pipe-nope", resource_type="pipe", bandwidth_mbps=5),
    "vm_not_stopped": lambda: make_request("resize_vm", "vm-baseline-1", cpu=4, memory_gb=8),
    "vm_not_running": lambda: (_stopped_vm("vm-s"), make_request("reboot_vm", "vm-s"))[1],
    "vm_not_ready": lambda: (_half_built_vm("vm-h"), make_request("start_vm", "vm-h"))[1],
    "simulated_failure": lambda: make_request("create_vm", "vm-x", fail_at="create_disk", **VM_SPEC),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sync_refusal_is_an_error_answer_with_code_and_message(case):
    code = case.split("_nic")[0].split("_bandwidth")[0]
    answer = submit(CASES[case]())

    assert answer.status == AnswerStatus.ERROR
    assert answer.error_code == code
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert wf.status == WorkflowStatus.ERROR
    assert wf.error_msg.startswith(f"{code}: ") and len(wf.error_msg) > len(code) + 10
    assert answer.error_msg == wf.error_msg
    assert wf.result["error"]["code"] == code


def test_no_capacity_is_refused_at_placement_and_takes_nothing():
    used = list(SimHost.objects.order_by("pk").values_list("cpu_used", "memory_gb_used"))
    answer = submit(make_request("create_vm", "vm-huge", **{**VM_SPEC, "cpu": 65}))
    assert answer.error_code == "no_capacity" and "cn-east-1" in answer.error_msg
    assert "step 1 allocate_host" in answer.error_msg
    assert list(SimHost.objects.order_by("pk").values_list("cpu_used", "memory_gb_used")) == used
    assert not SimVm.objects.filter(vm_id="vm-huge").exists()


def test_refusal_before_running_keeps_the_plan_unrun():
    answer = submit(CASES["unknown_cpu_type"]())
    assert "pentium_iii" in answer.error_msg
    statuses = set(WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id).values_list("status", flat=True))
    assert statuses == {WorkflowStatus.NEW}


@override_settings(SIMCLOUD_FAILURE_RATE=1.0)
def test_configured_failure_rate_fails_steps():
    answer = submit(make_request("create_pipe", "pipe-r", bandwidth_mbps=10))
    assert answer.error_code == "simulated_failure" and "SIMCLOUD_FAILURE_RATE" in answer.error_msg


def test_fail_at_the_action_name_fails_its_last_step_after_the_others_ran():
    answer = submit(make_request("create_vm", "vm-f", fail_at="create_vm", **VM_SPEC))
    assert answer.error_code == "simulated_failure" and "boot_vm" in answer.error_msg
    steps = WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id).order_by("step")
    assert [s.status for s in steps] == [WorkflowStatus.DONE, WorkflowStatus.DONE, WorkflowStatus.ERROR]
    assert SimVm.objects.get(vm_id="vm-f").state == "stopped"
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).is_valid is False  # half-built in the cloud


def test_a_refusal_before_anything_ran_leaves_the_workflow_valid():
    answer = submit(CASES["unknown_site"]())
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).is_valid is True


@pytest.mark.parametrize("case", ["unknown_cpu_type", "no_capacity", "not_found", "simulated_failure"])
def test_async_refusal_reaches_the_tasker(case, reports, eager):
    answer = eager(submit, replace(CASES[case](), mode="async"))
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert wf.status == WorkflowStatus.ERROR and wf.error_msg.startswith(f"{case}: ")
    if answer.status == AnswerStatus.ERROR:  # refused before anything ran: the answer says it
        assert answer.error_code == case and reports == []
    else:
        assert answer.status == AnswerStatus.ACCEPTED
        errors = [r for r in reports if r.kind == "error"]
        assert len(errors) == 1 and reports[-1] is errors[0]
        assert errors[0].error_code == case and errors[0].error_msg == wf.error_msg
        assert errors[0].idempotency_key == wf.idempotency_key
