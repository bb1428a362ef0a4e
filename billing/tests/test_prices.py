"""Prices: no overlapping validity (service, database, concurrent writers), changes as new rows, quotes."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import BillingItemType, BillResourcesPrice
from billing.prices import price_change, price_create
from billing.pricing import CurrencyMismatch, quote_suborder
from common.errors import Conflict, InvalidInput

from .conftest import SITE, hour_start

pytestmark = pytest.mark.django_db


def at(days):
    return hour_start(0) + timedelta(days=days)


def create(code="traffic", price="1", *, start, end=None, currency="CNY", site=SITE, cycle="hour"):
    return price_create(
        item_code=code,
        site_id=site,
        billing_cycle=cycle,
        unit_price=price,
        currency=currency,
        valid_from=start,
        valid_to=end,
    )


@pytest.mark.parametrize(
    "start,end",
    [(-5, 5), (-20, -5), (5, None), (-10, 10), (-11, -9), (9, 11)],
    ids=["inside", "starts-before", "open-ended-inside", "same", "meets-start", "meets-end"],
)
def test_the_service_refuses_overlapping_validity(items, start, end):
    create(start=at(-10), end=at(10))
    with pytest.raises(Conflict) as refused:
        create(start=at(start), end=at(end) if end is not None else None)
    assert refused.value.code == "price_overlap"
    assert BillResourcesPrice.objects.count() == 1


def test_adjacent_prices_and_other_sites_or_cycles_are_fine(items):
    create(start=at(-10), end=at(10))
    create(start=at(10))
    create(start=at(-10), site="cn-north-1")
    create(start=at(-10), cycle="month")
    assert BillResourcesPrice.objects.count() == 4


def test_bad_prices_are_refused_with_the_field(items):
    for kwargs, field in (
        ({"price": "-1"}, "unit_price"),
        ({"price": "0.123456789"}, "unit_price"),
        ({"price": 0.1}, "unit_price"),
        ({"currency": "XXX"}, "currency"),
        ({"cycle": "week"}, "billing_cycle"),
        ({"end": at(-20)}, "valid_to"),
    ):
        with pytest.raises(InvalidInput) as refused:
            create(**{"start": at(-10), **kwargs})
        assert refused.value.field == field
    assert create(price="0.12345678", start=at(-10)).unit_price == Decimal("0.12345678")


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_overlaps_without_the_service(items):
    first = BillResourcesPrice.objects.create(
        item_type=items["traffic"], site_id=SITE, billing_cycle="hour", unit_price=1, valid_from=at(-10)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BillResourcesPrice.objects.create(
            item_type=items["traffic"], site_id=SITE, billing_cycle="hour", unit_price=2, valid_from=at(5)
        )
    second = BillResourcesPrice.objects.create(
        item_type=items["traffic"],
        site_id=SITE,
        billing_cycle="hour",
        unit_price=2,
        valid_from=at(-30),
        valid_to=at(-20),
    )
    # An update that stretches a row over its neighbour is refused too.
    second.valid_to = at(-5)
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save(update_fields=["valid_to"])
    first.unit_price = 3  # an update that keeps the validity is fine
    first.save(update_fields=["unit_price"])
    assert BillResourcesPrice.objects.count() == 2


def test_price_change_ends_the_current_row_and_starts_a_new_one(items):
    old = create(price="1.00", start=at(-10))
    new = price_change(
        item_code="traffic", site_id=SITE, billing_cycle="hour", unit_price=Decimal("1.20"), effective_from=at(1)
    )
    old.refresh_from_db()
    assert (old.valid_to, new.valid_from, new.valid_to) == (at(1), at(1), None)
    assert (new.unit_price, new.currency) == (Decimal("1.20"), "CNY")
    # A change before an already scheduled one ends where that one starts.
    between = price_change(
        item_code="traffic", site_id=SITE, billing_cycle="hour", unit_price=Decimal("1.10"), effective_from=at(0)
    )
    old.refresh_from_db()
    assert (old.valid_to, between.valid_from, between.valid_to) == (at(0), at(0), at(1))
    with pytest.raises(Conflict):
        price_change(item_code="traffic", site_id=SITE, billing_cycle="hour", unit_price="2", effective_from=at(1))


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "mysql", reason="row locks exist only on MariaDB/MySQL; SQLite ignores them")
def test_two_concurrent_creates_cannot_both_pass(items):
    """A holds its new row uncommitted while B tries an overlapping one: B waits on the item lock, then is refused."""
    barrier = threading.Barrier(2, timeout=20)
    outcomes = {}

    def writer_a():
        try:
            with transaction.atomic():
                create(start=at(-10))
                barrier.wait()
                threading.Event().wait(1.0)  # keep the row uncommitted while B runs
            outcomes["a"] = "created"
        except Exception as error:  # noqa: BLE001 - reported below
            outcomes["a"] = repr(error)
        finally:
            connection.close()

    def writer_b():
        try:
            barrier.wait()
            create(price="2", start=at(-5))
            outcomes["b"] = "created"
        except Conflict as refusal:
            outcomes["b"] = refusal.code
        except Exception as error:  # noqa: BLE001
            outcomes["b"] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {"a": "created", "b": "price_overlap"}
    assert BillResourcesPrice.objects.count() == 1


def test_a_quote_in_another_currency_than_the_order_is_refused(items):
    for code in ("vcpu", "memory"):
        BillingItemType.objects.get_or_create(code=code, defaults={"name": code, "unit": "x", "charge_kind": "peak"})
    create("vcpu", "45", start=at(-10), cycle="month")
    create("memory", "20", start=at(-10), cycle="month", currency="USD")
    spec = {"cpu": 2, "memory_gb": 4}
    with pytest.raises(CurrencyMismatch):
        quote_suborder(
            resource_type="vm", spec=spec, site_id=SITE, billing_cycle="month", periods=1, at=at(0), currency="CNY"
        )
    quote = quote_suborder(
        resource_type="vm", spec={"cpu": 2}, site_id=SITE, billing_cycle="month", periods=3, at=at(0), currency="CNY"
    )
    assert quote.amount == Decimal("270.00")
