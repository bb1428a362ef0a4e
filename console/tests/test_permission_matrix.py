"""Role x admin action: the action shows and asks for confirmation, or is neither shown nor run.

The actions are the apps' own (registered on ``admin.site``); one not registered yet
is skipped with a reason, so the matrix grows as the apps land.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from console.roles import AUDITOR, FINANCE, OPS

pytestmark = pytest.mark.django_db


def _failed_renewal(make_renewal, make_task):
    return make_renewal()


def _failed_workflow(make_renewal, make_task):
    from coretasker.models import WorkflowTask

    return WorkflowTask.objects.create(target_type="vm", task_type="create_vm", status="ERROR")


def _failed_task(make_renewal, make_task):
    return make_task("ERROR", [("create_vm", "ERROR", 40)])


def _failed_subtask(make_renewal, make_task):
    return make_task("ERROR", [("create_vm", "ERROR", 40)]).subtasks.get()


# (app_label, model_name, action name, row factory, roles allowed)
ACTIONS = [
    ("orders", "shopsuborderrenewal", "mark_renewal_valid", _failed_renewal, {OPS}),
    ("coretasker", "workflowtask", "restart_workflow", _failed_workflow, {OPS}),
    ("tasks", "cloudtask", "retry_task", _failed_task, {OPS}),
    ("tasks", "cloudtask", "cancel_task", _failed_task, {OPS}),
    ("tasks", "cloudtasksubtask", "retry_subtask", _failed_subtask, {OPS}),
]
ROLES = [OPS, FINANCE, AUDITOR]


def _registered_action(app_label, model_name, action):
    from django.apps import apps

    model = apps.get_model(app_label, model_name)
    model_admin = admin.site._registry.get(model)
    names = {getattr(a, "__name__", a) for a in (model_admin.actions or [])} if model_admin else set()
    return model if action in names else None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "app_label,model_name,action,factory,allowed", ACTIONS, ids=[f"{a[1]}.{a[2]}" for a in ACTIONS]
)
def test_action_matrix(
    client, user_in_role, make_renewal, make_task, role, app_label, model_name, action, factory, allowed
):
    model = _registered_action(app_label, model_name, action)
    if model is None:
        pytest.skip(f"{app_label}.{model_name} has no action {action} yet")
    row = factory(make_renewal, make_task)
    before = model._default_manager.filter(pk=row.pk).values().get()
    client.force_login(user_in_role(role))
    changelist = reverse(f"admin:{app_label}_{model_name}_changelist")
    page = client.get(changelist).content.decode()
    shown = f'<option value="{action}">' in page
    first = client.post(changelist, {"action": action, "_selected_action": [row.pk], "index": "0"})
    asks = 'name="reason"' in first.content.decode()
    if role in allowed:
        assert shown and asks, f"{role} should be offered {action}"
        return
    assert not shown and not asks, f"{role} must not be offered {action}"
    client.post(changelist, {"action": action, "_selected_action": [row.pk], "confirm": "yes", "reason": "try"})
    assert model._default_manager.filter(pk=row.pk).values().get() == before
    assert not LogEntry.objects.filter(object_id=str(row.pk), content_type__model=model_name).exists()


@pytest.mark.parametrize("role,allowed", [(OPS, False), (FINANCE, True), (AUDITOR, False)])
def test_renewal_log_export_matrix(client, user_in_role, role, allowed):
    url = reverse("admin:orders_shoprenewallog_export")
    client.force_login(user_in_role(role))
    response = client.get(url)
    assert response.status_code == (200 if allowed else 403)
    listing = client.get(reverse("admin:orders_shoprenewallog_changelist")).content.decode()
    assert ("exportlink" in listing) is allowed


def test_retry_confirmation_shows_the_preview(client, user_in_role, make_task):
    """The tasker's retry preview (what runs again, coreTasker's state) beside the row, before the reason."""
    if _registered_action("tasks", "cloudtasksubtask", "retry_subtask") is None:
        pytest.skip("the tasker's retry_subtask action is not registered yet")
    subtask = make_task("ERROR", [("create_vm", "ERROR", 40)]).subtasks.get()
    client.force_login(user_in_role(OPS))
    page = client.post(
        reverse("admin:tasks_cloudtasksubtask_changelist"),
        {"action": "retry_subtask", "_selected_action": [subtask.pk], "index": "0"},
    ).content.decode()
    assert 'name="reason"' in page
    assert "Runs again" in page and "step 1 create_vm, attempt 2" in page
    assert "CoreTasker on the last attempt" in page and "Still working" in page
