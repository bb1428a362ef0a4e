"""The periodic jobs: deadlines and lost messages."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import (
    CloudTask,
    CloudTaskErrorLog,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)
from tasks.services import operation_place
from tasks.services.sweeper import pipeline_sweep_lost_messages, subtask_sweep_deadlines
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


def create_vm(bus, cpu_type, vm_id="vm-1"):
    return bus.run(
        operation_place,
        customer_id="c",
        task_type="create_vm",
        resource_type="vm",
        resource_id=vm_id,
        params=vm_params(cpu_type),
    )


def test_a_subtask_past_its_deadline_becomes_error_with_a_timeout_log(bus, core, cpu_type):
    core.AUTO_REPORT = False
    create_vm(bus, cpu_type)
    bus.drain()
    row = CloudTaskSubtask.objects.get(step=1)
    assert row.status == SubtaskStatus.ASYNC
    assert bus.run(subtask_sweep_deadlines) == 0  # not late yet
    assert bus.run(subtask_sweep_deadlines, now=row.deadline + timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert row.status == SubtaskStatus.ERROR
    log = CloudTaskErrorLog.objects.get(subtask=row)
    assert log.error_class == "SubtaskTimeout" and "deadline" in log.message
    assert CloudTask.objects.get().status == TaskStatus.ERROR
    assert ResUserOperation.objects.get().task_status == OperationStatus.ERROR
    assert bus.run(subtask_sweep_deadlines, now=row.deadline + timedelta(seconds=1)) == 0


def test_a_timed_out_step_with_attempts_left_is_not_retried_automatically(bus, core, cpu_type):
    core.AUTO_REPORT = False
    create_vm(bus, cpu_type)
    bus.drain()
    first = CloudTaskSubtask.objects.get(step=1)
    bus.run(core.complete, f"{first.pk}:1")
    bus.drain()
    start = CloudTaskSubtask.objects.get(step=2)  # start_vm: three attempts
    assert start.status == SubtaskStatus.ASYNC
    bus.run(subtask_sweep_deadlines, now=start.deadline + timedelta(seconds=1))
    start.refresh_from_db()
    assert start.status == SubtaskStatus.ERROR and start.attempts == 1


def test_lost_operation_messages_are_sent_again(bus, cpu_type):
    operation = create_vm(bus, cpu_type)
    bus.sent.clear()
    assert bus.run(pipeline_sweep_lost_messages)["operations"] == []  # fresh: maybe still queued
    later = timezone.now() + timedelta(minutes=5)
    found = bus.run(pipeline_sweep_lost_messages, now=later)
    assert found["operations"] == [operation.pk]
    assert bus.sent == [("taskercenter.consume", {"operation_id": operation.pk, "type": "operation"}, None)]


def test_a_task_whose_next_group_message_was_lost_is_nudged_and_moves_on(bus, core, cpu_type):
    create_vm(bus, cpu_type)
    bus.step(2)  # operation, then create_vm subtask; its report messages are "lost"
    bus.outbox.clear()
    row = CloudTaskSubtask.objects.get(step=1)
    CloudTaskSubtask.objects.filter(pk=row.pk).update(status=SubtaskStatus.DONE)  # as if the report came
    task = CloudTask.objects.get()
    later = timezone.now() + timedelta(minutes=5)
    assert bus.run(pipeline_sweep_lost_messages, now=later)["tasks"] == [task.pk]
    bus.drain()
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_tasks_with_running_or_failed_subtasks_are_not_nudged(bus, core, cpu_type):
    core.AUTO_REPORT = False
    create_vm(bus, cpu_type)
    bus.drain()
    later = timezone.now() + timedelta(minutes=5)
    assert bus.run(pipeline_sweep_lost_messages, now=later)["tasks"] == []
