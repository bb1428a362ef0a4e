import pytest

from coretasker.models import CpuTypeTpl


@pytest.mark.django_db
def test_cpu_type_starting_set_is_loaded_by_migration():
    codes = set(CpuTypeTpl.objects.values_list("code", flat=True))
    assert {"amd_epyc_7763", "intel_xeon_gold_6248", "kunpeng_920"} <= codes
