import cProfile
import pstats

import pytest

from opsplatform.celery import app as celery_app
from tasks.services import operation_place

from .conftest import vm_params

pytestmark = pytest.mark.django_db


def test_cprofile(bus, cpu_type, capsys):
    celery_app.conf.task_always_eager = True
    prof = cProfile.Profile()
    try:
        prof.enable()
        for i in range(15):
            bus.run(operation_place, customer_id="c", task_type="create_vm", resource_type="vm", resource_id=f"p{i}",
                    site_id="cn-east-1", params=vm_params(cpu_type, bandwidth_mbps=10, cpu=1, memory_gb=1))
        bus.drain(limit=1000)
        prof.disable()
    finally:
        celery_app.conf.task_always_eager = False
    with capsys.disabled():
        st = pstats.Stats(prof)
        st.sort_stats("cumulative").print_stats(45)
