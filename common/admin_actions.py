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
written to Django's admin log with the reason. Services are expected to be
idempotent, so a double click skips the rows the first click already handled.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .errors import DomainError

Runner = Callable[..., str | None]


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


def confirmed_action(*, name: str, description: str, permission: str, run: Runner, reason_required: bool = True):
    """Build an admin action that asks for confirmation and a reason, then runs ``run`` per row."""

    def action(modeladmin, request, queryset):
        app_label = modeladmin.model._meta.app_label
        if not request.user.has_perm(f"{app_label}.{permission}"):
            raise PermissionDenied
        reason = (request.POST.get("reason") or "").strip()
        if request.POST.get("confirm") != "yes" or (reason_required and not reason):
            return TemplateResponse(
                request,
                "admin/confirm_action.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": description,
                    "action_name": name,
                    "description": description,
                    "queryset": queryset,
                    "opts": modeladmin.model._meta,
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "reason": reason,
                    "reason_missing": request.POST.get("confirm") == "yes" and not reason,
                    "media": modeladmin.media,
                },
            )
        done, skipped = 0, 0
        for obj in queryset:
            try:
                note = run(obj, request.user, reason)
            except DomainError as refusal:
                skipped += 1
                modeladmin.message_user(
                    request, _("%(obj)s: skipped, %(why)s") % {"obj": obj, "why": refusal.message}, messages.WARNING
                )
                continue
            done += 1
            modeladmin.log_change(request, obj, f"{description}: {reason}" + (f" ({note})" if note else ""))
        if done:
            modeladmin.message_user(
                request,
                ngettext("%(action)s: done for %(count)d row.", "%(action)s: done for %(count)d rows.", done)
                % {"action": description, "count": done},
                messages.SUCCESS,
            )
        if not done and not skipped:
            modeladmin.message_user(request, _("No rows were selected."), messages.WARNING)
        return None

    action.__name__ = name
    return admin.action(description=description, permissions=[permission])(action)
