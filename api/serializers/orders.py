"""Orders, sub-orders, renewals, renewal logs; the order placement request."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing.money import MINOR_UNITS
from orders.models import (
    OrderFailReason,
    RenewalFailReason,
    ShopOrder,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
)

from .common import CustomerIdField

ORDER_FIELDS = [
    "id",
    "order_no",
    "customer_id",
    "status",
    "currency",
    "total_amount",
    "fail_reason",
    "fail_detail",
    "paid_at",
    "finished_at",
    "created_at",
    "updated_at",
]


class SubOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShopSubOrder
        fields = [
            "id",
            "order_id",
            "customer_id",
            "resource_type",
            "resource_id",
            "site_id",
            "spec",
            "billing_cycle",
            "periods",
            "currency",
            "unit_price",
            "amount",
            "status",
            "auto_renew",
            "service_start",
            "expire_at",
            "task_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def blank_choice(choices):
    """A read-only choice that may be blank (DRF drops allow_blank from read-only model fields)."""
    return serializers.ChoiceField(choices=choices, allow_blank=True, read_only=True)


class OrderSerializer(serializers.ModelSerializer):
    fail_reason = blank_choice(OrderFailReason.choices)

    class Meta:
        model = ShopOrder
        fields = ORDER_FIELDS
        read_only_fields = fields


class OrderDetailSerializer(serializers.ModelSerializer):
    fail_reason = blank_choice(OrderFailReason.choices)
    suborders = SubOrderSerializer(many=True, read_only=True)

    class Meta:
        model = ShopOrder
        fields = [*ORDER_FIELDS, "suborders"]
        read_only_fields = fields


class SpecSerializer(serializers.Serializer):
    """A resource's specification; which keys a resource type needs is the order service's to check."""

    cpu_type = serializers.CharField(max_length=32, required=False, help_text=_("A CPU type code (cpu-types)."))
    cpu = serializers.IntegerField(min_value=1, max_value=1024, required=False)
    memory_gb = serializers.IntegerField(min_value=1, max_value=65536, required=False)
    disk_gb = serializers.IntegerField(min_value=1, max_value=65536, required=False)
    bandwidth_mbps = serializers.IntegerField(min_value=0, max_value=100000, required=False)


class OrderItemSerializer(serializers.Serializer):
    resource_type = serializers.CharField(max_length=32)
    site_id = serializers.CharField(max_length=64)
    spec = SpecSerializer()
    billing_cycle = serializers.ChoiceField(choices=[("month", _("month")), ("year", _("year"))])
    periods = serializers.IntegerField(min_value=1, max_value=36, default=1)
    auto_renew = serializers.BooleanField(default=True)


class OrderPlaceSerializer(serializers.Serializer):
    customer_id = CustomerIdField()
    currency = serializers.ChoiceField(choices=sorted(MINOR_UNITS), default="CNY")
    items = OrderItemSerializer(many=True, min_length=1, max_length=50)


class RenewalSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(source="suborder.order_id", read_only=True)
    customer_id = serializers.CharField(source="suborder.customer_id", read_only=True)
    fail_reason = blank_choice(RenewalFailReason.choices)

    class Meta:
        model = ShopSuborderRenewal
        fields = [
            "id",
            "suborder_id",
            "order_id",
            "customer_id",
            "period_start",
            "period_end",
            "currency",
            "amount",
            "price_lines",
            "is_valid",
            "status",
            "fail_reason",
            "fail_detail",
            "attempts",
            "next_retry_at",
            "applied_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RenewalLogSerializer(serializers.ModelSerializer):
    fail_reason = blank_choice(RenewalFailReason.choices)

    class Meta:
        model = ShopRenewalLog
        fields = [
            "id",
            "renewal_id",
            "suborder_id",
            "customer_id",
            "site_id",
            "billing_cycle",
            "period_start",
            "period_end",
            "action",
            "outcome",
            "fail_reason",
            "reason",
            "currency",
            "amount",
            "operator_name",
            "created_at",
        ]
        read_only_fields = fields
