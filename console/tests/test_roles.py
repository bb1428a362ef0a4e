"""Roles: Ops, Finance and Auditor groups built from console/roles.py."""

import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from console import roles as roles_module
from console.roles import AUDITOR, FINANCE, OPS, permissions_resolve, roles_sync

pytestmark = pytest.mark.django_db

# The permission matrix: role x action permission -> allowed. The action permissions
# not declared on main yet are checked only once they exist (see test below).
MATRIX = {
    "tasks.retry_task": {OPS: True, FINANCE: False, AUDITOR: False},
    "tasks.retry_subtask": {OPS: True, FINANCE: False, AUDITOR: False},
    "tasks.cancel_task": {OPS: True, FINANCE: False, AUDITOR: False},
    "coretasker.restart_workflowtask": {OPS: True, FINANCE: False, AUDITOR: False},
    "orders.mark_renewal_valid": {OPS: True, FINANCE: False, AUDITOR: False},
    "orders.export_renewallog": {OPS: False, FINANCE: True, AUDITOR: False},
    "orders.credit_account": {OPS: False, FINANCE: True, AUDITOR: False},
    "billing.export_chargeline": {OPS: False, FINANCE: True, AUDITOR: False},
    "tasks.view_cloudtask": {OPS: True, FINANCE: True, AUDITOR: True},
    "tasks.view_cloudtaskerrorlog": {OPS: True, FINANCE: True, AUDITOR: True},
    "tasks.change_cloudtask": {OPS: False, FINANCE: False, AUDITOR: False},
    "coretasker.change_cputypetpl": {OPS: True, FINANCE: False, AUDITOR: False},
    "orders.view_shoprenewallog": {OPS: True, FINANCE: True, AUDITOR: True},
    "billing.change_billresourcesprice": {OPS: True, FINANCE: True, AUDITOR: False},
    "auth.view_user": {OPS: False, FINANCE: False, AUDITOR: True},
    "auth.change_user": {OPS: False, FINANCE: False, AUDITOR: False},
    "authtoken.view_token": {OPS: False, FINANCE: False, AUDITOR: False},
}


def existing_permissions():
    return {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }


def test_the_migration_created_the_three_groups():
    # No roles fixture here: the test database was built by the migrations alone.
    assert set(Group.objects.filter(name__in=[OPS, FINANCE, AUDITOR]).values_list("name", flat=True)) == {
        OPS,
        FINANCE,
        AUDITOR,
    }
    ops = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=OPS).permissions.all()}
    assert {"tasks.retry_subtask", "orders.mark_renewal_valid", "coretasker.restart_workflowtask"} <= ops


@pytest.mark.parametrize("permission", sorted(MATRIX))
@pytest.mark.parametrize("role", [OPS, FINANCE, AUDITOR])
def test_permission_matrix(user_in_role, role, permission):
    if permission not in existing_permissions():
        pytest.skip(f"{permission} is not declared by its app yet")
    user = user_in_role(role)
    assert user.has_perm(permission) is MATRIX[permission][role]


def test_auditor_can_only_view():
    roles_sync(group_model=Group, permission_model=Permission)
    codenames = Group.objects.get(name=AUDITOR).permissions.values_list("codename", flat=True)
    assert codenames and all(c.startswith("view_") for c in codenames)
    assert not Group.objects.get(name=AUDITOR).permissions.filter(content_type__app_label="authtoken").exists()


def test_every_view_permission_of_the_platform_apps_is_given_to_the_auditor():
    roles_sync(group_model=Group, permission_model=Permission)
    auditor = set(Group.objects.get(name=AUDITOR).permissions.values_list("pk", flat=True))
    views = Permission.objects.filter(
        codename__startswith="view_", content_type__app_label__in=["tasks", "orders", "billing", "coretasker"]
    )
    assert views.exists() and set(views.values_list("pk", flat=True)) <= auditor


def test_sync_is_idempotent_and_removes_what_the_list_does_not_grant():
    roles_sync(group_model=Group, permission_model=Permission)
    ops = Group.objects.get(name=OPS)
    stray = Permission.objects.get(content_type__app_label="auth", codename="delete_user")
    ops.permissions.add(stray)
    first = {r.name: r for r in roles_sync(group_model=Group, permission_model=Permission)}
    assert first[OPS].removed == ["auth.delete_user"] and first[OPS].added == []
    second = roles_sync(group_model=Group, permission_model=Permission)
    assert all(not r.added and not r.removed and not r.created for r in second)


def test_sync_creates_groups_that_were_deleted():
    Group.objects.filter(name=FINANCE).delete()
    reports = {r.name: r for r in roles_sync(group_model=Group, permission_model=Permission)}
    assert reports[FINANCE].created
    assert Group.objects.get(name=FINANCE).permissions.filter(codename="view_shoprenewallog").exists()


def test_resolve_exact_pattern_exclusion_and_missing():
    available = ["tasks.view_cloudtask", "tasks.view_cloudtasksubtask", "tasks.retry_subtask", "authtoken.view_token"]
    matched, missing = permissions_resolve(
        entries=["*.view_*", "-authtoken.*", "tasks.retry_subtask", "orders.credit_account", "billing.view_*"],
        available=available,
    )
    assert matched == {"tasks.view_cloudtask", "tasks.view_cloudtasksubtask", "tasks.retry_subtask"}
    assert missing == ["orders.credit_account", "billing.view_*"]


def test_command_reports_missing_codenames_and_strict_fails(monkeypatch):
    monkeypatch.setitem(roles_module.ROLES, OPS, (*roles_module.ROLES[OPS], "orders.no_such_permission"))
    out = io.StringIO()
    call_command("setup_roles", stdout=out)
    assert "Ops: orders.no_such_permission matches no permission yet, skipped" in out.getvalue()
    assert Group.objects.get(name=OPS).permissions.filter(codename="retry_subtask").exists()
    with pytest.raises(CommandError):
        call_command("setup_roles", "--strict", stdout=io.StringIO())


def test_command_twice_reports_up_to_date():
    call_command("setup_roles", stdout=io.StringIO())
    out = io.StringIO()
    call_command("setup_roles", stdout=out)
    assert out.getvalue().count("up to date") == 3
