"""Synchronous requests: one workflow_task per key, every field filled, plan recorded."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.errors import InvalidInput
from coretasker.interface import AnswerStatus, CoreRequest, lookup, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from simcloud.models import SimHost, SimVm, VmState

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def test_create_vm_runs_its_three_step_plan_and_fills_every_field():
    answer = submit(make_request("create_vm", "vm-1", key="41:1", pri=7, **VM_SPEC))

    assert answer.status == AnswerStatus.DONE
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    vm = SimVm.objects.select_related("host").get(vm_id="vm-1")
    assert vm.state == VmState.RUNNING and vm.disk_id == "disk-vm-1"
    assert answer.result["host"] == vm.host.hostname and answer.result["state"] == "running"
    assert (wf.target_type, wf.task_type, wf.target_obj) == ("vm", "create_vm", "vm-1")
    assert (wf.status, wf.progress, wf.step, wf.pri, wf.restart) == (WorkflowStatus.DONE, 100, 3, 7, 0)
    assert (wf.site_id, wf.site_name, wf.customer_id) == ("cn-east-1", "East China 1", "cust-1")
    assert wf.queue == "" and wf.mode == "sync" and wf.is_valid
    assert wf.run_dev == vm.host.hostname
    assert wf.params == {**VM_SPEC, "vm_id": "vm-1", "site_id": "cn-east-1", "customer_id": "cust-1"}
    assert "create_vm" in wf.task_info and "41:1" in wf.task_info and "Simulated cloud" in wf.task_info
    assert wf.result == answer.result and wf.error_msg == ""

    subtasks = list(WorkflowSubtask.objects.filter(parent=wf).order_by("step"))
    assert [s.params["step"] for s in subtasks] == ["allocate_host", "create_disk", "boot_vm"]
    assert [s.agent for s in subtasks] == ["sim-scheduler", "sim-storage", "sim-hypervisor"]
    assert [s.group_id for s in subtasks] == [1, 2, 3]
    assert [s.status for s in subtasks] == [WorkflowStatus.DONE] * 3
    assert [s.brother_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert [s.result_key_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert [s.is_last for s in subtasks] == [False, False, True]
    assert subtasks[0].result["host"] == vm.host.hostname


def test_same_idempotency_key_finds_the_existing_workflow_and_runs_nothing_again():
    first = submit(make_request("create_vm", "vm-2", key="42:1", **VM_SPEC))
    used = SimHost.objects.get(hostname=first.result["host"]).cpu_used
    counts = (WorkflowTask.objects.count(), WorkflowSubtask.objects.count(), SimVm.objects.count())

    again = submit(make_request("create_vm", "vm-2", key="42:1", **VM_SPEC))
    async_again = submit(make_request("create_vm", "vm-2", key="42:1", mode="async", **VM_SPEC))

    assert again == first and async_again == first
    assert (WorkflowTask.objects.count(), WorkflowSubtask.objects.count(), SimVm.objects.count()) == counts
    assert SimHost.objects.get(hostname=first.result["host"]).cpu_used == used
    assert lookup("42:1") == first
    assert lookup("never-seen:1") is None


def test_a_new_attempt_is_a_new_workflow():
    failed = submit(make_request("create_vm", "vm-3", key="43:1", fail_at="create_disk", **VM_SPEC))
    retried = submit(make_request("start_vm", "vm-3", key="43:2"))
    assert failed.status == AnswerStatus.ERROR
    assert retried.workflow_task_id != failed.workflow_task_id


@pytest.mark.parametrize(
    "change,field",
    [
        ({"action": "launch_rocket"}, "action"),
        ({"mode": "later"}, "mode"),
        ({"pri": 10}, "pri"),
        ({"pri": -1}, "pri"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"target_type": "spaceship"}, "target_type"),
        ({"params": ["not", "a", "dict"]}, "params"),
    ],
)
def test_malformed_requests_are_refused_and_write_nothing(change, field):
    fields = {**make_request("create_vm", "vm-4", **VM_SPEC).__dict__, **change}
    with pytest.raises(InvalidInput) as refused:
        submit(CoreRequest(**fields))
    assert refused.value.field == field
    assert not WorkflowTask.objects.exists() and not SimVm.objects.filter(vm_id="vm-4").exists()


def test_each_vm_action_moves_the_simulated_vm(sync_vm):
    assert submit(make_request("stop_vm", sync_vm)).status == AnswerStatus.DONE
    assert submit(make_request("resize_vm", sync_vm, cpu=4, memory_gb=8)).status == AnswerStatus.DONE
    assert submit(make_request("start_vm", sync_vm)).status == AnswerStatus.DONE
    reboot = submit(make_request("reboot_vm", sync_vm))
    state = submit(make_request("query_state", sync_vm, resource_type="vm"))
    assert reboot.result["rebooted"] is True
    assert (state.result["state"], state.result["cpu"], state.result["memory_gb"]) == ("running", 4, 8)
    assert WorkflowTask.objects.get(pk=state.workflow_task_id).target_type == "action"


def test_the_site_name_is_read_once_by_the_validation(sync_vm):
    with CaptureQueriesContext(connection) as captured:
        answer = submit(make_request("set_bandwidth", sync_vm, resource_type="vm", bandwidth_mbps=10))

    assert answer.status == AnswerStatus.DONE
    assert WorkflowTask.objects.get(pk=answer.workflow_task_id).site_name == "East China 1"
    quote = connection.ops.quote_name
    read_again = f"SELECT {quote('sim_site')}.{quote('name')}"  # the validation read the VM with its site
    assert not [q["sql"] for q in captured.captured_queries if q["sql"].startswith(read_again)]
