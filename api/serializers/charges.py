"""Billing's charge lines."""

from rest_framework import serializers

from billing.models import ChargeLine


class ChargeLineSerializer(serializers.ModelSerializer):
    item_code = serializers.CharField(source="item_type.code", read_only=True)

    class Meta:
        model = ChargeLine
        fields = [
            "id",
            "billing_cycle",
            "period_start",
            "period_end",
            "usage_period_start",
            "usage_period_end",
            "kind",
            "customer_id",
            "site_id",
            "resource_type",
            "resource_id",
            "item_type_id",
            "item_code",
            "quantity",
            "unit_price",
            "price_id",
            "amount",
            "currency",
            "created_at",
        ]
        read_only_fields = fields
