from django.contrib import admin

from common.admin import ReadOnlyInline

from .models import CpuTypeTpl, WorkflowSubtask, WorkflowTask


@admin.register(CpuTypeTpl)
class CpuTypeTplAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class WorkflowSubtaskInline(ReadOnlyInline):
    model = WorkflowSubtask
    fk_name = "parent"
    fields = ["step", "group_id", "agent", "status", "brother", "result_key", "is_last", "celery_task_id"]
    readonly_fields = fields
    ordering = ["step"]


@admin.register(WorkflowTask)
class WorkflowTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "target_type",
        "target_obj",
        "status",
        "step",
        "progress",
        "pri",
        "queue",
        "site_name",
        "customer_id",
        "restart",
        "created_at",
    ]
    list_filter = ["status", "target_type", "queue", "site_id", "is_valid"]
    search_fields = ["=id", "target_obj", "customer_id", "celery_task_id", "idempotency_key"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]
    inlines = [WorkflowSubtaskInline]


@admin.register(WorkflowSubtask)
class WorkflowSubtaskAdmin(admin.ModelAdmin):
    list_display = ["id", "parent", "step", "group_id", "agent", "status", "is_last", "created_at"]
    list_filter = ["status", "agent", "is_last"]
    search_fields = ["=id", "=parent__id", "celery_task_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["parent", "brother", "result_key"]
    list_select_related = ["parent"]
    readonly_fields = ["created_at", "updated_at"]
