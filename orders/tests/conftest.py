"""Fixtures of the orders tests: prices, CPU types, accounts and sub-orders built through real rows."""

from __future__ import annotations

import sys
import types
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from billing.models import BillingItemType, BillResourcesPrice, ChargeKind
from coretasker.models import CpuTypeTpl
from orders.models import ShopOrder, ShopSubOrder, SubOrderStatus

SITE = "cn-east-1"
SPEC = {"cpu_type": "xeon-6248", "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}
# 2*45 + 4*20 + 40*0.5 + 5*23 = 305 per month
MONTH_PRICE = Decimal("305.00")
UNIT_PRICES = {"vcpu": "45", "memory": "20", "system_disk": "0.5", "bandwidth": "23"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def set_prices(*, valid_from: datetime, factor: Decimal = Decimal(1), cycle: str = "month", site: str = SITE):
    for code, price in UNIT_PRICES.items():
        item, _ = BillingItemType.objects.get_or_create(
            code=code, defaults={"name": code, "unit": "u", "charge_kind": ChargeKind.NUMBER}
        )
        previous = BillResourcesPrice.objects.filter(
            item_type=item, site_id=site, billing_cycle=cycle, valid_to__isnull=True
        ).first()
        if previous is not None:
            previous.valid_to = valid_from
            previous.save(update_fields=["valid_to"])
        BillResourcesPrice.objects.create(
            item_type=item,
            site_id=site,
            billing_cycle=cycle,
            unit_price=Decimal(price) * factor,
            valid_from=valid_from,
        )


@pytest.fixture
def prices(db):
    set_prices(valid_from=local(2020, 1, 1))
    set_prices(valid_from=local(2020, 1, 1), cycle="year")
    CpuTypeTpl.objects.get_or_create(code="xeon-6248", defaults={"name": "Xeon Gold 6248"})


def fund(customer_id: str, amount: str) -> None:
    from orders.services import account_credit

    account_credit(
        customer_id=customer_id,
        amount=Decimal(amount),
        currency="CNY",
        reason="test top-up",
        user=None,
        idempotency_key=f"test-fund:{customer_id}:{timezone.now().timestamp()}:{amount}",
    )


def make_suborder(
    *,
    customer_id: str = "cust-1",
    start: datetime,
    expire_at: datetime | None = None,
    cycle: str = "month",
    status: str = SubOrderStatus.ACTIVE,
    resource_id: str = "vm-1",
    auto_renew: bool = True,
    order: ShopOrder | None = None,
) -> ShopSubOrder:
    from orders.periods import period_end

    order = order or ShopOrder.objects.create(
        order_no=f"T{ShopOrder.objects.count() + 1:06d}{customer_id}"[:32], customer_id=customer_id, status="SUCCEEDED"
    )
    return ShopSubOrder.objects.create(
        order=order,
        customer_id=customer_id,
        resource_type="vm",
        resource_id=resource_id,
        site_id=SITE,
        spec=SPEC,
        billing_cycle=cycle,
        periods=1,
        unit_price=MONTH_PRICE,
        amount=MONTH_PRICE,
        status=status,
        auto_renew=auto_renew,
        service_start=start,
        expire_at=expire_at or period_end(start, billing_cycle=cycle),
    )


@pytest.fixture
def placed_operations(monkeypatch):
    """The stop/start operations placed through ``tasks.services.operation_place``.

    With the tasker installed, they are the real ``res_user_operation`` rows. Without
    it, a stand-in with the contract's exact keyword-only signature records the calls.
    """
    try:
        from tasks.services import operation_place  # noqa: F401
    except ImportError:
        calls: list[dict] = []

        def operation_place(
            *,
            customer_id,
            task_type,
            resource_type,
            resource_id,
            site_id="",
            params=None,
            user=None,
            order_id=None,
            suborder_id=None,
        ):
            calls.append(
                {
                    "customer_id": customer_id,
                    "task_type": task_type,
                    "resource_type": resource_type,
                    "resource_id": resource_id,
                    "site_id": site_id,
                    "order_id": order_id,
                    "suborder_id": suborder_id,
                }
            )

        module = types.ModuleType("tasks.services")
        module.operation_place = operation_place
        monkeypatch.setitem(sys.modules, "tasks.services", module)
        return lambda: list(calls)

    from tasks.models import ResUserOperation

    return lambda: list(
        ResUserOperation.objects.order_by("pk").values(
            "customer_id", "task_type", "resource_type", "resource_id", "site_id", "order_id", "suborder_id"
        )
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)
