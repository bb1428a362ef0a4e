"""State-changing admin actions: confirm with a reason, run a service per row, report per row.

Usage in a ModelAdmin (which also mixes in :class:`ActionPermissionsMixin`)::

    actions = [
        confirmed_action(
            name="retry_subtask",
            description=_("Retry subtask"),
            permission="retry_subtask",
            run=lambda obj, user, reason: subtask_retry(subtask_id=obj.pk, user=user, reason=reason),
        )
    ]

The first POST shows an intermediate page listing the rows and asking for a
reason; the confirming POST calls ``run`` for each row. ``run`` returns a short
note (or ``None``) when it changed the row and raises a
:class:`common.errors.DomainError` to skip it with a reason. Each change is
written to Django's admin log with the reason, and every row gets a line in the
report (done, or skipped and why). Services are expected to be idempotent, so a
double click skips the rows the first click already handled.

Two optional keywords:

- ``preview(obj) -> Mapping | str | None``: shown beside each row on the
  confirmation page (for instance what a retry would run again);
- ``force_label``: adds a checkbox with this label; ``run`` is then called as
  ``run(obj, user, reason, force=<bool>)``, for services that refuse a risky
  change unless forced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .errors import DomainError

Runner = Callable[..., str | None]
Previewer = Callable[[Any], Mapping[str, Any] | str | None]

# Rows listed on the confirmation page and lines of per-row report; past these, a count.
SHOWN_ROWS = 100
REPORTED_ROWS = 20


class ActionPermissionsMixin:
    """Resolves ``allowed_permissions = ("retry_subtask",)`` to ``user.has_perm("<app>.retry_subtask")``."""

    def __getattr__(self, name):
        if name.startswith("has_") and name.endswith("_permission"):
            codename = name[len("has_") : -len("_permission")]
            app_label = self.model._meta.app_label

            def check(request, obj=None):
                return request.user.has_perm(f"{app_label}.{codename}")

            return check
        raise AttributeError(name)


def confirmed_action(
    *,
    name: str,
    description: str,
    permission: str,
    run: Runner,
    reason_required: bool = True,
    preview: Previewer | None = None,
    force_label: str | None = None,
):
    """Build an admin action that asks for confirmation and a reason, then runs ``run`` per row."""

    def action(modeladmin, request, queryset):
        app_label = modeladmin.model._meta.app_label
        if not request.user.has_perm(f"{app_label}.{permission}"):
            raise PermissionDenied
        reason = (request.POST.get("reason") or "").strip()
        confirmed = request.POST.get("confirm") == "yes"
        if not confirmed or (reason_required and not reason):
            return _confirmation_page(modeladmin, request, queryset, reason=reason, reason_missing=confirmed)
        force = force_label is not None and request.POST.get("force") == "yes"
        extra = {"force": force} if force_label is not None else {}
        done: list[str] = []
        skipped: list[str] = []
        for obj in queryset:
            try:
                note = run(obj, request.user, reason, **extra)
            except DomainError as refusal:
                skipped.append(_("%(obj)s: skipped, %(why)s") % {"obj": obj, "why": refusal.message})
                continue
            done.append(_("%(obj)s: done") % {"obj": obj} + (f" ({note})" if note else ""))
            change = f"{description}: {reason}" + (f" ({note})" if note else "")
            if force:
                change += " [" + _("forced") + "]"
            modeladmin.log_change(request, obj, change)
        _report(modeladmin, request, description=description, done=done, skipped=skipped)
        return None

    def _confirmation_page(modeladmin, request, queryset, *, reason, reason_missing):
        total = queryset.count()
        rows = [
            {"obj": obj, "pk": obj.pk, "preview": _preview_lines(preview(obj)) if preview else []}
            for obj in queryset[:SHOWN_ROWS]
        ]
        select_across = request.POST.get("select_across") == "1"
        return TemplateResponse(
            request,
            "admin/confirm_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": description,
                "action_name": name,
                "description": description,
                "rows": rows,
                "total": total,
                "hidden_count": max(total - len(rows), 0),
                # The ids travel in the form as the changelist posted them; with select-across,
                # the changelist's filters (kept in the URL the form posts to) choose the rows.
                "select_across": select_across,
                "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "opts": modeladmin.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "reason": reason,
                "reason_required": reason_required,
                "reason_missing": reason_missing and reason_required and not reason,
                "force_label": force_label,
                "media": modeladmin.media,
            },
        )

    action.__name__ = name
    return admin.action(description=description, permissions=[permission])(action)


def _preview_lines(value) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(key).replace("_", " "), _display(item)) for key, item in value.items()]
    return [("", str(value))]


def _display(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _report(modeladmin, request, *, description, done: list[str], skipped: list[str]) -> None:
    """One line per row (up to a limit), then the totals."""
    for line in done[:REPORTED_ROWS]:
        modeladmin.message_user(request, line, messages.SUCCESS)
    for line in skipped[:REPORTED_ROWS]:
        modeladmin.message_user(request, line, messages.WARNING)
    unlisted = max(len(done) - REPORTED_ROWS, 0) + max(len(skipped) - REPORTED_ROWS, 0)
    if unlisted:
        modeladmin.message_user(
            request,
            ngettext("%(count)d more row not listed.", "%(count)d more rows not listed.", unlisted)
            % {"count": unlisted},
            messages.INFO,
        )
    if done or skipped:
        modeladmin.message_user(
            request,
            _("%(action)s: %(done)s, %(skipped)s.")
            % {
                "action": description,
                "done": ngettext("done for %(count)d row", "done for %(count)d rows", len(done)) % {"count": len(done)},
                "skipped": ngettext("skipped %(count)d", "skipped %(count)d", len(skipped)) % {"count": len(skipped)},
            },
            messages.SUCCESS if done and not skipped else messages.WARNING,
        )
    else:
        modeladmin.message_user(request, _("No rows were selected."), messages.WARNING)
