"""The simulated cloud's starting inventory: two sites with a few hosts each, and a
little load of another tenant, so capacity is not all free and every inventory
table has something to browse."""

from django.db import migrations

SITES = [("cn-east-1", "East China 1"), ("cn-north-1", "North China 1")]
HOSTS = [
    # (site, host name, vCPUs, memory GB)
    ("cn-east-1", "sim-east1-h01", 64, 256),
    ("cn-east-1", "sim-east1-h02", 64, 256),
    ("cn-east-1", "sim-east1-h03", 32, 128),
    ("cn-north-1", "sim-north1-h01", 16, 64),
    ("cn-north-1", "sim-north1-h02", 16, 64),
]
TENANT = "sim-baseline-tenant"


def load(apps, schema_editor):
    Site = apps.get_model("simcloud", "SimSite")
    Host = apps.get_model("simcloud", "SimHost")
    Vm = apps.get_model("simcloud", "SimVm")
    Nic = apps.get_model("simcloud", "SimNic")
    Pipe = apps.get_model("simcloud", "SimPipe")
    Bandwidth = apps.get_model("simcloud", "SimBandwidth")
    sites = {}
    for site_id, name in SITES:
        sites[site_id], _ = Site.objects.get_or_create(site_id=site_id, defaults={"name": name})
    hosts = {}
    for site_id, hostname, cpu, memory in HOSTS:
        hosts[hostname], _ = Host.objects.get_or_create(
            hostname=hostname, defaults={"site": sites[site_id], "cpu_total": cpu, "memory_gb_total": memory}
        )
    for number, (hostname, cpu, memory) in enumerate([("sim-east1-h01", 8, 32), ("sim-north1-h01", 12, 48)], 1):
        host = hosts[hostname]
        vm, created = Vm.objects.get_or_create(
            vm_id=f"vm-baseline-{number}",
            defaults={
                "site": host.site,
                "host": host,
                "customer_id": TENANT,
                "cpu_type": "intel_xeon_gold_6248",
                "cpu": cpu,
                "memory_gb": memory,
                "disk_gb": 100,
                "disk_id": f"disk-vm-baseline-{number}",
                "state": "running",
            },
        )
        if created:
            host.cpu_used += cpu
            host.memory_gb_used += memory
            host.save(update_fields=["cpu_used", "memory_gb_used"])
        Nic.objects.get_or_create(
            nic_id=f"nic-baseline-{number}",
            defaults={
                "vm": vm,
                "site": host.site,
                "customer_id": TENANT,
                "mac": f"02:00:00:00:00:0{number}",
                "ip": f"10.250.0.{number + 1}",
                "state": "attached",
            },
        )
    Pipe.objects.get_or_create(
        pipe_id="pipe-baseline-1", defaults={"site": sites["cn-east-1"], "customer_id": TENANT, "bandwidth_mbps": 100}
    )
    Bandwidth.objects.get_or_create(resource_type="pipe", resource_id="pipe-baseline-1", defaults={"bandwidth_mbps": 100})


def unload(apps, schema_editor):
    for model in ("SimBandwidth", "SimNic", "SimPipe", "SimVm", "SimHost", "SimSite"):
        apps.get_model("simcloud", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("simcloud", "0001_initial"), ("coretasker", "0002_cpu_types")]
    operations = [migrations.RunPython(load, unload)]
