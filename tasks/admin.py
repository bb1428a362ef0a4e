from django.contrib import admin

from common.admin import ReadOnlyAdminMixin, ReadOnlyInline

from .models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, ResUserOperation


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
    readonly_fields = ["created_at", "updated_at"]


class SubtaskInline(ReadOnlyInline):
    model = CloudTaskSubtask
    fields = ["step", "group", "action", "mode", "status", "attempts", "progress", "started_at", "finished_at"]
    readonly_fields = fields
    ordering = ["step"]


class ErrorLogInline(ReadOnlyInline):
    model = CloudTaskErrorLog
    fields = ["created_at", "subtask", "step", "attempt", "error_class", "message"]
    readonly_fields = fields
    ordering = ["-id"]


@admin.register(CloudTask)
class CloudTaskAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "task_type",
        "resource_type",
        "resource_id",
        "customer_id",
        "status",
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
    readonly_fields = ["created_at", "updated_at"]
    inlines = [SubtaskInline, ErrorLogInline]


@admin.register(CloudTaskSubtask)
class CloudTaskSubtaskAdmin(admin.ModelAdmin):
    list_display = ["id", "task", "step", "group", "action", "mode", "status", "attempts", "progress", "updated_at"]
    list_filter = ["status", "mode", "action"]
    search_fields = ["=id", "=task__id", "action"]
    date_hierarchy = "created_at"
    raw_id_fields = ["task", "workflow_task"]
    list_select_related = ["task"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(CloudTaskErrorLog)
class CloudTaskErrorLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "task", "subtask", "step", "attempt", "error_class", "created_at"]
    list_filter = ["error_class"]
    search_fields = ["=task__id", "error_class", "message"]
    date_hierarchy = "created_at"
    list_select_related = ["task", "subtask"]
