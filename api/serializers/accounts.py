"""Customer accounts with their ledger."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from orders.models import AccountLedgerEntry, CustomerAccount

#: How many of the newest ledger entries an account's detail shows; the rest page through ledger/.
LEDGER_PREVIEW = 20


class LedgerEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AccountLedgerEntry
        fields = ["id", "kind", "amount", "balance_after", "currency", "reason", "order_id", "renewal_id", "created_at"]
        read_only_fields = fields


class AccountSerializer(serializers.ModelSerializer):
    ledger = serializers.SerializerMethodField(
        help_text=_("The newest entries first (at most 20); every entry through the ledger endpoint.")
    )
    created_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text=_("Null before the first entry."))
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = CustomerAccount
        fields = ["customer_id", "currency", "balance", "created_at", "updated_at", "ledger"]
        read_only_fields = fields

    @extend_schema_field(LedgerEntrySerializer(many=True))
    def get_ledger(self, account):
        if account.pk is None:
            return []
        entries = account.entries.order_by("-id")[:LEDGER_PREVIEW]
        return LedgerEntrySerializer(entries, many=True).data
