"""The base of every API view: authentication, the access rule, scope, ordering."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import serializers, viewsets

from common.errors import Forbidden

from ..access import client_customer
from ..permissions import ApiPermission
from ..throttling import WriteRateThrottle

READ_ACTIONS = frozenset({"list", "retrieve"})


class ApiViewSet(viewsets.GenericViewSet):
    # Rows are scoped to the client's customer through ``customer_field`` (``None``:
    # shared catalogue rows every client may read). ``customer_actions`` are the actions
    # a customer client may take without Django permissions; ``action_permissions``
    # names the permissions each other action needs (reads default to the model's view
    # permission). No docstring: OpenAPI would show it on every endpoint.

    permission_classes = [ApiPermission]
    throttle_classes = [WriteRateThrottle]
    customer_field: str | None = "customer_id"
    customer_actions: frozenset[str] = READ_ACTIONS
    action_permissions: dict[str, list[str]] = {}
    ordering = ["-id"]

    def required_permissions(self, action: str) -> list[str]:
        if action in self.action_permissions:
            return self.action_permissions[action]
        meta = self.queryset.model._meta
        return [f"{meta.app_label}.view_{meta.model_name}"]

    @property
    def customer_id(self) -> str | None:
        return client_customer(self.request.user)

    def validated(self, serializer_class: type[serializers.Serializer]) -> dict:
        """The request body checked by ``serializer_class`` (400 with every field error)."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def write_customer(self, requested: str | None) -> str:
        """The customer a write is for: a customer client's own (naming another is 403),
        or the one a staff/service client names (required)."""
        own = self.customer_id
        if own is not None:
            if requested and requested != own:
                raise Forbidden(
                    _("This client acts for customer %(own)s only.") % {"own": own},
                    code="customer_mismatch",
                    field="customer_id",
                )
            return own
        if not requested:
            raise serializers.ValidationError({"customer_id": [_("This field is required.")]}, code="required")
        return requested

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        customer_id = self.customer_id
        if customer_id is not None and self.customer_field is not None:
            queryset = queryset.filter(**{self.customer_field: customer_id})
        return queryset


class ReadOnlyApiViewSet(viewsets.mixins.ListModelMixin, viewsets.mixins.RetrieveModelMixin, ApiViewSet):
    # List and detail; ``detail_serializer_class`` (if set) for the detail.

    detail_serializer_class = None

    def get_serializer_class(self):
        if self.action == "retrieve" and self.detail_serializer_class is not None:
            return self.detail_serializer_class
        return super().get_serializer_class()
