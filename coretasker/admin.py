import json

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyInline
from common.admin_actions import ActionPermissionsMixin, confirmed_action

from .models import CpuTypeTpl, WorkflowStatus, WorkflowSubtask, WorkflowTask
from .services import workflow_restart

STATUS_COLOURS = {
    WorkflowStatus.NEW: "#6c757d",
    WorkflowStatus.DOING: "#0d6efd",
    WorkflowStatus.DONE: "#198754",
    WorkflowStatus.ERROR: "#dc3545",
    WorkflowStatus.CANCELLED: "#adb5bd",
}


def status_badge(status: str, label: str):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 6px;border-radius:3px">{}</span>',
        STATUS_COLOURS.get(status, "#6c757d"),
        label,
    )


def pretty_json(value):
    if value in (None, "", {}, []):
        return "-"
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False)
    )


@admin.register(CpuTypeTpl)
class CpuTypeTplAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class WorkflowSubtaskInline(ReadOnlyInline):
    model = WorkflowSubtask
    fk_name = "parent"
    fields = [
        "step",
        "step_name",
        "group_id",
        "agent",
        "coloured_status",
        "brother",
        "result_key",
        "is_last",
        "celery_task_id",
        "pretty_result",
    ]
    readonly_fields = fields
    ordering = ["step"]
    verbose_name_plural = _("plan (workflow subtasks, in plan order)")

    @admin.display(description=_("step name"))
    def step_name(self, obj):
        return (obj.params or {}).get("step", "")

    @admin.display(description=_("status"))
    def coloured_status(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("result"))
    def pretty_result(self, obj):
        return pretty_json(obj.result)


@admin.register(WorkflowTask)
class WorkflowTaskAdmin(ActionPermissionsMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "target_type",
        "target_obj",
        "coloured_status",
        "step",
        "progress_bar",
        "pri",
        "mode",
        "queue",
        "site_name",
        "customer_id",
        "restart",
        "run_dev",
        "created_at",
    ]
    list_filter = ["target_type", "status", "site_id", "customer_id", "queue", "mode", "is_valid"]
    search_fields = ["=id", "target_obj", "customer_id", "celery_task_id", "idempotency_key", "error_msg"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("task_type", "target_type", "target_obj"),
                    ("coloured_status", "step", "progress_bar"),
                    ("mode", "pri", "queue"),
                    ("site_id", "site_name", "customer_id"),
                    ("celery_task_id", "run_dev", "restart", "is_valid"),
                    "idempotency_key",
                    "task_info",
                    "error_msg",
                ]
            },
        ),
        (_("parameters and result"), {"fields": ["pretty_params", "pretty_result"]}),
        (_("times"), {"fields": [("created_at", "updated_at")]}),
    ]
    readonly_fields = [
        "task_type",
        "target_type",
        "target_obj",
        "coloured_status",
        "step",
        "progress_bar",
        "mode",
        "pri",
        "queue",
        "site_id",
        "site_name",
        "customer_id",
        "celery_task_id",
        "run_dev",
        "restart",
        "is_valid",
        "idempotency_key",
        "task_info",
        "error_msg",
        "pretty_params",
        "pretty_result",
        "created_at",
        "updated_at",
    ]
    inlines = [WorkflowSubtaskInline]
    actions = [
        confirmed_action(
            name="restart_workflow",
            description=_("Restart from the failed subtask"),
            permission="restart_workflowtask",
            run=lambda obj, user, reason: _restart_note(
                workflow_restart(workflow_task_id=obj.pk, user=user, reason=reason)
            ),
        )
    ]

    def has_add_permission(self, request):
        return False  # workflow tasks come from the tasker only

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("status"), ordering="status")
    def coloured_status(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description=_("progress"), ordering="progress")
    def progress_bar(self, obj):
        colour = STATUS_COLOURS.get(obj.status, "#6c757d")
        return format_html(
            '<div style="width:100px;background:#e9ecef;border-radius:3px" title="{}%">'
            '<div style="width:{}px;background:{};color:#fff;font-size:10px;text-align:center;'
            'border-radius:3px;white-space:nowrap">{}%</div></div>',
            obj.progress,
            obj.progress,
            colour,
            obj.progress,
        )

    @admin.display(description=_("task parameters"))
    def pretty_params(self, obj):
        return pretty_json(obj.params)

    @admin.display(description=_("task result"))
    def pretty_result(self, obj):
        return pretty_json(obj.result)


def _restart_note(wf: WorkflowTask) -> str:
    return str(_("restart #%(n)s queued") % {"n": wf.restart})


@admin.register(WorkflowSubtask)
class WorkflowSubtaskAdmin(admin.ModelAdmin):
    list_display = ["id", "parent", "step", "group_id", "agent", "status", "is_last", "created_at"]
    list_filter = ["status", "agent", "is_last"]
    search_fields = ["=id", "=parent__id", "celery_task_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["parent", "brother", "result_key"]
    list_select_related = ["parent"]
    readonly_fields = ["created_at", "updated_at"]
