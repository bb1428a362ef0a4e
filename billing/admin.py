from django.contrib import admin

from .models import BillingItemType, BillResourcesPrice


@admin.register(BillingItemType)
class BillingItemTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "unit", "charge_kind", "is_active"]
    list_filter = ["charge_kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(BillResourcesPrice)
class BillResourcesPriceAdmin(admin.ModelAdmin):
    list_display = ["item_type", "site_id", "billing_cycle", "unit_price", "currency", "valid_from", "valid_to"]
    list_filter = ["billing_cycle", "currency", "site_id", "item_type"]
    search_fields = ["item_type__code", "item_type__name", "site_id"]
    date_hierarchy = "valid_from"
    autocomplete_fields = ["item_type"]
    raw_id_fields = ["created_by"]
    list_select_related = ["item_type"]
