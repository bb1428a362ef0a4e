"""Renewals (ops fix failed ones) and the renewal log (finance reviews, totals and exports it)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyAdminMixin
from common.admin_actions import ActionPermissionsMixin, confirmed_action

from ..models import ShopRenewalLog, ShopSuborderRenewal
from ..services import renewal_logs_csv, renewal_mark_valid
from .filters import InputFilter


def _mark_valid(obj, user, reason):
    renewal = renewal_mark_valid(renewal_id=obj.pk, user=user, reason=reason)
    return f"{renewal.amount} {renewal.currency}"


@admin.register(ShopSuborderRenewal)
class ShopSuborderRenewalAdmin(ActionPermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "suborder",
        "period_start",
        "period_end",
        "amount",
        "currency",
        "status",
        "is_valid",
        "fail_reason",
        "attempts",
        "next_retry_at",
    ]
    list_filter = ["status", "is_valid", "fail_reason"]
    search_fields = ["=id", "=suborder__id", "suborder__customer_id"]
    date_hierarchy = "period_start"
    raw_id_fields = ["suborder"]
    list_select_related = ["suborder"]
    actions = [
        confirmed_action(
            name="mark_renewal_valid",
            description=_("Mark renewal valid (is_valid=1)"),
            permission="mark_renewal_valid",
            run=_mark_valid,
        )
    ]


class CustomerFilter(InputFilter):
    title = _("customer ID")
    parameter_name = "customer"
    field = "customer_id"


class OperatorFilter(InputFilter):
    title = _("operator")
    parameter_name = "operator"
    field = "operator_name"


@admin.register(ShopRenewalLog)
class ShopRenewalLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "suborder",
        "customer_id",
        "site_id",
        "billing_cycle",
        "period_start",
        "action",
        "outcome",
        "fail_reason",
        "amount",
        "currency",
        "operator_name",
        "reason",
    ]
    list_filter = [
        ("period_start", admin.DateFieldListFilter),
        "action",
        "outcome",
        "fail_reason",
        CustomerFilter,
        "site_id",
        "billing_cycle",
        OperatorFilter,
    ]
    search_fields = ["customer_id", "=suborder__id", "operator_name", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["suborder"]

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_csv_view),
            name="orders_shoprenewallog_export",
        )
        return [export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            # The same filtered queryset the page lists, summed by the database.
            context["amount_totals"] = list(
                context["cl"].queryset.order_by().values("currency").annotate(total=Sum("amount")).order_by("currency")
            )
            context["can_export"] = request.user.has_perm("orders.export_renewallog")
        return response

    def export_csv_view(self, request):
        """The changelist's filtered rows as CSV, streamed."""
        if not request.user.has_perm("orders.export_renewallog"):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).queryset
        response = StreamingHttpResponse(renewal_logs_csv(queryset), content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="renewal-log-{stamp}.csv"'
        return response
