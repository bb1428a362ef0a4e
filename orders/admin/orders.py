"""Orders and sub-orders: read-only in the admin (they move only through the services)."""

from django.contrib import admin
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from common.admin import ReadOnlyAdminMixin

from ..models import OrderStatus, ShopOrder, ShopSubOrder
from ..services import order_provisioned_suborders


class SubOrderInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ShopSubOrder
    extra = 0
    fields = ["resource_type", "resource_id", "site_id", "billing_cycle", "periods", "amount", "status", "expire_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(ShopOrder)
class ShopOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["order_no", "customer_id", "status", "total_amount", "currency", "fail_reason", "created_at"]
    list_filter = ["status", "fail_reason", "currency"]
    search_fields = ["order_no", "customer_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["created_by"]
    fields = [
        "order_no",
        "customer_id",
        "status",
        "currency",
        "total_amount",
        "fail_reason",
        "fail_detail",
        "provisioned_suborders",
        "created_by",
        "paid_at",
        "finished_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [SubOrderInline]

    @admin.display(description=_("provisioned sub-orders (failed order)"))
    def provisioned_suborders(self, obj):
        """What a failed order already provisioned: resources ops must keep or clean up."""
        if obj.status != OrderStatus.FAILED:
            return "-"
        rows = order_provisioned_suborders(order_id=obj.pk)
        return format_html_join(
            ", ",
            "#{} {} {} ({})",
            ((s.pk, s.resource_type, s.resource_id, s.get_status_display()) for s in rows),
        ) or _("none")


@admin.register(ShopSubOrder)
class ShopSubOrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "order",
        "customer_id",
        "resource_type",
        "resource_id",
        "site_id",
        "billing_cycle",
        "status",
        "auto_renew",
        "expire_at",
    ]
    list_filter = ["status", "resource_type", "billing_cycle", "auto_renew", "site_id"]
    search_fields = ["=id", "order__order_no", "customer_id", "resource_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["order", "task"]
    list_select_related = ["order"]
