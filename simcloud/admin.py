"""The simulated cloud's inventory in the admin, labelled as a simulation everywhere.

VMs, NICs, pipes and bandwidth change only through the driver (read-only here);
sites and hosts can be edited, e.g. to shrink a host and show a ``no_capacity``
refusal.
"""

from django.contrib import admin

from common.admin import ReadOnlyAdminMixin

from .models import SimBandwidth, SimHost, SimNic, SimPipe, SimSite, SimVm


class SimHostInline(admin.TabularInline):
    model = SimHost
    extra = 0
    fields = ["hostname", "cpu_total", "cpu_used", "memory_gb_total", "memory_gb_used", "enabled"]
    readonly_fields = ["cpu_used", "memory_gb_used"]


@admin.register(SimSite)
class SimSiteAdmin(admin.ModelAdmin):
    list_display = ["site_id", "name"]
    search_fields = ["site_id", "name"]
    inlines = [SimHostInline]


@admin.register(SimHost)
class SimHostAdmin(admin.ModelAdmin):
    list_display = ["hostname", "site", "cpu_used", "cpu_total", "memory_gb_used", "memory_gb_total", "enabled"]
    list_filter = ["site", "enabled"]
    search_fields = ["hostname"]
    list_select_related = ["site"]
    readonly_fields = ["cpu_used", "memory_gb_used"]


@admin.register(SimVm)
class SimVmAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "vm_id",
        "site",
        "host",
        "customer_id",
        "cpu_type",
        "cpu",
        "memory_gb",
        "disk_gb",
        "state",
        "updated_at",
    ]
    list_filter = ["state", "site", "cpu_type"]
    search_fields = ["vm_id", "customer_id", "host__hostname"]
    list_select_related = ["site", "host"]


@admin.register(SimNic)
class SimNicAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["nic_id", "vm", "site", "customer_id", "ip", "mac", "state"]
    list_filter = ["state", "site"]
    search_fields = ["nic_id", "vm__vm_id", "ip", "customer_id"]
    list_select_related = ["vm", "site"]


@admin.register(SimPipe)
class SimPipeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pipe_id", "site", "customer_id", "bandwidth_mbps", "created_at"]
    list_filter = ["site"]
    search_fields = ["pipe_id", "customer_id"]
    list_select_related = ["site"]


@admin.register(SimBandwidth)
class SimBandwidthAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["resource_type", "resource_id", "bandwidth_mbps", "updated_at"]
    list_filter = ["resource_type"]
    search_fields = ["resource_id"]
