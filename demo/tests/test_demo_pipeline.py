"""The living demo through the real pipeline: a Celery worker (the tasker's harness), coreTasker, the simulated cloud.

What the ticks place runs: everything reaches DONE except the starts of missing
VMs, which the simulated cloud refuses; later ticks create such a VM and retry
the failed task, which then reaches DONE.
"""

import io
import random
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import call_command

from demo.services import DEMO_PREFIX, MISSING_PREFIX, demo_tick
from orders.models import OrderStatus, ShopOrder
from tasks.models import CloudTask, OperationStatus, ResUserOperation, TaskStatus
from tasks.tests import corestub
from tasks.tests.worker import Worker, purge_queues, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

FINISHED = (OperationStatus.DONE, OperationStatus.ERROR)


@pytest.fixture
def reference_rows(transactional_db):
    """CPU types, billing items and the simulated cloud's sites and hosts, as their migrations load them (idempotent).

    An earlier transactional test's flush may have removed them.
    """
    for module in (
        "coretasker.migrations.0002_cpu_types",
        "simcloud.migrations.0002_starting_inventory",
        "billing.migrations.0003_item_type_starting_set",
    ):
        import_module(module).load(apps, None)


@pytest.fixture
def worker(reference_rows, tmp_path):
    if not corestub.real_coretasker_present():
        corestub.install()
    purge_queues()
    started = Worker(concurrency=2, log_path=tmp_path / "worker.log").start()
    yield started
    started.stop()
    print((tmp_path / "worker.log").read_text(errors="replace")[-5000:])


def settled(worker, operation_ids, order_ids=()):
    def done():
        statuses = list(ResUserOperation.objects.filter(pk__in=operation_ids).values_list("task_status", flat=True))
        orders = ShopOrder.objects.filter(pk__in=order_ids, status__in=(OrderStatus.PAID, OrderStatus.PROVISIONING))
        return len(statuses) == len(operation_ids) and all(s in FINISHED for s in statuses) and not orders.exists()

    assert wait_for(done, timeout=120, interval=0.3, worker=worker)


def test_demo_ticks_flow_fail_and_recover_through_the_pipeline(worker):
    call_command("seed_demo", stdout=io.StringIO())
    rng = random.Random(7)
    placed, orders, retried, seen_failed = [], [], [], set()
    for _tick in range(15):
        report = demo_tick(rng=rng, operations=3, order_chance=0.3, due_chance=0)
        assert report.refused == []
        placed += report.operations
        orders += report.orders
        retried += report.retried
        settled(worker, report.operations, report.orders)
        failed = ResUserOperation.objects.filter(pk__in=placed, task_status=OperationStatus.ERROR)
        # The only failures are the starts of missing VMs; everything else reaches DONE.
        assert all(op.task_type == "start_vm" and op.resource_id.startswith(MISSING_PREFIX) for op in failed)
        seen_failed |= {op.pk for op in failed}
        if seen_failed and retried and orders:
            break
    assert seen_failed and retried and orders
    assert all(op.customer_id.startswith(DEMO_PREFIX) for op in ResUserOperation.objects.filter(pk__in=placed))
    assert set(ShopOrder.objects.filter(pk__in=orders).values_list("status", flat=True)) == {OrderStatus.SUCCEEDED}
    # A retried start (its VM created by a later tick) reaches DONE.
    assert wait_for(
        lambda: CloudTask.objects.get(pk=retried[0]).status in (TaskStatus.DONE, TaskStatus.ERROR),
        timeout=120,
        worker=worker,
    )
    assert CloudTask.objects.get(pk=retried[0]).status == TaskStatus.DONE
