from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class CustomerIdField(serializers.CharField):
    """The customer a write is for. Customer clients may leave it out (their own
    customer is used); naming another customer is refused with 403."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text", _("Required for staff/service clients; a customer client's own customer otherwise.")
        )
        super().__init__(**kwargs)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JsonObjectField(serializers.JSONField):
    """A JSON object (not a list or a scalar)."""

    default_error_messages = {"not_object": _("Expected a JSON object.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


__all__ = ["CustomerIdField", "JsonObjectField", "OpenApiTypes"]
