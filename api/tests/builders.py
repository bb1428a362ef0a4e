"""Rows for API tests, one function per table, each row owned by a given customer.

Only reads are tested with rows made here; writes go through the real services.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import BillingCycle, BillingItemType, BillResourcesPrice, ChargeKind
from coretasker.models import CpuTypeTpl, TargetType, WorkflowSubtask, WorkflowTask
from orders.models import (
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopOrder,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
)
from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, ResUserOperation, SubtaskStatus, TaskStatus

_seq = itertools.count(1)
SPEC = {"cpu_type": "intel", "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}


def operation(customer_id: str, **fields) -> ResUserOperation:
    n = next(_seq)
    defaults = {"task_type": "create_vm", "resource_type": "vm", "resource_id": f"vm-{n}", "site_id": "cn-east-1"}
    return ResUserOperation.objects.create(customer_id=customer_id, **{**defaults, **fields})


def task(customer_id: str, *, steps: int = 3, errors: int = 1, **fields) -> CloudTask:
    """A task from a new operation, with ``steps`` subtasks (created out of order) and error logs."""
    op = operation(customer_id)
    defaults = {
        "task_type": op.task_type,
        "resource_type": "vm",
        "resource_id": op.resource_id,
        "status": TaskStatus.ERROR,
    }
    created = CloudTask.objects.create(operation=op, customer_id=customer_id, **{**defaults, **fields})
    subtasks = {}
    for step in reversed(range(1, steps + 1)):  # reversed: flow order must come from step, not id
        subtasks[step] = CloudTaskSubtask.objects.create(
            task=created,
            step=step,
            action=f"step_{step}",
            status=SubtaskStatus.ERROR if step == steps else SubtaskStatus.DONE,
        )
    for attempt in range(errors):
        CloudTaskErrorLog.objects.create(
            task=created,
            subtask=subtasks.get(steps),
            step=steps,
            attempt=attempt,
            error_class="DriverRefusal",
            message="no capacity (simulated cloud)",
            traceback="Traceback: secret internals",
        )
    return created


def order(customer_id: str, *, suborders: int = 2, renewals: int = 1) -> ShopOrder:
    n = next(_seq)
    created = ShopOrder.objects.create(order_no=f"T{n:08d}", customer_id=customer_id, total_amount=Decimal("10"))
    start = timezone.now() - timedelta(days=30)
    for index in range(suborders):
        suborder = ShopSubOrder.objects.create(
            order=created,
            customer_id=customer_id,
            resource_type="vm",
            resource_id=f"vm-{n}-{index}",
            site_id="cn-east-1",
            spec=SPEC,
            billing_cycle="month",
            unit_price=Decimal("5"),
            amount=Decimal("5"),
        )
        for period in range(renewals):
            period_start = start + timedelta(days=30 * period)
            renewal = ShopSuborderRenewal.objects.create(
                suborder=suborder,
                period_start=period_start,
                period_end=period_start + timedelta(days=30),
                amount=Decimal("5"),
                status=RenewalStatus.FAILED,
            )
            ShopRenewalLog.objects.create(
                renewal=renewal,
                suborder=suborder,
                customer_id=customer_id,
                site_id="cn-east-1",
                billing_cycle="month",
                period_start=renewal.period_start,
                period_end=renewal.period_end,
                action=RenewalLogAction.ATTEMPT,
                outcome=RenewalLogOutcome.FAILED,
                reason="insufficient balance",
                amount=Decimal("5"),
                operator_name="scheduler",
            )
    return created


def catalogue(count: int = 1) -> None:
    """Item types with a price each, CPU types, and coreTasker workflow tasks with a plan."""
    for _ in range(count):
        n = next(_seq)
        item = BillingItemType.objects.create(code=f"item{n}", name=f"Item {n}", unit="GB", charge_kind=ChargeKind.PEAK)
        BillResourcesPrice.objects.create(
            item_type=item,
            site_id="cn-east-1",
            billing_cycle=BillingCycle.MONTH,
            unit_price=Decimal("1.5"),
            valid_from=timezone.now() - timedelta(days=1),
        )
        CpuTypeTpl.objects.create(name=f"CPU {n}", code=f"cpu{n}")
        workflow = WorkflowTask.objects.create(
            target_type=TargetType.VM, task_type="create_vm", customer_id=f"cust-{n}", target_obj=f"vm-{n}"
        )
        for step in (1, 2):
            WorkflowSubtask.objects.create(parent=workflow, step=step, agent="sim", is_last=step == 2)


def vm_prices(site_id: str = "cn-east-1") -> None:
    """A monthly unit price for every item a VM is billed by (item types are shared: get or create)."""
    from billing.pricing import RESOURCE_ITEMS

    for code, _spec_key in RESOURCE_ITEMS["vm"]:
        item, _ = BillingItemType.objects.get_or_create(
            code=code, defaults={"name": code, "unit": "unit", "charge_kind": ChargeKind.NUMBER}
        )
        if not item.prices.filter(site_id=site_id, billing_cycle=BillingCycle.MONTH).exists():
            BillResourcesPrice.objects.create(
                item_type=item,
                site_id=site_id,
                billing_cycle=BillingCycle.MONTH,
                unit_price=Decimal("10"),
                valid_from=timezone.now() - timedelta(days=400),
            )


def cpu_type() -> CpuTypeTpl:
    return CpuTypeTpl.objects.order_by("code").first() or CpuTypeTpl.objects.create(name="Test CPU", code="test_cpu")


def charge_lines(customer_id: str, count: int = 1) -> None:
    """Charge lines of past hours (rows only: the charging run itself is billing's to test)."""
    from billing.models import ChargeLine

    item, _ = BillingItemType.objects.get_or_create(
        code="traffic", defaults={"name": "Traffic", "unit": "GB", "charge_kind": ChargeKind.AMOUNT}
    )
    start = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    price = BillResourcesPrice.objects.create(
        item_type=item,
        site_id=f"site-{next(_seq)}",
        billing_cycle=BillingCycle.HOUR,
        unit_price=Decimal("0.8"),
        valid_from=start - timedelta(days=1),
    )
    for hour in range(count):
        period_start = start + timedelta(hours=hour)
        ChargeLine.objects.create(
            billing_cycle=BillingCycle.HOUR,
            period_start=period_start,
            period_end=period_start + timedelta(hours=1),
            usage_period_start=period_start,
            usage_period_end=period_start + timedelta(hours=1),
            customer_id=customer_id,
            site_id=price.site_id,
            resource_type="vm",
            resource_id=f"vm-{next(_seq)}",
            item_type=item,
            quantity=Decimal("2"),
            unit_price=price.unit_price,
            price=price,
            amount_exact=Decimal("1.6"),
            amount=Decimal("1.6"),
            currency="CNY",
        )


def ledger(customer_id: str, count: int = 1) -> None:
    """Ledger entries through the accounts service."""
    from orders.services import account_credit

    for _ in range(count):
        account_credit(
            customer_id=customer_id,
            amount=Decimal("1.00"),
            currency="CNY",
            reason="top-up",
            user=None,
            idempotency_key=f"builder-{next(_seq)}",
        )
