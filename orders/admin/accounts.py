"""Customer accounts and their ledger: read-only, except the "credit account" form for ops."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.money import MINOR_UNITS
from common.admin import ReadOnlyAdminMixin, ReadOnlyInline
from common.errors import DomainError

from ..models import AccountLedgerEntry, CustomerAccount
from ..services import account_credit


class CreditForm(forms.Form):
    customer_id = forms.CharField(label=gettext_lazy("customer ID"), max_length=64)
    amount = forms.DecimalField(
        label=gettext_lazy("amount"), min_value=Decimal("0.01"), max_digits=14, decimal_places=4
    )
    currency = forms.ChoiceField(
        label=gettext_lazy("currency"), choices=[(code, code) for code in sorted(MINOR_UNITS)], initial="CNY"
    )
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 80}))
    # One token per form shown: submitting the same form twice credits once.
    token = forms.CharField(widget=forms.HiddenInput)


class LedgerInline(ReadOnlyInline):
    model = AccountLedgerEntry
    fields = ["created_at", "kind", "amount", "balance_after", "currency", "reason", "order", "renewal", "created_by"]
    readonly_fields = fields
    ordering = ["-id"]
    max_num = 0


@admin.register(CustomerAccount)
class CustomerAccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["customer_id", "balance", "currency", "updated_at"]
    list_filter = ["currency"]
    search_fields = ["customer_id"]
    readonly_fields = ["customer_id", "balance", "currency", "created_at", "updated_at"]
    inlines = [LedgerInline]
    change_list_template = "admin/orders/customeraccount/change_list.html"
    change_form_template = "admin/orders/customeraccount/change_form.html"

    def get_urls(self):
        credit = path("credit/", self.admin_site.admin_view(self.credit_view), name="orders_customeraccount_credit")
        return [credit, *super().get_urls()]

    def credit_view(self, request):
        """Credit an account with a reason, through ``account_credit`` (permission orders.credit_account)."""
        if not request.user.has_perm("orders.credit_account"):
            raise PermissionDenied
        if request.method == "POST":
            form = CreditForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    entry = account_credit(
                        customer_id=data["customer_id"].strip(),
                        amount=data["amount"],
                        currency=data["currency"],
                        reason=data["reason"],
                        user=request.user,
                        idempotency_key=f"admin-credit:{data['token']}",
                    )
                except DomainError as refusal:
                    form.add_error(refusal.field if refusal.field in form.fields else None, refusal.message)
                else:
                    self.log_change(request, entry.account, _("Credited %(amount)s %(currency)s: %(reason)s") % data)
                    self.message_user(
                        request,
                        _("Credited %(amount)s %(currency)s to %(customer)s; balance %(balance)s.")
                        % {
                            "amount": entry.amount,
                            "currency": entry.currency,
                            "customer": entry.customer_id,
                            "balance": entry.balance_after,
                        },
                        messages.SUCCESS,
                    )
                    return redirect(reverse("admin:orders_customeraccount_change", args=[entry.account_id]))
        else:
            form = CreditForm(
                initial={
                    "customer_id": request.GET.get("customer_id", ""),
                    "token": uuid.uuid4().hex,
                    "currency": "CNY",
                }
            )
        return TemplateResponse(
            request,
            "admin/orders/customeraccount/credit.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Credit a customer account"),
                "form": form,
                "opts": self.model._meta,
            },
        )


@admin.register(AccountLedgerEntry)
class AccountLedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "customer_id",
        "kind",
        "amount",
        "balance_after",
        "currency",
        "reason",
        "order",
        "renewal",
        "created_by",
    ]
    list_filter = ["kind", "currency"]
    search_fields = ["customer_id", "idempotency_key", "=order__order_no"]
    date_hierarchy = "created_at"
    list_select_related = ["order", "renewal", "created_by"]
    raw_id_fields = ["account", "order", "renewal", "created_by"]
