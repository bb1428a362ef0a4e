"""Operations, tasks, subtasks, error logs: reads scoped by customer, writes through tasks.services."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from tasks import services as task_services
from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, ResUserOperation

from .. import filters
from ..serializers.tasks import (
    ErrorLogSerializer,
    OperationPlaceSerializer,
    OperationSerializer,
    ReasonSerializer,
    SubtaskSerializer,
    TaskDetailSerializer,
    TaskSerializer,
)
from .base import ReadOnlyApiViewSet


@extend_schema_view(
    list=extend_schema(summary="List operations"),
    retrieve=extend_schema(summary="Get one operation"),
    create=extend_schema(
        summary="Place an operation",
        description="Writes the operation (resop) and queues it for the tasker. Answers 201 with its id "
        "and task_status.",
        request=OperationPlaceSerializer,
        responses={201: OperationSerializer},
    ),
)
class OperationViewSet(mixins.CreateModelMixin, ReadOnlyApiViewSet):
    queryset = ResUserOperation.objects.select_related("task")
    serializer_class = OperationSerializer
    filterset_class = filters.OperationFilter
    ordering_fields = ["id", "created_at", "updated_at"]
    customer_actions = frozenset({"list", "retrieve", "create"})
    action_permissions = {"create": ["tasks.add_resuseroperation"]}

    def create(self, request, *args, **kwargs):
        data = self.validated(OperationPlaceSerializer)
        customer_id = self.write_customer(data.pop("customer_id", None))
        operation = task_services.operation_place(customer_id=customer_id, user=request.user, **data)
        operation = self.get_queryset().get(pk=operation.pk)
        return Response(OperationSerializer(operation).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List tasks"),
    retrieve=extend_schema(summary="Get one task with its subtasks (in flow order) and error logs"),
)
class TaskViewSet(ReadOnlyApiViewSet):
    queryset = CloudTask.objects.all()
    serializer_class = TaskSerializer
    detail_serializer_class = TaskDetailSerializer
    filterset_class = filters.TaskFilter
    ordering_fields = ["id", "created_at", "updated_at", "finished_at"]
    action_permissions = {"retry": ["tasks.retry_task"], "cancel": ["tasks.cancel_task"]}

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                Prefetch("subtasks", queryset=CloudTaskSubtask.objects.order_by("step", "id")),
                Prefetch("error_logs", queryset=CloudTaskErrorLog.objects.order_by("-id")),
            )
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "customer_id": self.customer_id}

    @extend_schema(summary="Retry a failed task", request=ReasonSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._act(task_services.task_retry)

    @extend_schema(summary="Cancel a task", request=ReasonSerializer, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(task_services.task_cancel)

    def _act(self, service):
        task = self.get_object()  # 404 for another customer's task
        reason = self.validated(ReasonSerializer)["reason"]
        service(task_id=task.pk, user=self.request.user, reason=reason)
        return Response(TaskSerializer(CloudTask.objects.get(pk=task.pk)).data)


@extend_schema_view(list=extend_schema(summary="List subtasks"), retrieve=extend_schema(summary="Get one subtask"))
class SubtaskViewSet(ReadOnlyApiViewSet):
    queryset = CloudTaskSubtask.objects.all()
    serializer_class = SubtaskSerializer
    filterset_class = filters.SubtaskFilter
    customer_field = "task__customer_id"
    ordering = ["-id"]
    ordering_fields = ["id", "task_id", "step", "created_at", "updated_at"]


@extend_schema_view(
    list=extend_schema(summary="List task error logs"), retrieve=extend_schema(summary="Get one task error log")
)
class TaskErrorLogViewSet(ReadOnlyApiViewSet):
    queryset = CloudTaskErrorLog.objects.all()
    serializer_class = ErrorLogSerializer
    filterset_class = filters.ErrorLogFilter
    customer_field = "task__customer_id"
    ordering_fields = ["id", "created_at"]

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "customer_id": self.customer_id}
