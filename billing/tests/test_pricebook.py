"""The batch path (PriceBook, one query) and quote_suborder give the same quote or the same refusal."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import BillingItemType
from billing.prices import price_change, price_create
from billing.pricing import CurrencyMismatch, NoValidPrice, PriceBook, quote_suborder
from common.errors import DomainError

from .conftest import SITE, hour_start

pytestmark = pytest.mark.django_db

NORTH = "cn-north-1"


def at(days):
    return hour_start(0) + timedelta(days=days)


@pytest.fixture
def month_prices(db):
    for code in ("vcpu", "memory", "bandwidth", "public_ip"):
        BillingItemType.objects.get_or_create(code=code, defaults={"name": code, "unit": "x", "charge_kind": "peak"})

    def create(code, price, *, site=SITE, currency="CNY"):
        price_create(
            item_code=code,
            site_id=site,
            billing_cycle="month",
            unit_price=price,
            currency=currency,
            valid_from=at(-60),
        )

    create("vcpu", "45")
    create("memory", "20")
    create("bandwidth", "23", currency="USD")
    create("public_ip", "5.125")
    create("vcpu", "40", site=NORTH)  # no memory price at NORTH
    # the vCPU price changes between two periods
    price_change(item_code="vcpu", site_id=SITE, billing_cycle="month", unit_price="50", effective_from=at(0))


def cases() -> dict[str, dict]:
    vm = {"resource_type": "vm", "spec": {"cpu": 2, "memory_gb": 4}}
    return {
        "before-the-change": {**vm, "at": at(-10)},
        "after-the-change": {**vm, "at": at(10)},
        "at-the-change-3-periods": {**vm, "periods": 3, "at": at(0)},
        "just-before-the-change": {"resource_type": "vm", "spec": {"cpu": 1}, "at": at(0) - timedelta(microseconds=1)},
        "rounded-once": {"resource_type": "nic", "spec": {"public_ips": 3}, "at": at(-10)},
        "currency-mismatch": {"resource_type": "vm", "spec": {"cpu": 2, "bandwidth_mbps": 5}, "at": at(-10)},
        "in-the-price-currency": {
            "resource_type": "pipe",
            "spec": {"bandwidth_mbps": 5},
            "at": at(-10),
            "currency": "USD",
        },
        "missing-price": {**vm, "at": at(-10), "site_id": NORTH},
        "before-any-price": {"resource_type": "vm", "spec": {"cpu": 2}, "at": at(-61)},
        "nothing-billable": {"resource_type": "vm", "spec": {"cpu_type": "x"}, "at": at(-10)},
    }


def full(request: dict) -> dict:
    return {"site_id": SITE, "billing_cycle": "month", "periods": 1, "currency": "CNY", **request}


def outcome(quote, **request):
    """A quote, or the refusal's class, code, field and message."""
    try:
        return quote(**request)
    except DomainError as refusal:
        return (type(refusal), refusal.code, refusal.field, refusal.message)


def test_the_batch_path_and_quote_suborder_agree_on_the_same_inputs(month_prices):
    requests = {name: full(request) for name, request in cases().items()}
    with CaptureQueriesContext(connection) as queries:
        book = PriceBook.load(
            site_ids={r["site_id"] for r in requests.values()},
            billing_cycles={"month"},
            earliest=min(r["at"] for r in requests.values()),
            latest=max(r["at"] for r in requests.values()),
        )
        batch = {name: outcome(book.quote, **request) for name, request in requests.items()}
    assert len(queries) == 1
    single = {name: outcome(quote_suborder, **request) for name, request in requests.items()}
    assert batch == single

    # ... and what they agree on is right: the price valid at the period start, rounded once.
    amounts = {name: found.amount for name, found in batch.items() if not isinstance(found, tuple)}
    assert amounts == {
        "before-the-change": Decimal("170.00"),  # 2 x 45 + 4 x 20
        "after-the-change": Decimal("180.00"),  # 2 x 50 + 4 x 20
        "at-the-change-3-periods": Decimal("540.00"),  # (2 x 50 + 4 x 20) x 3
        "just-before-the-change": Decimal("45.00"),
        "rounded-once": Decimal("15.38"),  # 3 x 5.125 = 15.375
        "in-the-price-currency": Decimal("115.00"),
        "nothing-billable": Decimal("0.00"),
    }
    assert batch["before-the-change"].lines[0].price_id != batch["after-the-change"].lines[0].price_id
    assert batch["rounded-once"].exact == Decimal("15.375")
    assert batch["currency-mismatch"][:3] == (CurrencyMismatch, "currency_mismatch", "currency")
    assert batch["missing-price"][:3] == (NoValidPrice, "no_valid_price", "spec")
    assert "memory" in batch["missing-price"][3]
    assert batch["before-any-price"][0] is NoValidPrice


def test_a_book_only_knows_the_range_it_loaded(month_prices):
    book = PriceBook.load(site_ids={SITE}, billing_cycles={"month"}, earliest=at(-10), latest=at(-5))
    assert book.price_at(item_code="vcpu", site_id=SITE, billing_cycle="month", at=at(-7)).unit_price == 45
    with pytest.raises(NoValidPrice):
        # the price from at(0) was not valid inside the loaded range, so it is not in the book
        book.price_at(item_code="vcpu", site_id=SITE, billing_cycle="month", at=at(10))
