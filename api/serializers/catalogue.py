"""Billing item types, unit prices, CPU types, coreTasker workflow tasks; usage batches."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing.models import BillingItemType, BillResourcesPrice
from coretasker.models import CpuTypeTpl, WorkflowSubtask, WorkflowTask


class BillingItemTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingItemType
        fields = ["id", "code", "name", "unit", "charge_kind", "description", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class PriceSerializer(serializers.ModelSerializer):
    item_code = serializers.CharField(source="item_type.code", read_only=True)

    class Meta:
        model = BillResourcesPrice
        fields = [
            "id",
            "item_type_id",
            "item_code",
            "site_id",
            "billing_cycle",
            "currency",
            "unit_price",
            "valid_from",
            "valid_to",
            "created_at",
        ]
        read_only_fields = fields


class CpuTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = CpuTypeTpl
        fields = ["id", "name", "code"]
        read_only_fields = fields


WORKFLOW_TASK_FIELDS = [
    "id",
    "target_type",
    "task_type",
    "target_obj",
    "task_info",
    "status",
    "step",
    "error_msg",
    "celery_task_id",
    "params",
    "result",
    "restart",
    "progress",
    "site_id",
    "site_name",
    "pri",
    "queue",
    "customer_id",
    "is_valid",
    "run_dev",
    "created_at",
    "updated_at",
]


class WorkflowTaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowTask
        fields = WORKFLOW_TASK_FIELDS
        read_only_fields = fields


class WorkflowSubtaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkflowSubtask
        fields = [
            "id",
            "parent_id",
            "step",
            "status",
            "agent",
            "params",
            "result",
            "celery_task_id",
            "brother_id",
            "group_id",
            "result_key_id",
            "is_last",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WorkflowTaskDetailSerializer(serializers.ModelSerializer):
    subtasks = WorkflowSubtaskSerializer(many=True, read_only=True, help_text=_("In plan order (by step)."))

    class Meta:
        model = WorkflowTask
        fields = [*WORKFLOW_TASK_FIELDS, "subtasks"]
        read_only_fields = fields
