"""The starting set of billing item types.

Orders price sub-orders by these codes (``billing.pricing.RESOURCE_ITEMS``), so
they exist on every installation. Rows already present (same code) are kept as
they are. Prices are per site and set by ops; none are loaded here.
"""

from django.db import migrations

# code, name, unit, charge kind, description
ITEM_TYPES = [
    ("vcpu", "vCPU cores", "core", "peak", "Cores of a VM; metered: the most cores held in the period."),
    ("memory", "Memory", "GB", "peak", "Memory of a VM; metered: the most GB held in the period."),
    ("system_disk", "System disk", "GB", "peak", "Size of the system disk."),
    ("data_disk", "Data disk", "GB", "peak", "Size of the attached data disks."),
    ("gpu", "GPU cards", "card", "peak", "GPU cards attached to a VM."),
    ("bandwidth", "Public bandwidth", "Mbps", "peak", "Public bandwidth, charged by the period's peak."),
    ("traffic", "Public traffic", "GB", "amount", "Outbound public traffic, charged by the GB used."),
    ("public_ip", "Public IPs", "count", "number", "Public IPv4 addresses: one sample per address held."),
    ("snapshot", "Snapshots", "GB", "peak", "Snapshot storage, charged by the period's peak."),
    ("object_storage", "Object storage", "GB", "peak", "Object storage, charged by the period's peak."),
    ("object_requests", "Object storage requests", "10k requests", "amount", "Requests, per 10,000."),
    ("load_balancer", "Load balancers", "count", "number", "Load balancer instances: one sample per instance."),
]


def load(apps, schema_editor):
    BillingItemType = apps.get_model("billing", "BillingItemType")
    for code, name, unit, kind, description in ITEM_TYPES:
        BillingItemType.objects.get_or_create(
            code=code, defaults={"name": name, "unit": unit, "charge_kind": kind, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_usage_and_charges")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
