"""Retry and cancel, as services and as admin actions."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from common.errors import Conflict, Forbidden, InvalidInput
from common.transitions import IllegalTransition
from tasks import hooks
from tasks.models import (
    CloudTask,
    CloudTaskActionLog,
    CloudTaskErrorLog,
    CloudTaskResourceLock,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskAction,
    TaskStatus,
)
from tasks.services import (
    AlreadyRetrying,
    CoreStillWorking,
    operation_place,
    subtask_retry,
    subtask_retry_preview,
    task_cancel,
    task_retry,
)
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


def place(bus, task_type="start_vm", resource_id="vm-1", params=None):
    return bus.run(
        operation_place,
        customer_id="c1",
        task_type=task_type,
        resource_type="vm",
        resource_id=resource_id,
        params=params or {},
    )


@pytest.fixture
def failed(bus, core):
    """A start_vm task that failed: the VM does not exist, all three attempts refused."""
    operation = place(bus)
    bus.drain()
    task = CloudTask.objects.get(operation=operation)
    assert task.status == TaskStatus.ERROR
    return task


@pytest.fixture
def make_vm(bus, core, cpu_type):
    def make(vm_id="vm-1"):
        place(bus, "create_vm", vm_id, vm_params(cpu_type))
        bus.drain()

    return make


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("ops", password="pw", is_staff=True)


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="tasks", codename__in=codenames))
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


def test_subtask_retry_reopens_the_task_and_reaches_done(bus, failed, make_vm, staff):
    row = failed.subtasks.get()
    assert row.attempts == 3 and CloudTaskErrorLog.objects.filter(task=failed).count() == 3
    make_vm()
    user = grant(staff, "retry_subtask")
    retried = bus.run(subtask_retry, subtask_id=row.pk, user=user, reason="VM created by hand")
    assert retried.status == SubtaskStatus.NEW and retried.max_attempts == 6
    failed.refresh_from_db()
    assert failed.status == TaskStatus.DOING
    assert ResUserOperation.objects.get(pk=failed.operation_id).task_status == OperationStatus.DOING
    assert CloudTaskResourceLock.objects.get(resource_id="vm-1").task_id == failed.pk  # re-taken
    log = CloudTaskActionLog.objects.get(task=failed)
    assert (log.action, log.user, log.reason, log.subtask_id) == (
        TaskAction.RETRY_SUBTASK,
        user,
        "VM created by hand",
        row.pk,
    )
    bus.drain()
    failed.refresh_from_db()
    assert failed.status == TaskStatus.DONE
    row.refresh_from_db()
    assert row.attempts == 4 and row.status == SubtaskStatus.DONE
    assert CloudTaskErrorLog.objects.filter(task=failed).count() == 3  # old logs kept
    assert not CloudTaskResourceLock.objects.exists()


def test_a_second_retry_click_changes_nothing(bus, failed):
    row = failed.subtasks.get()
    bus.run(subtask_retry, subtask_id=row.pk, user=None, reason="try again")
    sent = len(bus.sent)
    with pytest.raises(AlreadyRetrying, match="already being retried"):
        bus.run(subtask_retry, subtask_id=row.pk, user=None, reason="try again")
    with pytest.raises(AlreadyRetrying):
        bus.run(task_retry, task_id=failed.pk, user=None, reason="try again")
    assert len(bus.sent) == sent and CloudTaskActionLog.objects.count() == 1


def test_retry_needs_the_permission_and_a_reason(failed, staff):
    row = failed.subtasks.get()
    with pytest.raises(Forbidden):
        subtask_retry(subtask_id=row.pk, user=staff, reason="x")
    with pytest.raises(Forbidden):
        task_retry(task_id=failed.pk, user=staff, reason="x")
    with pytest.raises(Forbidden):
        task_cancel(task_id=failed.pk, user=staff, reason="x")
    with pytest.raises(InvalidInput) as missing:
        subtask_retry(subtask_id=row.pk, user=None, reason="  ")
    assert missing.value.field == "reason"
    assert CloudTask.objects.get(pk=failed.pk).status == TaskStatus.ERROR


def test_retrying_what_did_not_fail_is_a_conflict(bus, core, make_vm):
    make_vm()
    done = CloudTask.objects.get()
    with pytest.raises(IllegalTransition):
        subtask_retry(subtask_id=done.subtasks.first().pk, user=None, reason="x")
    with pytest.raises(IllegalTransition):
        task_retry(task_id=done.pk, user=None, reason="x")
    with pytest.raises(IllegalTransition):
        task_cancel(task_id=done.pk, user=None, reason="x")


def test_retry_is_refused_while_core_still_works_unless_forced(bus, core, cpu_type):
    core.AUTO_REPORT = False
    place(bus, "create_vm", "vm-9", vm_params(cpu_type))
    bus.drain()
    row = CloudTaskSubtask.objects.get(step=1)
    assert row.status == SubtaskStatus.ASYNC
    from datetime import timedelta

    from django.utils import timezone

    from tasks.services.sweeper import subtask_sweep_deadlines

    assert bus.run(subtask_sweep_deadlines, now=timezone.now() + timedelta(hours=1)) == 1
    preview = subtask_retry_preview(subtask_id=row.pk)
    assert preview["core"]["still_working"] is True and not preview["can_retry"]
    assert preview["next_key"] == f"{row.pk}:2" and preview["action"] == "create_vm"
    with pytest.raises(CoreStillWorking):
        subtask_retry(subtask_id=row.pk, user=None, reason="stuck")
    with pytest.raises(CoreStillWorking):
        task_retry(task_id=row.task_id, user=None, reason="stuck")
    bus.run(subtask_retry, subtask_id=row.pk, user=None, reason="coreTasker lost it", force=True)
    assert CloudTaskActionLog.objects.get().detail["force"] is True
    core.AUTO_REPORT = True
    bus.drain()
    assert CloudTask.objects.get().status == TaskStatus.DONE


def test_preview_of_a_failed_subtask(failed):
    preview = subtask_retry_preview(subtask_id=failed.subtasks.get().pk)
    assert preview["can_retry"] and preview["core"] == {
        "key": preview["next_key"].replace(":4", ":3"),
        "status": "ERROR",
        "still_working": False,
        "known": True,
        "workflow_task_id": preview["core"]["workflow_task_id"],
    }
    assert "does not exist" in preview["latest_error"]


def test_task_retry_of_a_lock_conflict_splits_and_runs(bus, core, cpu_type, make_vm):
    core.AUTO_REPORT = False
    place(bus, "create_vm", "vm-1", vm_params(cpu_type))
    place(bus, "start_vm", "vm-1")
    bus.drain()
    holder, blocked = CloudTask.objects.order_by("id")
    assert blocked.status == TaskStatus.ERROR and not blocked.subtasks.exists()
    with pytest.raises(Conflict, match=f"task #{holder.pk}"):
        task_retry(task_id=blocked.pk, user=None, reason="x")
    bus.run(core.complete, f"{holder.subtasks.get(step=1).pk}:1")
    bus.drain()
    for row in holder.subtasks.filter(status=SubtaskStatus.ASYNC):
        bus.run(core.complete, f"{row.pk}:1")
    bus.drain()
    assert CloudTask.objects.get(pk=holder.pk).status == TaskStatus.DONE
    core.AUTO_REPORT = True
    bus.run(task_retry, task_id=blocked.pk, user=None, reason="holder finished")
    bus.drain()
    blocked.refresh_from_db()
    assert blocked.status == TaskStatus.DONE and blocked.blocked_by is None and blocked.subtasks.count() == 1


def test_cancel_stops_queued_subtasks_and_releases_the_lock(bus, core, cpu_type, monkeypatch):
    heard = []
    monkeypatch.setattr(hooks, "_task_finished", [lambda *args: heard.append(args)])
    core.AUTO_REPORT = False
    place(bus, "create_vm", "vm-1", vm_params(cpu_type))
    bus.drain()
    task = CloudTask.objects.get()
    first = task.subtasks.get(step=1)
    bus.run(task_cancel, task_id=task.pk, user=None, reason="customer changed their mind")
    assert set(task.subtasks.values_list("status", flat=True)) == {SubtaskStatus.CANCELLED}
    assert ResUserOperation.objects.get().task_status == OperationStatus.CANCELLED
    assert not CloudTaskResourceLock.objects.exists()
    assert heard == [(task.pk, TaskStatus.CANCELLED)]
    bus.run(core.complete, f"{first.pk}:1")  # a late report changes nothing
    bus.drain()
    assert not CloudTaskSubtask.objects.exclude(status=SubtaskStatus.CANCELLED).exists()
    with pytest.raises(Conflict, match="already cancelled"):
        task_cancel(task_id=task.pk, user=None, reason="again")
    assert CloudTaskActionLog.objects.get().action == TaskAction.CANCEL_TASK


def test_admin_actions_retry_and_cancel(admin_client_logged_in, bus, failed, make_vm):
    client = admin_client_logged_in
    row = failed.subtasks.get()
    url = reverse("admin:tasks_cloudtasksubtask_changelist")
    page = client.post(url, {"action": "retry_subtask", "_selected_action": [row.pk]})
    assert b'name="reason"' in page.content  # the intermediate page asks for a reason
    assert CloudTaskSubtask.objects.get(pk=row.pk).status == SubtaskStatus.ERROR
    make_vm()
    with bus_capture(bus):
        client.post(url, {"action": "retry_subtask", "_selected_action": [row.pk], "confirm": "yes", "reason": "fixed"})
    assert CloudTaskSubtask.objects.get(pk=row.pk).status == SubtaskStatus.NEW
    assert CloudTaskActionLog.objects.get().reason == "fixed"
    response = client.post(
        url, {"action": "retry_subtask", "_selected_action": [row.pk], "confirm": "yes", "reason": "again"}, follow=True
    )
    assert "already being retried" in response.content.decode()
    task_url = reverse("admin:tasks_cloudtask_changelist")
    with bus_capture(bus):
        client.post(
            task_url, {"action": "cancel_task", "_selected_action": [failed.pk], "confirm": "yes", "reason": "no"}
        )
    assert CloudTask.objects.get(pk=failed.pk).status == TaskStatus.CANCELLED


def test_task_page_shows_subtasks_in_flow_order_with_latest_error(admin_client_logged_in, failed):
    page = admin_client_logged_in.get(reverse("admin:tasks_cloudtask_change", args=[failed.pk])).content.decode()
    assert "subtasks, in flow order" in page.lower()
    assert "does not exist" in page and "start_vm" in page
    sub_page = admin_client_logged_in.get(
        reverse("admin:tasks_cloudtasksubtask_change", args=[failed.subtasks.get().pk])
    ).content.decode()
    assert "Next attempt 4 runs start_vm again" in sub_page


class bus_capture:
    """Run the admin request's on-commit sends into the bus."""

    def __init__(self, bus):
        from django.test import TestCase

        self._cm = TestCase.captureOnCommitCallbacks(execute=True)

    def __enter__(self):
        return self._cm.__enter__()

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
