"""A forced failure (``fail_at``) at every step, end to end through the real coreTasker and simulated cloud.

The pipeline's services run in-process (the ``bus`` fixture delivers their
messages), coreTasker is the real one with its own queue run eagerly, and the
driver is the simulated cloud. For each step of the flows below: the task ends
ERROR, its error log carries the cloud's refusal, the admin task page shows it,
and a person's retry reaches DONE (``fail_at`` applies to the first run only).
"""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from coretasker.models import WorkflowStatus, WorkflowTask
from opsplatform.celery import app as celery_app
from simcloud.models import SimNic, SimVm, VmState
from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, SubtaskStatus, TaskStatus
from tasks.services import operation_place, subtask_retry, task_retry
from tasks.services.operations import fail_at_names

from .conftest import vm_params

pytestmark = pytest.mark.django_db

SITE = "cn-east-1"
_ids = itertools.count(1)

#: Every step (coreTasker's plan steps of each flow action) a failure can be forced at.
STEPS = {
    "create_vm": ["allocate_host", "create_disk", "boot_vm", "start_vm", "set_bandwidth"],
    "delete_vm": ["detach_nics", "delete_disk", "release_host"],
    "resize_vm": ["stop_vm", "resize_vm", "start_vm"],
    "create_nic": ["allocate_address", "attach_nic"],
    "create_pipe": ["create_pipe", "set_bandwidth"],
}
CASES = [(flow, step) for flow, steps in STEPS.items() for step in steps]


@pytest.fixture
def pipeline(bus):
    """The bus for the tasker's queues; coreTasker's own queue runs eagerly in-process."""
    celery_app.conf.task_always_eager = True
    try:
        yield bus
    finally:
        celery_app.conf.task_always_eager = False


def place(pipeline, task_type, resource_type, resource_id, **params):
    operation = pipeline.run(
        operation_place,
        customer_id="cust-ff",
        task_type=task_type,
        resource_type=resource_type,
        resource_id=resource_id,
        site_id=SITE,
        params=params,
    )
    pipeline.drain(limit=200)
    return CloudTask.objects.get(operation=operation)


def make_vm(pipeline, cpu_type) -> str:
    vm_id = f"ff-vm-{next(_ids)}"
    assert place(pipeline, "create_vm", "vm", vm_id, **vm_params(cpu_type)).status == TaskStatus.DONE
    return vm_id


def arrange(pipeline, cpu_type, flow: str, step: str) -> tuple[str, str, dict]:
    """(resource type, resource id, params) of an operation of ``flow`` failing at ``step``."""
    n = next(_ids)
    if flow == "create_vm":
        return "vm", f"ff-vm-{n}", vm_params(cpu_type, bandwidth_mbps=100, fail_at=step)
    if flow == "create_pipe":
        return "pipe", f"ff-pipe-{n}", {"bandwidth_mbps": 50, "fail_at": step}
    vm_id = make_vm(pipeline, cpu_type)
    if flow == "create_nic":
        return "nic", f"ff-nic-{n}", {"vm_id": vm_id, "fail_at": step}
    if flow == "resize_vm":
        return "vm", vm_id, {"cpu_type": cpu_type.code, "cpu": 4, "memory_gb": 8, "fail_at": step}
    assert place(pipeline, "create_nic", "nic", f"ff-nic-{n}", vm_id=vm_id).status == TaskStatus.DONE
    return "vm", vm_id, {"fail_at": step}


def test_the_cases_cover_every_step_of_the_flows():
    for flow, steps in STEPS.items():
        reachable = {name for names in fail_at_names(flow).values() for name in names[1:]}
        assert reachable == set(steps), flow


@pytest.mark.parametrize(("flow", "step"), CASES)
def test_forced_failure_shows_on_the_task_page_then_retry_reaches_done(
    pipeline, cpu_type, admin_client_logged_in, flow, step
):
    resource_type, resource_id, params = arrange(pipeline, cpu_type, flow, step)
    task = place(pipeline, flow, resource_type, resource_id, **params)

    assert task.status == TaskStatus.ERROR
    failed = CloudTaskSubtask.objects.get(task=task, status=SubtaskStatus.ERROR)
    logs = list(CloudTaskErrorLog.objects.filter(task=task).order_by("id"))
    # The step's retry policy ran first: every automatic attempt failed the same way.
    assert [log.attempt for log in logs] == list(range(1, failed.max_attempts + 1))
    reason = f"failure requested at step {step} (fail_at)"
    for log in logs:
        assert log.subtask_id == failed.pk
        assert log.error_class == "CoreTasker:simulated_failure"
        assert reason in log.message
    assert reason in task.error_msg

    page = admin_client_logged_in.get(reverse("admin:tasks_cloudtask_change", args=[task.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "CoreTasker:simulated_failure" in html
    assert reason in html

    pipeline.run(task_retry, task_id=task.pk, user=None, reason="show the recovery")
    pipeline.drain(limit=200)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE, CloudTaskErrorLog.objects.filter(task=task).first()
    assert CloudTaskErrorLog.objects.filter(task=task).count() == len(logs)  # old logs kept
    failed.refresh_from_db()
    assert "fail_at" not in failed.params
    assert failed.attempts == len(logs) + 1
    # The retry resumed coreTasker's failed workflow: what had taken effect was kept, not redone.
    retried = WorkflowTask.objects.get(idempotency_key=f"{failed.pk}:{failed.attempts}")
    assert retried.status == WorkflowStatus.DONE
    assert f"{failed.pk}:{len(logs)}" in retried.task_info
    _assert_cloud_state(flow, resource_id, params)


def _assert_cloud_state(flow: str, resource_id: str, params: dict) -> None:
    if flow in ("create_vm", "resize_vm"):
        vm = SimVm.objects.get(vm_id=resource_id)
        assert vm.state == VmState.RUNNING
        assert (vm.cpu, vm.memory_gb) == (params["cpu"], params["memory_gb"])
    elif flow == "delete_vm":
        assert SimVm.objects.get(vm_id=resource_id).state == VmState.DELETED
    elif flow == "create_nic":
        assert SimNic.objects.get(nic_id=resource_id).state == "attached"


def test_subtask_retry_drops_the_forced_failure_and_keeps_the_finished_steps(pipeline, cpu_type, superuser):
    task = place(pipeline, "create_vm", "vm", "ff-vm-sub", **vm_params(cpu_type, fail_at=["boot_vm"]))
    failed = CloudTaskSubtask.objects.get(task=task, status=SubtaskStatus.ERROR)
    assert failed.action == "create_vm" and failed.params["fail_at"] == ["boot_vm"]
    first = WorkflowTask.objects.get(idempotency_key=f"{failed.pk}:1")
    host_before = SimVm.objects.get(vm_id="ff-vm-sub").host_id

    pipeline.run(subtask_retry, subtask_id=failed.pk, user=superuser, reason="again")
    pipeline.drain(limit=200)

    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    vm = SimVm.objects.get(vm_id="ff-vm-sub")
    assert vm.state == VmState.RUNNING and vm.host_id == host_before  # allocated once, not twice
    second = WorkflowTask.objects.get(idempotency_key=f"{failed.pk}:2")
    assert f"#{first.pk}" in second.task_info


def test_fail_at_only_reaches_the_subtasks_of_the_actions_it_names(pipeline, cpu_type):
    task = place(pipeline, "create_vm", "vm", "ff-vm-only", **vm_params(cpu_type, fail_at=["set_bandwidth"]))
    subtasks = {s.action: s for s in CloudTaskSubtask.objects.filter(task=task)}
    assert "fail_at" not in subtasks["create_vm"].params
    assert "fail_at" not in subtasks["start_vm"].params
    assert subtasks["set_bandwidth"].params["fail_at"] == ["set_bandwidth"]
    assert subtasks["start_vm"].status == SubtaskStatus.DONE
    assert subtasks["set_bandwidth"].status == SubtaskStatus.ERROR
