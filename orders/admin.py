from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from .models import ShopOrder, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal


class SubOrderInline(admin.TabularInline):
    model = ShopSubOrder
    extra = 0
    fields = ["resource_type", "resource_id", "site_id", "billing_cycle", "periods", "amount", "status", "expire_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ShopOrder)
class ShopOrderAdmin(admin.ModelAdmin):
    list_display = ["order_no", "customer_id", "status", "total_amount", "currency", "fail_reason", "created_at"]
    list_filter = ["status", "fail_reason", "currency"]
    search_fields = ["order_no", "customer_id"]
    date_hierarchy = "created_at"
    raw_id_fields = ["created_by"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [SubOrderInline]


@admin.register(ShopSubOrder)
class ShopSubOrderAdmin(admin.ModelAdmin):
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
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ShopSuborderRenewal)
class ShopSuborderRenewalAdmin(admin.ModelAdmin):
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
    ]
    list_filter = ["status", "is_valid", "fail_reason"]
    search_fields = ["=id", "=suborder__id", "suborder__customer_id"]
    date_hierarchy = "period_start"
    raw_id_fields = ["suborder"]
    list_select_related = ["suborder"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(ShopRenewalLog)
class ShopRenewalLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "created_at",
        "suborder",
        "customer_id",
        "action",
        "outcome",
        "amount",
        "currency",
        "operator_name",
        "reason",
    ]
    list_filter = ["action", "outcome", "billing_cycle", "site_id"]
    search_fields = ["customer_id", "=suborder__id", "operator_name", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["suborder"]
