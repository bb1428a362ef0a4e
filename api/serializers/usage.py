"""Usage batches: rows are checked one by one by billing's service, not here, so one bad
row is reported with its index instead of refusing the whole batch."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .common import JsonObjectField

MAX_BATCH = 10_000

SAMPLE_SCHEMA = {
    "type": "object",
    "required": [
        "sample_id",
        "customer_id",
        "site_id",
        "resource_type",
        "resource_id",
        "item",
        "value",
        "unit",
        "sampled_at",
    ],
    "properties": {
        "sample_id": {
            "type": "string",
            "maxLength": 64,
            "description": "Chosen by the sender; a resent one is a duplicate.",
        },
        "customer_id": {"type": "string", "maxLength": 64},
        "site_id": {"type": "string", "maxLength": 64},
        "resource_type": {"type": "string", "maxLength": 16},
        "resource_id": {"type": "string", "maxLength": 64},
        "item": {"type": "string", "description": "A billing item type code."},
        "value": {"type": "string", "format": "decimal", "description": "At least 0, at most 6 decimals."},
        "unit": {"type": "string", "description": "Must be the item's unit."},
        "sampled_at": {"type": "string", "format": "date-time", "description": "With its offset; not in the future."},
    },
}


@extend_schema_field({"type": "array", "items": SAMPLE_SCHEMA, "minItems": 1, "maxItems": MAX_BATCH})
class SampleListField(serializers.ListField):
    pass


class UsageBatchSerializer(serializers.Serializer):
    samples = SampleListField(child=JsonObjectField(), min_length=1, max_length=MAX_BATCH)


class UsageRowErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("Position of the row in the batch, from 0."))
    field = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class UsageBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    accepted = serializers.IntegerField(help_text=_("Rows stored now."))
    duplicates = serializers.IntegerField(help_text=_("Rows whose sample_id was already stored; nothing changed."))
    rejected = serializers.IntegerField()
    errors = UsageRowErrorSerializer(many=True, help_text=_("One per rejected row; fix them and resend the batch."))
