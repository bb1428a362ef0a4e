from django.contrib import admin

from .models import ApiClient


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "customer_id", "description", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "customer_id", "description")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")
