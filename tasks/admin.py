"""The ops console for the tasker: operations, tasks with their subtasks in flow order,
error logs, the flow registry (read-only), and the retry / cancel actions."""

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline
from common.admin_actions import ActionPermissionsMixin, confirmed_action

from .flows import FLOWS
from .models import (
    CloudTask,
    CloudTaskActionLog,
    CloudTaskErrorLog,
    CloudTaskSubtask,
    ResUserOperation,
)
from .services import subtask_retry, subtask_retry_preview, task_cancel, task_retry


@admin.register(ResUserOperation)
class ResUserOperationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "resource_type",
        "resource_id",
        "customer_id",
        "site_id",
        "task_status",
        "order_id",
        "created_at",
    ]
    list_filter = ["task_status", "task_type", "resource_type", "site_id"]
    search_fields = ["=id", "resource_id", "customer_id", "=order_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["created_by"]
    # Status moves only through the pipeline's guarded transitions.
    readonly_fields = ["task_status", "error_msg", "request_key", "created_at", "updated_at"]


class SubtaskInline(ReadOnlyInline):
    model = CloudTaskSubtask
    fields = [
        "step",
        "group",
        "action",
        "mode",
        "status",
        "attempts",
        "max_attempts",
        "progress",
        "started_at",
        "finished_at",
        "deadline",
        "error_msg",
    ]
    readonly_fields = fields
    ordering = ["step"]
    verbose_name_plural = _("subtasks, in flow order")


class ErrorLogInline(ReadOnlyInline):
    model = CloudTaskErrorLog
    fields = ["created_at", "subtask", "step", "attempt", "error_class", "message"]
    readonly_fields = fields
    ordering = ["-id"]


class ActionLogInline(ReadOnlyInline):
    model = CloudTaskActionLog
    fields = ["created_at", "action", "subtask", "user", "reason"]
    readonly_fields = fields
    ordering = ["-id"]


@admin.register(CloudTask)
class CloudTaskAdmin(ActionPermissionsMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "resource_type",
        "resource_id",
        "customer_id",
        "status",
        "current_group",
        "operation",
        "order_id",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "task_type", "resource_type", "site_id"]
    search_fields = ["=id", "resource_id", "customer_id", "=order_id", "=operation__id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["operation", "blocked_by"]
    list_select_related = ["operation"]
    readonly_fields = [
        "status",
        "current_group",
        "lock_holder",
        "blocked_by",
        "error_msg",
        "result",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
    ]
    inlines = [SubtaskInline, ErrorLogInline, ActionLogInline]
    actions = [
        confirmed_action(
            name="retry_task",
            description=_("Retry task (its failed subtasks)"),
            permission="retry_task",
            run=lambda obj, user, reason: task_retry(task_id=obj.pk, user=user, reason=reason) and None,
        ),
        confirmed_action(
            name="cancel_task",
            description=_("Cancel task"),
            permission="cancel_task",
            run=lambda obj, user, reason: task_cancel(task_id=obj.pk, user=user, reason=reason) and None,
        ),
    ]

    @admin.display(description=_("resource lock"))
    def lock_holder(self, obj):
        from .services.locks import lock_holder

        holder = lock_holder(resource_type=obj.resource_type, resource_id=obj.resource_id)
        if holder is None:
            return _("free")
        if holder == obj.pk:
            return _("held by this task")
        return _("held by task #%(id)s") % {"id": holder}

    def get_urls(self):
        return [
            path("flows/", self.admin_site.admin_view(self.flows_view), name="tasks_flows"),
            *super().get_urls(),
        ]

    def flows_view(self, request):
        """The flow registry, read-only: each operation type's steps, groups, modes, timeouts, retries."""
        flows = [
            {
                "name": name,
                "resource_types": ", ".join(flow.resource_types),
                "params": ", ".join(p.name + ("" if p.required else "?") for p in flow.params)
                + (", cpu_type" if flow.cpu_type_required else ""),
                "steps": list(enumerate(flow.steps, start=1)),
            }
            for name, flow in sorted(FLOWS.items())
        ]
        return TemplateResponse(
            request,
            "admin/tasks/flows.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Task flows"),
                "opts": self.model._meta,
                "flows": flows,
            },
        )


@admin.register(CloudTaskSubtask)
class CloudTaskSubtaskAdmin(ActionPermissionsMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "task",
        "step",
        "group",
        "action",
        "mode",
        "status",
        "attempts",
        "progress",
        "deadline",
        "updated_at",
    ]
    list_filter = ["status", "mode", "action"]
    search_fields = ["=id", "=task__id", "action"]
    date_hierarchy = "created_at"
    raw_id_fields = ["task", "workflow_task"]
    list_select_related = ["task"]
    readonly_fields = [
        "status",
        "attempts",
        "max_attempts",
        "progress",
        "deadline",
        "error_msg",
        "result",
        "retry_preview",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
    ]
    actions = [
        confirmed_action(
            name="retry_subtask",
            description=_("Retry subtask"),
            permission="retry_subtask",
            run=lambda obj, user, reason: subtask_retry(subtask_id=obj.pk, user=user, reason=reason) and None,
            preview=lambda obj: _retry_confirmation_preview(obj),
        ),
        confirmed_action(
            name="force_retry_subtask",
            description=_("Retry subtask even if coreTasker may still be working on it"),
            permission="retry_subtask",
            run=lambda obj, user, reason: (
                subtask_retry(subtask_id=obj.pk, user=user, reason=reason, force=True) and None
            ),
            preview=lambda obj: _retry_confirmation_preview(obj),
        ),
    ]

    @admin.display(description=_("retry preview"))
    def retry_preview(self, obj):
        if obj.pk is None:
            return "-"
        preview = subtask_retry_preview(subtask_id=obj.pk)
        core = preview["core"]
        return format_html(
            "{}<br>{}",
            _("Next attempt %(n)s runs %(action)s again (key %(key)s).")
            % {"n": preview["next_attempt"], "action": preview["action"], "key": preview["next_key"]},
            preview["blocked_reason"]
            or _("coreTasker on the last attempt: %(status)s.") % {"status": core["status"] or _("nothing")},
        )


@admin.register(CloudTaskErrorLog)
class CloudTaskErrorLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "task", "subtask", "step", "attempt", "error_class", "short_message", "created_at"]
    list_filter = ["error_class"]
    search_fields = ["=task__id", "error_class", "message"]
    date_hierarchy = "created_at"
    list_select_related = ["task", "subtask"]
    fields = ["task", "subtask", "step", "attempt", "error_class", "message", "traceback", "created_at"]

    @admin.display(description=_("error message"))
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:117] + "..."


def _retry_confirmation_preview(obj) -> dict:
    """subtask_retry_preview as the confirmation page shows it beside the row."""
    preview = subtask_retry_preview(subtask_id=obj.pk)
    core = preview["core"]
    if core["still_working"] is None:
        core_state = _("unknown (coreTasker did not answer)")
    else:
        core_state = core["status"] or _("nothing recorded")
    return {
        _("runs again"): _("step %(step)s %(action)s, attempt %(n)s")
        % {"step": preview["step"], "action": preview["action"], "n": preview["next_attempt"]},
        _("coreTasker on the last attempt"): core_state,
        _("still working"): core["still_working"],
        _("last error"): preview["latest_error"] or "-",
        _("retry possible"): preview["blocked_reason"] or _("yes"),
    }
