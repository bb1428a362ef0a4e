"""Overlapping renewal runs on a database with row locks (MariaDB): nothing is renewed twice."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from orders.models import AccountLedgerEntry, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal
from orders.services import account_get, renewals_run

from .conftest import MONTH_PRICE, fund, local, make_suborder
from .test_renewals import WINDOW

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "mysql", reason="row locks (SKIP LOCKED) exist only on MariaDB/MySQL"),
]
NOW = local(2026, 2, 9)


def _in_thread(fn, results, index, barrier):
    try:
        barrier.wait(timeout=30)
        results[index] = fn()
    except Exception as error:  # reported by the test
        results[index] = error
    finally:
        connections.close_all()


def test_two_overlapping_runs_renew_nothing_twice(prices):
    customers = [f"cust-{n}" for n in range(5)]
    for customer in customers:
        fund(customer, "100000.00")
    for index in range(120):
        make_suborder(customer_id=customers[index % 5], start=local(2026, 1, 10, 9), resource_id=f"vm-{index}")
    barrier = threading.Barrier(2)
    results = [None, None]
    threads = [
        threading.Thread(
            target=_in_thread,
            args=(lambda: renewals_run(now=NOW, window=WINDOW, batch_size=10), results, n, barrier),
        )
        for n in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[0].renewed + results[1].renewed == 120
    assert ShopSuborderRenewal.objects.count() == 120
    assert AccountLedgerEntry.objects.filter(kind="debit").count() == 120
    assert ShopRenewalLog.objects.count() == 120
    for customer in customers:
        assert account_get(customer_id=customer).balance == Decimal("100000.00") - 24 * MONTH_PRICE
    assert set(ShopSubOrder.objects.values_list("expire_at", flat=True)) == {local(2026, 3, 10, 9)}


def test_a_run_skips_suborders_another_transaction_holds(prices):
    fund("cust-1", "100000.00")
    held = [make_suborder(start=local(2026, 1, 10, 9), resource_id=f"vm-{n}") for n in range(3)]
    free = [make_suborder(start=local(2026, 1, 10, 9), resource_id=f"vm-free-{n}") for n in range(4)]
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(ShopSubOrder.objects.select_for_update().filter(pk__in=[s.pk for s in held]))
                locked.set()
                release.wait(timeout=60)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        report = renewals_run(now=NOW, window=WINDOW)
    finally:
        release.set()
        holder.join(timeout=60)
    assert report.renewed == 4
    assert set(ShopSuborderRenewal.objects.values_list("suborder_id", flat=True)) == {s.pk for s in free}
    assert renewals_run(now=NOW, window=WINDOW).renewed == 3
