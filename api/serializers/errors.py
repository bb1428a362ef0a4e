from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text=_("Dotted path of the field, e.g. items[0].spec.cpu."))
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("Machine-readable, e.g. invalid, not_found, illegal_transition."))
    message = serializers.CharField(help_text=_("For people, in the request's language."))
    field = serializers.CharField(allow_null=True, help_text=_("The field at fault, if one is."))
    details = ErrorDetailSerializer(many=True, help_text=_("Every field error of a validation failure."))


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API."""

    error = ErrorBodySerializer()
