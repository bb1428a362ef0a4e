"""Customer accounts and their ledger (orders): reads scoped by customer."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.exceptions import NotFound

from orders.models import AccountLedgerEntry, CustomerAccount

from .. import filters
from ..serializers.accounts import AccountSerializer, LedgerEntrySerializer
from .base import ApiViewSet

#: Customer ids as the services accept them.
CUSTOMER_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}"
ACCOUNT_PERMISSIONS = ["orders.view_customeraccount", "orders.view_accountledgerentry"]


class CustomerInPathMixin:
    def path_customer(self) -> str:
        """The customer the path names; another customer's answers 404 to a customer client."""
        customer_id = self.kwargs["customer_id"]
        if self.customer_id is not None and customer_id != self.customer_id:
            raise NotFound()
        return customer_id


@extend_schema_view(
    retrieve=extend_schema(
        summary="Get a customer's account: balance and newest ledger entries",
        description="A customer with no account yet answers a zero balance in CNY. A customer client may read "
        "its own account only; any other customer_id answers 404.",
    )
)
class AccountViewSet(CustomerInPathMixin, mixins.RetrieveModelMixin, ApiViewSet):
    queryset = CustomerAccount.objects.all()
    serializer_class = AccountSerializer
    lookup_field = "customer_id"
    lookup_value_regex = CUSTOMER_ID_PATTERN
    action_permissions = {"retrieve": ACCOUNT_PERMISSIONS}
    filter_backends = []

    def get_object(self):
        customer_id = self.path_customer()
        # A customer never seen has an empty account: answer it without writing one.
        return self.get_queryset().filter(customer_id=customer_id).first() or CustomerAccount(customer_id=customer_id)


@extend_schema_view(list=extend_schema(summary="Page through a customer's ledger, newest first"))
class LedgerViewSet(CustomerInPathMixin, mixins.ListModelMixin, ApiViewSet):
    queryset = AccountLedgerEntry.objects.all()
    serializer_class = LedgerEntrySerializer
    filterset_class = filters.LedgerFilter
    action_permissions = {"list": ACCOUNT_PERMISSIONS}
    ordering_fields = ["id", "created_at"]

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset
        return queryset.filter(customer_id=self.path_customer())
