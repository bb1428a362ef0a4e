"""Shared catalogue rows (item types, prices, CPU types) and coreTasker's workflow tasks."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view

from billing.models import BillingItemType, BillResourcesPrice
from coretasker.models import CpuTypeTpl, WorkflowSubtask, WorkflowTask

from .. import filters
from ..serializers.catalogue import (
    BillingItemTypeSerializer,
    CpuTypeSerializer,
    PriceSerializer,
    WorkflowTaskDetailSerializer,
    WorkflowTaskSerializer,
)
from .base import ReadOnlyApiViewSet


@extend_schema_view(
    list=extend_schema(summary="List billing item types"), retrieve=extend_schema(summary="Get one billing item type")
)
class BillingItemTypeViewSet(ReadOnlyApiViewSet):
    queryset = BillingItemType.objects.all()
    serializer_class = BillingItemTypeSerializer
    filterset_class = filters.BillingItemTypeFilter
    customer_field = None
    ordering = ["code", "id"]
    ordering_fields = ["id", "code", "name"]


@extend_schema_view(
    list=extend_schema(summary="List billing unit prices"), retrieve=extend_schema(summary="Get one unit price")
)
class PriceViewSet(ReadOnlyApiViewSet):
    queryset = BillResourcesPrice.objects.select_related("item_type")
    serializer_class = PriceSerializer
    filterset_class = filters.PriceFilter
    customer_field = None
    ordering_fields = ["id", "valid_from", "unit_price"]


@extend_schema_view(list=extend_schema(summary="List CPU types"), retrieve=extend_schema(summary="Get one CPU type"))
class CpuTypeViewSet(ReadOnlyApiViewSet):
    queryset = CpuTypeTpl.objects.all()
    serializer_class = CpuTypeSerializer
    filterset_class = filters.CpuTypeFilter
    customer_field = None
    ordering = ["code", "id"]
    ordering_fields = ["id", "code", "name"]


@extend_schema_view(
    list=extend_schema(summary="List coreTasker workflow tasks (staff only)"),
    retrieve=extend_schema(summary="Get one workflow task with its plan (staff only)"),
)
class WorkflowTaskViewSet(ReadOnlyApiViewSet):
    """coreTasker's internals: staff/service clients with the view permission only."""

    queryset = WorkflowTask.objects.all()
    serializer_class = WorkflowTaskSerializer
    detail_serializer_class = WorkflowTaskDetailSerializer
    filterset_class = filters.WorkflowTaskFilter
    customer_actions = frozenset()
    ordering_fields = ["id", "created_at", "updated_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("subtasks", queryset=WorkflowSubtask.objects.order_by("step"))
            )
        return queryset
