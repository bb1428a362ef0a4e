"""A second admin site for the tests of ``confirmed_action``, on models the suite can move now.

The services behind these actions are small test doubles with the properties the
helper relies on: they change a row with a guarded update, refuse with a
DomainError when there is nothing to do, and so are idempotent.
"""

from django.contrib import admin

from common.admin_actions import ActionPermissionsMixin, confirmed_action
from common.errors import Conflict
from orders.models import ShopSuborderRenewal
from tasks.models import CloudTaskSubtask, SubtaskStatus

site = admin.AdminSite(name="testadmin")


def renewal_mark_valid(obj, user, reason):
    if not ShopSuborderRenewal.objects.filter(pk=obj.pk, is_valid=False).update(is_valid=True):
        raise Conflict("already valid")
    return f"by {user.username}"


def subtask_retry(obj, user, reason, force):
    busy = obj.progress not in (0, 100)
    if busy and not force:
        raise Conflict("coreTasker is still working on it")
    if not CloudTaskSubtask.objects.filter(pk=obj.pk, status=SubtaskStatus.ERROR).update(status=SubtaskStatus.NEW):
        raise Conflict("not in ERROR")
    return None


def subtask_preview(obj):
    return {"runs_again": [obj.action], "coretasker_busy": obj.progress not in (0, 100)}


@admin.register(ShopSuborderRenewal, site=site)
class RenewalAdmin(ActionPermissionsMixin, admin.ModelAdmin):
    list_display = ["id", "is_valid"]
    actions = [
        confirmed_action(
            name="mark_valid",
            description="Mark renewal valid",
            permission="mark_renewal_valid",
            run=renewal_mark_valid,
        )
    ]


@admin.register(CloudTaskSubtask, site=site)
class SubtaskAdmin(ActionPermissionsMixin, admin.ModelAdmin):
    list_display = ["id", "status"]
    list_filter = ["status"]
    actions = [
        confirmed_action(
            name="retry",
            description="Retry subtask",
            permission="retry_subtask",
            run=subtask_retry,
            reason_required=False,
            preview=subtask_preview,
            force_label="Retry even if coreTasker is still working",
        )
    ]
