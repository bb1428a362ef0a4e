"""The pipeline end to end in one process: operation -> task -> subtasks -> DONE."""

import pytest

from tasks import hooks
from tasks.models import (
    CloudTask,
    CloudTaskResourceLock,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)
from tasks.services import operation_place
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(monkeypatch):
    calls = []
    monkeypatch.setattr(hooks, "_task_finished", [lambda task_id, status: calls.append((task_id, status))])
    return calls


def place_vm(bus, cpu_type, vm_id="vm-1"):
    return bus.run(
        operation_place,
        customer_id="c1",
        task_type="create_vm",
        resource_type="vm",
        resource_id=vm_id,
        site_id="s1",
        params=vm_params(cpu_type, bandwidth_mbps=50),
    )


def test_create_vm_runs_every_step_in_group_order(bus, core, cpu_type, finished):
    operation = place_vm(bus, cpu_type)
    assert bus.names() == ["taskercenter.consume"]
    bus.drain()
    operation.refresh_from_db()
    task = CloudTask.objects.get(operation=operation)
    assert operation.task_status == OperationStatus.DONE
    assert task.status == TaskStatus.DONE
    subtasks = list(task.subtasks.order_by("step"))
    assert [(s.action, s.group, s.mode, s.status) for s in subtasks] == [
        ("create_vm", 1, "async", SubtaskStatus.DONE),
        ("start_vm", 2, "async", SubtaskStatus.DONE),
        ("set_bandwidth", 2, "sync", SubtaskStatus.DONE),
    ]
    assert all(s.attempts == 1 and s.progress == 100 and s.workflow_task_id for s in subtasks)
    # group 2 started only after group 1 finished
    assert subtasks[0].finished_at <= subtasks[1].started_at
    assert subtasks[2].params["bandwidth_mbps"] == 50
    assert not CloudTaskResourceLock.objects.exists()
    assert finished == [(task.pk, TaskStatus.DONE)]
    assert task.result["create_vm"]["ok"] is True


def test_every_message_delivered_twice_runs_each_step_once(bus, core, cpu_type, finished):
    operation = place_vm(bus, cpu_type)
    bus.drain(twice=True)
    task = CloudTask.objects.get(operation=operation)
    assert task.status == TaskStatus.DONE
    assert CloudTask.objects.count() == 1
    assert list(task.subtasks.values_list("attempts", flat=True)) == [1, 1, 1]
    from coretasker.models import WorkflowTask

    assert WorkflowTask.objects.count() == 3
    assert finished == [(task.pk, TaskStatus.DONE)]


@pytest.mark.parametrize(
    "task_type,resource_type,resource_id,params",
    [
        ("start_vm", "vm", "vm-1", {}),
        ("stop_vm", "vm", "vm-1", {}),
        ("reboot_vm", "vm", "vm-1", {}),
        ("resize_vm", "vm", "vm-1", "resize"),
        ("create_nic", "nic", "nic-1", {"vm_id": "vm-1"}),
        ("set_bandwidth", "vm", "vm-1", {"bandwidth_mbps": 10}),
        ("create_pipe", "pipe", "pipe-1", {"bandwidth_mbps": 10}),
        ("delete_vm", "vm", "vm-1", {}),
    ],
)
def test_each_flow_runs_to_done(bus, core, cpu_type, task_type, resource_type, resource_id, params):
    place_vm(bus, cpu_type)
    bus.drain()
    if params == "resize":
        params = {"cpu_type": cpu_type.code, "cpu": 4, "memory_gb": 8}
    operation = bus.run(
        operation_place,
        customer_id="c1",
        task_type=task_type,
        resource_type=resource_type,
        resource_id=resource_id,
        params=params,
    )
    bus.drain()
    operation.refresh_from_db()
    task = operation.task
    assert (operation.task_status, task.status) == (OperationStatus.DONE, TaskStatus.DONE), task.error_msg
    assert all(s == SubtaskStatus.DONE for s in task.subtasks.values_list("status", flat=True))


def test_delete_nic_after_create_nic(bus, core, cpu_type):
    place_vm(bus, cpu_type)
    for task_type, params in (("create_nic", {"vm_id": "vm-1"}), ("delete_nic", {})):
        bus.run(
            operation_place, customer_id="c1", task_type=task_type, resource_type="nic", resource_id="n1", params=params
        )
        bus.drain()
    assert list(ResUserOperation.objects.order_by("id").values_list("task_status", flat=True)) == ["DONE"] * 3


def test_a_duplicated_subtask_message_is_forwarded_not_run(bus, core, cpu_type):
    operation = place_vm(bus, cpu_type)
    bus.drain()
    subtask = CloudTaskSubtask.objects.filter(task__operation=operation).first()
    before = len(bus.sent)
    bus.deliver("taskconsumer.consume", {"subtask_id": subtask.pk, "type": "subtask"})
    assert bus.sent[before:] == [("taskdone.consume", {"subtask_id": subtask.pk, "type": "subtask"}, None)]
    subtask.refresh_from_db()
    assert subtask.attempts == 1


def test_a_suborders_only_listener_hears_only_of_the_tasks_of_a_sub_order(bus, core, cpu_type, monkeypatch):
    """The tasker says whether a finished task has a sub-order, so such a listener need not read the task."""
    everyone, suborders = [], []

    def hear_all(task_id, status):
        everyone.append((task_id, status))

    def hear_suborders(task_id, status):
        suborders.append((task_id, status))

    monkeypatch.setattr(hooks, "_task_finished", [])
    monkeypatch.setattr(hooks, "_suborders_only", set())
    hooks.register_task_finished(hear_all)
    hooks.register_task_finished(hear_suborders, suborders_only=True)
    plain = place_vm(bus, cpu_type, "vm-plain")
    ordered = bus.run(
        operation_place,
        customer_id="c1",
        task_type="create_vm",
        resource_type="vm",
        resource_id="vm-ordered",
        site_id="s1",
        params=vm_params(cpu_type),
        order_id=7,
        suborder_id=70,
    )
    # A third operation on a locked resource ends ERROR at once (the error path).
    blocked = bus.run(
        operation_place,
        customer_id="c1",
        task_type="start_vm",
        resource_type="vm",
        resource_id="vm-ordered",
        order_id=7,
        suborder_id=71,
    )
    bus.drain()
    tasks = {t.operation_id: t.pk for t in CloudTask.objects.all()}
    assert sorted(everyone) == sorted(
        [(tasks[plain.pk], TaskStatus.DONE), (tasks[ordered.pk], TaskStatus.DONE), (tasks[blocked.pk], "ERROR")]
    )
    assert sorted(suborders) == sorted([(tasks[ordered.pk], TaskStatus.DONE), (tasks[blocked.pk], "ERROR")])
    # A caller that does not know the sub-order tells every listener.
    hooks.notify_task_finished(tasks[plain.pk], TaskStatus.DONE)
    assert suborders[-1] == (tasks[plain.pk], TaskStatus.DONE)
