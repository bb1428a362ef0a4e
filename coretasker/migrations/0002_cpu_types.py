"""A realistic starting set of CPU type templates (api_cputypetpl)."""

from django.db import migrations

CPU_TYPES = [
    ("intel_xeon_gold_6248", "Intel Xeon Gold 6248 (Cascade Lake)"),
    ("intel_xeon_platinum_8375c", "Intel Xeon Platinum 8375C (Ice Lake)"),
    ("intel_xeon_platinum_8480", "Intel Xeon Platinum 8480+ (Sapphire Rapids)"),
    ("amd_epyc_7742", "AMD EPYC 7742 (Rome)"),
    ("amd_epyc_7763", "AMD EPYC 7763 (Milan)"),
    ("amd_epyc_9654", "AMD EPYC 9654 (Genoa)"),
    ("hygon_c86_7285", "Hygon C86 7285"),
    ("kunpeng_920", "Huawei Kunpeng 920 (ARM)"),
]


def load(apps, schema_editor):
    CpuTypeTpl = apps.get_model("coretasker", "CpuTypeTpl")
    for code, name in CPU_TYPES:
        CpuTypeTpl.objects.get_or_create(code=code, defaults={"name": name})


def unload(apps, schema_editor):
    apps.get_model("coretasker", "CpuTypeTpl").objects.filter(code__in=[c for c, _ in CPU_TYPES]).delete()


class Migration(migrations.Migration):
    dependencies = [("coretasker", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
