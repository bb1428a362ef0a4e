"""Operations, tasks, subtasks and error logs (the tasker's tables)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, ResUserOperation

from .common import CustomerIdField, JsonObjectField


class OperationSerializer(serializers.ModelSerializer):
    task_id = serializers.SerializerMethodField(help_text=_("The task made from this operation, once it exists."))

    class Meta:
        model = ResUserOperation
        fields = [
            "id",
            "customer_id",
            "task_type",
            "resource_type",
            "resource_id",
            "site_id",
            "params",
            "task_status",
            "task_id",
            "order_id",
            "suborder_id",
            "error_msg",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_task_id(self, obj) -> int | None:
        try:
            return obj.task.pk
        except CloudTask.DoesNotExist:
            return None


class OperationPlaceSerializer(serializers.Serializer):
    """What a client sends to place an operation (resop)."""

    customer_id = CustomerIdField()
    task_type = serializers.CharField(max_length=32, help_text=_("The operation type, e.g. create_vm."))
    resource_type = serializers.CharField(max_length=32)
    resource_id = serializers.CharField(max_length=64)
    site_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    params = JsonObjectField(required=False, default=dict)


class SubtaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudTaskSubtask
        fields = [
            "id",
            "task_id",
            "step",
            "group",
            "action",
            "mode",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "params",
            "result",
            "error_msg",
            "timeout",
            "workflow_task_id",
            "deadline",
            "created_at",
            "updated_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ErrorLogSerializer(serializers.ModelSerializer):
    traceback = serializers.SerializerMethodField(help_text=_("Empty for customer clients."))

    class Meta:
        model = CloudTaskErrorLog
        fields = ["id", "task_id", "subtask_id", "step", "attempt", "error_class", "message", "traceback", "created_at"]
        read_only_fields = fields

    def get_traceback(self, obj) -> str:
        # Tracebacks show the platform's code: for staff only.
        return "" if self.context.get("customer_id") else obj.traceback


TASK_FIELDS = [
    "id",
    "operation_id",
    "task_type",
    "customer_id",
    "resource_type",
    "resource_id",
    "site_id",
    "status",
    "order_id",
    "suborder_id",
    "blocked_by_id",
    "params",
    "result",
    "error_msg",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
]


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = CloudTask
        fields = TASK_FIELDS
        read_only_fields = fields


class TaskDetailSerializer(serializers.ModelSerializer):
    subtasks = SubtaskSerializer(many=True, read_only=True, help_text=_("In flow order (by step)."))
    error_logs = ErrorLogSerializer(many=True, read_only=True, help_text=_("Newest first."))

    class Meta:
        model = CloudTask
        fields = [*TASK_FIELDS, "subtasks", "error_logs"]
        read_only_fields = fields


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text=_("Why; kept in the audit trail."))
