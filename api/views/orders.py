"""Orders, renewals and renewal logs: reads scoped by customer, writes through orders.services."""

from django.db.models import Prefetch
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from orders import services as order_services
from orders.models import ShopOrder, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal

from .. import filters
from ..renderers import CSVRenderer
from ..serializers.orders import (
    OrderDetailSerializer,
    OrderPlaceSerializer,
    OrderSerializer,
    RenewalLogSerializer,
    RenewalSerializer,
)
from ..serializers.tasks import ReasonSerializer
from .base import ReadOnlyApiViewSet


@extend_schema_view(
    list=extend_schema(summary="List orders"),
    retrieve=extend_schema(summary="Get one order with its sub-orders"),
    create=extend_schema(
        summary="Place an order",
        description="Prices every item and writes the order, unpaid. Answers 201 with the order and its sub-orders.",
        request=OrderPlaceSerializer,
        responses={201: OrderDetailSerializer},
    ),
)
class OrderViewSet(mixins.CreateModelMixin, ReadOnlyApiViewSet):
    queryset = ShopOrder.objects.all()
    serializer_class = OrderSerializer
    detail_serializer_class = OrderDetailSerializer
    filterset_class = filters.OrderFilter
    ordering_fields = ["id", "created_at", "updated_at", "paid_at"]
    customer_actions = frozenset({"list", "retrieve", "create", "pay"})
    action_permissions = {"create": ["orders.add_shoporder"], "pay": ["orders.change_shoporder"]}

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action != "list":
            queryset = queryset.prefetch_related(Prefetch("suborders", queryset=ShopSubOrder.objects.order_by("id")))
        return queryset

    def create(self, request, *args, **kwargs):
        data = self.validated(OrderPlaceSerializer)
        customer_id = self.write_customer(data.pop("customer_id", None))
        items = [{**item, "spec": dict(item["spec"])} for item in data["items"]]
        order = order_services.order_place(
            customer_id=customer_id, items=items, currency=data["currency"], user=request.user
        )
        return Response(self._detail(order.pk), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Pay an unpaid order", request=None, responses={200: OrderDetailSerializer})
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        order = self.get_object()  # 404 for another customer's order
        order_services.order_pay(order_id=order.pk, user=request.user)
        return Response(self._detail(order.pk))

    def _detail(self, pk: int) -> dict:
        order = self.get_queryset().get(pk=pk)
        return OrderDetailSerializer(order, context=self.get_serializer_context()).data


@extend_schema_view(
    list=extend_schema(summary="List sub-order renewals"), retrieve=extend_schema(summary="Get one renewal")
)
class RenewalViewSet(ReadOnlyApiViewSet):
    queryset = ShopSuborderRenewal.objects.select_related("suborder")
    serializer_class = RenewalSerializer
    filterset_class = filters.RenewalFilter
    customer_field = "suborder__customer_id"
    ordering_fields = ["id", "period_start", "created_at", "updated_at"]
    action_permissions = {"mark_valid": ["orders.mark_renewal_valid"]}

    @extend_schema(
        summary="Mark a failed renewal valid (is_valid=1)",
        description="For a renewal that failed and whose cause a person has fixed; the reason is logged.",
        request=ReasonSerializer,
        responses={200: RenewalSerializer},
    )
    @action(detail=True, methods=["post"], url_path="mark-valid")
    def mark_valid(self, request, pk=None):
        renewal = self.get_object()
        reason = self.validated(ReasonSerializer)["reason"]
        order_services.renewal_mark_valid(renewal_id=renewal.pk, user=request.user, reason=reason)
        return Response(RenewalSerializer(self.get_queryset().get(pk=renewal.pk)).data)


FORMAT_PARAMETER = OpenApiParameter(
    "format",
    str,
    enum=["json", "csv"],
    description="csv: every matching row (not paginated) as a CSV download.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List renewal logs (JSON, or CSV with ?format=csv)",
        parameters=[FORMAT_PARAMETER],
        responses={(200, "application/json"): RenewalLogSerializer(many=True), (200, "text/csv"): OpenApiTypes.STR},
    ),
    retrieve=extend_schema(summary="Get one renewal log entry"),
)
class RenewalLogViewSet(ReadOnlyApiViewSet):
    queryset = ShopRenewalLog.objects.all()
    serializer_class = RenewalLogSerializer
    filterset_class = filters.RenewalLogFilter
    renderer_classes = [JSONRenderer, CSVRenderer]
    ordering_fields = ["id", "created_at", "period_start"]
    action_permissions = {"export": ["orders.view_shoprenewallog", "orders.export_renewallog"]}

    def list(self, request, *args, **kwargs):
        if request.accepted_renderer.format != "csv":
            return super().list(request, *args, **kwargs)
        # A customer client exports its own rows; staff need the export permission.
        if self.customer_id is None and not request.user.has_perms(self.required_permissions("export")):
            self.permission_denied(request)
        queryset = self.filter_queryset(self.get_queryset())
        rows = order_services.renewal_logs_csv(queryset)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="renewal-logs-{stamp}.csv"'
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON in every format, so clients read them one way.
        renderer = getattr(request, "accepted_renderer", None)
        if response.status_code >= 400 and renderer is not None and renderer.format == "csv":
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)
