"""Billing test helpers: item types, prices and samples built through the real services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import BillingItemType, ChargeKind
from billing.prices import price_create
from billing.usage import usage_record_batch

SITE = "cn-east-1"
ITEMS = {
    "traffic": ("GB", ChargeKind.AMOUNT),
    "bandwidth": ("Mbps", ChargeKind.PEAK),
    "public_ip": ("count", ChargeKind.NUMBER),
}


@pytest.fixture
def items(db):
    """The three kinds, whether or not a transactional test flushed the migration's rows."""
    found = {}
    for code, (unit, kind) in ITEMS.items():
        found[code], _ = BillingItemType.objects.get_or_create(
            code=code, defaults={"name": code, "unit": unit, "charge_kind": kind}
        )
    return found


_current_hour = {}


@pytest.fixture(autouse=True)
def _one_current_hour_per_test():
    """Every ``hour_start`` of a test counts from the same hour, even if the clock passes an hour."""
    _current_hour["start"] = timezone.localtime(timezone.now()).replace(minute=0, second=0, microsecond=0)
    yield
    _current_hour.clear()


def hour_start(hours_ago: int):
    """The start of a complete hour, ``hours_ago`` hours before the hour the test started in."""
    return _current_hour["start"] - timedelta(hours=hours_ago)


def hourly_price(code, unit_price, *, currency="CNY", site=SITE, days_back=30, valid_from=None):
    return price_create(
        item_code=code,
        site_id=site,
        billing_cycle="hour",
        unit_price=Decimal(unit_price),
        currency=currency,
        valid_from=valid_from or hour_start(24 * days_back),
    )


_counter = iter(range(1, 10**9))


def sample(item, value, at, *, resource="vm-1", customer="cust-1", site=SITE, unit=None, sample_id=None):
    return {
        "sample_id": sample_id or f"s-{next(_counter)}",
        "customer_id": customer,
        "site_id": site,
        "resource_type": "vm",
        "resource_id": resource,
        "item": item,
        "value": value,
        "unit": unit or ITEMS.get(item, ("GB",))[0],
        "sampled_at": at,
    }


def record(*rows):
    result = usage_record_batch(samples=list(rows))
    assert result.errors == [], result.errors
    return result
