"""The three roles of the console, built on Django's own permissions (auth_permission).

This module is the one place where a role's permissions are written down. Each
entry is ``"app_label.codename"``; an entry may use shell wildcards
(``"tasks.view_*"``) to mean every matching permission that exists when the roles
are synchronised, and an entry starting with ``-`` takes matches away again. An
exact codename that does not exist yet (another app has not declared it) is
reported as missing and skipped, so the roles can be set up before and after that
app lands, and pick it up on the next run.

State changes go through the admin actions, which call the services; so the
roles grant ``view_*`` on the operational tables plus the action permissions,
and ``change_*`` only on the reference data a role keeps by hand (CPU types,
prices).

Applied by the data migration ``console/migrations/0001_roles.py`` and by the
idempotent command ``manage.py setup_roles`` (run by ``make run``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

OPS = "Ops"
FINANCE = "Finance"
AUDITOR = "Auditor"

ROLES: dict[str, tuple[str, ...]] = {
    # 运维: watch tasks move, read error logs, retry / cancel / restart, fix failed
    # renewals, keep CPU type templates and prices.
    OPS: (
        "tasks.view_*",
        "tasks.retry_task",
        "tasks.retry_subtask",
        "tasks.cancel_task",
        "coretasker.view_*",
        "coretasker.restart_workflowtask",
        "coretasker.add_cputypetpl",
        "coretasker.change_cputypetpl",
        "coretasker.delete_cputypetpl",
        "orders.view_shoporder",
        "orders.view_shopsuborder",
        "orders.view_shopsuborderrenewal",
        "orders.view_shoprenewallog",
        "orders.mark_renewal_valid",
        "billing.view_billingitemtype",
        "billing.view_billresourcesprice",
        "billing.add_billresourcesprice",
        "billing.change_billresourcesprice",
        "django_celery_beat.view_*",
    ),
    # 财务: orders, renewals and their log, billing and accounts, exports; tasks read-only.
    FINANCE: (
        "orders.view_*",
        "orders.export_renewallog",
        "orders.credit_account",
        "billing.view_*",
        "billing.add_billingitemtype",
        "billing.change_billingitemtype",
        "billing.add_billresourcesprice",
        "billing.change_billresourcesprice",
        "billing.export_chargeline",
        "tasks.view_*",
    ),
    # Everything, read-only; but not API tokens or sessions, which are credentials.
    AUDITOR: ("*.view_*", "-authtoken.*", "-sessions.*"),
}


@dataclass
class RoleReport:
    """What synchronising one role did."""

    name: str
    created: bool = False
    granted: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def is_pattern(entry: str) -> bool:
    return any(char in entry for char in "*?[")


def permissions_resolve(*, entries: Iterable[str], available: Iterable[str]) -> tuple[set[str], list[str]]:
    """Match a role's entries against the existing ``app_label.codename`` names.

    Entries apply in order; ``-entry`` removes what it matches. Returns the
    matched names and, in entry order, the entries that matched nothing (a
    missing exact codename, or a pattern without a match).
    """
    available = set(available)
    matched: set[str] = set()
    missing: list[str] = []
    for entry in entries:
        if entry.startswith("-"):
            matched -= {name for name in matched if fnmatch.fnmatchcase(name, entry[1:])}
            continue
        if is_pattern(entry):
            found = {name for name in available if fnmatch.fnmatchcase(name, entry)}
        else:
            found = {entry} & available
        if not found:
            missing.append(entry)
        matched |= found
    return matched, missing


def roles_sync(*, group_model, permission_model, roles: dict[str, tuple[str, ...]] | None = None) -> list[RoleReport]:
    """Make each role's group hold exactly the permissions its entries resolve to.

    Idempotent: a second run changes nothing. Creates missing groups, adds and
    removes permissions so that the group matches this module, and reports
    entries that match no permission yet. Takes the model classes so the data
    migration can pass its historical models.
    """
    roles = ROLES if roles is None else roles
    by_name = {
        f"{app_label}.{codename}": pk
        for pk, app_label, codename in permission_model.objects.values_list("pk", "content_type__app_label", "codename")
    }
    reports = []
    for name, entries in roles.items():
        group, created = group_model.objects.get_or_create(name=name)
        matched, missing = permissions_resolve(entries=entries, available=by_name)
        current = {
            f"{app_label}.{codename}"
            for app_label, codename in group.permissions.values_list("content_type__app_label", "codename")
        }
        group.permissions.set([by_name[perm] for perm in matched])
        reports.append(
            RoleReport(
                name=name,
                created=created,
                granted=len(matched),
                added=sorted(matched - current),
                removed=sorted(current - matched),
                missing=missing,
            )
        )
    return reports
