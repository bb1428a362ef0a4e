"""The living demo's tick, in one process: what it writes (messages leave only after commit)."""

import importlib
import io
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from common.errors import InvalidInput
from demo import services
from demo.services import DEMO_PREFIX, MISSING_PREFIX, demo_tick
from orders.models import AccountLedgerEntry, OrderStatus, ShopOrder, ShopSubOrder, SubOrderStatus
from tasks.models import CloudTask, ResUserOperation, TaskStatus
from tasks.services import operation_validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_data():
    call_command("seed_demo", stdout=io.StringIO())


def test_ticks_place_valid_operations_for_demo_customers_only(demo_data):
    rng = random.Random(11)
    placed = []
    for _tick in range(6):
        report = demo_tick(rng=rng, operations=3, order_chance=0, due_chance=0)
        assert report.refused == []
        placed += report.operations
    assert len(placed) == 18
    operations = list(ResUserOperation.objects.filter(pk__in=placed))
    assert len(operations) == 18
    for operation in operations:
        assert operation.customer_id.startswith(DEMO_PREFIX)
        assert operation.resource_id.startswith(DEMO_PREFIX)
        # what was stored passes the tasker's own validation again
        assert (
            operation_validate(
                task_type=operation.task_type,
                resource_type=operation.resource_type,
                resource_id=operation.resource_id,
                params=operation.params,
            )
            == operation.params
        )
    types = {operation.task_type for operation in operations}
    assert "create_vm" in types
    assert ResUserOperation.objects.exclude(customer_id__startswith=DEMO_PREFIX).count() == 3  # seed_demo's own


def test_a_tick_acts_on_existing_demo_vms_and_recovers_a_failed_start(demo_data):
    rng = random.Random(5)
    vm = "demo-vm-existing"
    CloudTask.objects.create(
        task_type="create_vm", customer_id="demo-bob", resource_type="vm", resource_id=vm, status=TaskStatus.DONE
    )
    failed = CloudTask.objects.create(
        task_type="start_vm",
        customer_id="demo-bob",
        resource_type="vm",
        resource_id=f"{MISSING_PREFIX}x1",
        status=TaskStatus.ERROR,
    )
    acted = set()
    for _tick in range(10):
        report = demo_tick(rng=rng, operations=2, order_chance=0, due_chance=0)
        assert report.refused == []
        acted |= set(
            ResUserOperation.objects.filter(pk__in=report.operations, resource_type__in=("vm", "nic"))
            .exclude(task_type="create_vm")
            .values_list("task_type", flat=True)
        )
        if ResUserOperation.objects.filter(resource_id=failed.resource_id, task_type="create_vm").exists():
            break
    assert acted  # reboot / resize / set_bandwidth / create_nic / delete_vm on the existing VM
    create = ResUserOperation.objects.get(resource_id=failed.resource_id, task_type="create_vm")
    assert create.customer_id == "demo-bob"
    # Once the VM exists, the next tick retries the failed start.
    CloudTask.objects.create(
        task_type="create_vm",
        customer_id="demo-bob",
        resource_type="vm",
        resource_id=failed.resource_id,
        status=TaskStatus.DONE,
        operation=create,
    )
    report = demo_tick(rng=rng, operations=0, order_chance=0, due_chance=0)
    assert report.retried == [failed.pk]
    failed.refresh_from_db()
    assert failed.status == TaskStatus.DOING


def test_an_order_is_paid_after_an_idempotent_top_up(demo_data):
    report = demo_tick(rng=random.Random(1), operations=0, order_chance=1, due_chance=0)
    assert report.refused == [] and len(report.orders) == 1
    order = ShopOrder.objects.get(pk=report.orders[0])
    assert order.customer_id.startswith(DEMO_PREFIX)
    assert order.status == OrderStatus.PAID
    top_up = AccountLedgerEntry.objects.get(idempotency_key=f"demo-topup:order:{order.order_no}")
    assert top_up.amount >= order.total_amount
    # A second order for a customer with money left needs no new top-up.
    credits = AccountLedgerEntry.objects.filter(idempotency_key__startswith="demo-topup:").count()
    again = demo_tick(rng=random.Random(1), operations=0, order_chance=1, due_chance=0)
    assert ShopOrder.objects.get(pk=again.orders[0]).status == OrderStatus.PAID
    assert AccountLedgerEntry.objects.filter(idempotency_key__startswith="demo-topup:").count() == credits


def test_an_active_demo_suborder_falls_due_within_minutes(demo_data):
    now = timezone.now()
    order = ShopOrder.objects.create(order_no="DEMO-T-1", customer_id="demo-carol", status=OrderStatus.SUCCEEDED)
    suborder = ShopSubOrder.objects.create(
        order=order,
        customer_id="demo-carol",
        resource_type="vm",
        resource_id="vm-x",
        site_id="cn-east-1",
        billing_cycle="month",
        amount=Decimal("100.0000"),
        status=SubOrderStatus.ACTIVE,
        expire_at=now + timedelta(days=20),
    )
    others = dict(ShopSubOrder.objects.exclude(pk=suborder.pk).values_list("pk", "expire_at"))
    report = demo_tick(rng=random.Random(2), operations=0, order_chance=0, due_chance=1, now=now)
    assert report.fell_due == [suborder.pk]
    suborder.refresh_from_db()
    assert now + timedelta(minutes=2) <= suborder.expire_at <= now + timedelta(minutes=30)
    assert dict(ShopSubOrder.objects.exclude(pk=suborder.pk).values_list("pk", "expire_at")) == others
    assert services.account_get(customer_id="demo-carol").balance >= Decimal("100")


def test_bad_arguments_are_refused_before_anything_is_written(demo_data):
    before = ResUserOperation.objects.count()
    with pytest.raises(InvalidInput) as refused:
        demo_tick(rng=random.Random(), operations=-1)
    assert refused.value.field == "operations"
    with pytest.raises(InvalidInput) as refused:
        demo_tick(rng=random.Random(), order_chance=2)
    assert refused.value.field == "order_chance"
    assert ResUserOperation.objects.count() == before


def test_the_command_runs_a_bounded_number_of_ticks(demo_data):
    out = io.StringIO()
    call_command("demo_live", "--ticks", "2", "--interval", "0", "--seed", "4", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("tick ")]
    assert [line.split(":")[0] for line in lines] == ["tick 1/2", "tick 2/2"]
    assert ResUserOperation.objects.filter(customer_id__startswith=DEMO_PREFIX).count() >= 4


def test_the_demo_job_is_enabled_only_in_demo_mode(settings):
    import demo.schedules
    from tasks.management.commands.setup_periodic_tasks import declared_periodic_tasks

    try:
        settings.DEMO_MODE = False
        entry = next(e for e in importlib.reload(demo.schedules).PERIODIC_TASKS if e["task"] == "demo.tick")
        assert entry["enabled"] is False
        assert any(e["task"] == "demo.tick" and e["enabled"] is False for e in declared_periodic_tasks())
        settings.DEMO_MODE = True
        entry = next(e for e in importlib.reload(demo.schedules).PERIODIC_TASKS if e["task"] == "demo.tick")
        assert entry["enabled"] is True and entry["every"] > 0
    finally:
        settings.DEMO_MODE = False
        importlib.reload(demo.schedules)


def test_the_celery_task_does_nothing_outside_demo_mode(settings, demo_data):
    from demo.tasks import tick

    settings.DEMO_MODE = False
    assert tick() is None
    assert not ResUserOperation.objects.filter(customer_id__startswith=DEMO_PREFIX).exists()
    settings.DEMO_MODE = True
    assert len(tick()["operations"]) == 2
