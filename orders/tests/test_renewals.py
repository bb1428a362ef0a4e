from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from billing.pricing import quote_suborder
from orders.models import (
    AccountLedgerEntry,
    RenewalFailReason,
    RenewalLogAction,
    RenewalStatus,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from orders.periods import period_end
from orders.services import account_get, renewal_key, renewals_run
from tasks.models import CloudTask

from .conftest import MONTH_PRICE, SHANGHAI, SITE, SPEC, fund, local, make_suborder, set_prices

pytestmark = pytest.mark.django_db
WINDOW = timedelta(hours=72)


def renewals_of(suborder):
    return list(
        ShopSuborderRenewal.objects.filter(suborder=suborder)
        .order_by("period_start")
        .values_list("period_start", "period_end", "status", "is_valid", "amount")
    )


def test_a_due_suborder_is_renewed_once_charged_and_logged(prices):
    fund("cust-1", "1000.00")
    start = local(2026, 1, 10, 9)
    suborder = make_suborder(start=start)  # expires 2026-02-10 09:00
    now = local(2026, 2, 8, 12)
    report = renewals_run(now=now, window=WINDOW)
    again = renewals_run(now=now, window=WINDOW)
    assert (report.renewed, report.failed, again.renewed) == (1, 0, 0)
    suborder.refresh_from_db()
    assert suborder.expire_at == local(2026, 3, 10, 9)
    assert renewals_of(suborder) == [(local(2026, 2, 10, 9), local(2026, 3, 10, 9), "SUCCEEDED", True, MONTH_PRICE)]
    assert account_get(customer_id="cust-1").balance == Decimal("1000.00") - MONTH_PRICE
    entry = AccountLedgerEntry.objects.get(kind="debit")
    assert entry.idempotency_key == renewal_key(suborder.pk, local(2026, 2, 10, 9))
    assert entry.renewal.suborder_id == suborder.pk
    log = ShopRenewalLog.objects.get()
    assert (log.action, log.outcome, log.amount, log.operator_name) == (
        "attempt",
        "succeeded",
        MONTH_PRICE,
        "celery-beat",
    )


def test_not_due_disabled_and_inactive_suborders_are_left_alone(prices):
    fund("cust-1", "1000.00")
    make_suborder(start=local(2026, 1, 10))  # due on Feb 10
    make_suborder(start=local(2026, 1, 1), auto_renew=False)
    make_suborder(start=local(2026, 1, 1), status=SubOrderStatus.CANCELLED)
    report = renewals_run(now=local(2026, 1, 30), window=WINDOW)
    assert report.renewed == 0 and not ShopSuborderRenewal.objects.exists()


def test_the_price_valid_at_the_period_start_is_charged(prices):
    fund("cust-1", "1000.00")
    suborder = make_suborder(start=local(2026, 1, 10, 9))
    set_prices(valid_from=local(2026, 2, 10, 9), factor=Decimal(2))  # new prices from the period start
    renewals_run(now=local(2026, 2, 9), window=WINDOW)
    renewal = ShopSuborderRenewal.objects.get(suborder=suborder)
    assert renewal.amount == MONTH_PRICE * 2
    assert {line["unit_price"] for line in renewal.price_lines} == {
        "90.00000000",
        "40.00000000",
        "1.00000000",
        "46.00000000",
    }


def test_missed_days_renew_each_missed_period_once_in_order(prices):
    fund("cust-1", "5000.00")
    suborder = make_suborder(start=local(2025, 10, 31, 8))  # Nov 30, Dec 31 and Jan 31 passed unrenewed
    report = renewals_run(now=local(2026, 2, 1), window=WINDOW)
    assert report.renewed == 3
    starts = [row[0] for row in renewals_of(suborder)]
    assert starts == [local(2025, 11, 30, 8), local(2025, 12, 31, 8), local(2026, 1, 31, 8)]
    suborder.refresh_from_db()
    assert suborder.expire_at == local(2026, 2, 28, 8)  # the anchor (31st) clamps to Feb 28
    assert renewals_run(now=local(2026, 2, 1), window=WINDOW).renewed == 0
    entries = AccountLedgerEntry.objects.filter(kind="debit").order_by("pk")
    assert [e.renewal.period_start for e in entries] == starts
    assert account_get(customer_id="cust-1").balance == Decimal("5000.00") - 3 * MONTH_PRICE


def test_month_end_anchoring_across_runs(prices):
    fund("cust-1", "5000.00")
    suborder = make_suborder(start=local(2024, 1, 31, 10))  # leap year: Feb 29
    expiries = []
    for now in (local(2024, 2, 28), local(2024, 3, 30), local(2024, 4, 29)):
        renewals_run(now=now, window=WINDOW)
        suborder.refresh_from_db()
        expiries.append(suborder.expire_at)
    assert expiries == [local(2024, 3, 31, 10), local(2024, 4, 30, 10), local(2024, 5, 31, 10)]
    assert renewals_of(suborder)[0][0] == local(2024, 2, 29, 10)


def failed_renewal(prices_fixture=None, *, balance="100.00"):
    fund("cust-1", balance)
    suborder = make_suborder(start=local(2026, 1, 10, 9))
    report = renewals_run(now=local(2026, 2, 9), window=WINDOW)
    assert report.failed == 1
    return suborder, ShopSuborderRenewal.objects.get(suborder=suborder)


def test_insufficient_balance_is_stored_failed_with_reason_and_logged(prices):
    suborder, renewal = failed_renewal()
    assert (renewal.status, renewal.is_valid, renewal.fail_reason) == ("FAILED", False, "insufficient_balance")
    assert renewal.amount == MONTH_PRICE and renewal.attempts == 1
    assert renewal.next_retry_at == local(2026, 2, 9) + timedelta(minutes=30)
    log = ShopRenewalLog.objects.get()
    assert (log.outcome, log.fail_reason) == ("failed", "insufficient_balance")
    assert "100.00" in log.reason
    suborder.refresh_from_db()
    assert suborder.expire_at == local(2026, 2, 10, 9) and suborder.status == "ACTIVE"
    assert account_get(customer_id="cust-1").balance == Decimal("100.00")


def test_failed_renewals_are_retried_with_backoff_on_the_same_row(prices):
    suborder, renewal = failed_renewal()
    assert renewals_run(now=local(2026, 2, 9, 0, 20), window=WINDOW).failed == 0  # before next_retry_at
    assert renewals_run(now=local(2026, 2, 9, 0, 31), window=WINDOW).failed == 1
    renewal.refresh_from_db()
    assert renewal.attempts == 2 and renewal.next_retry_at == local(2026, 2, 9, 0, 31) + timedelta(hours=1)
    fund("cust-1", "1000.00")
    assert renewals_run(now=local(2026, 2, 9, 1, 40), window=WINDOW).renewed == 1
    renewal.refresh_from_db()
    assert (renewal.status, renewal.is_valid, renewal.attempts) == ("SUCCEEDED", True, 3)
    assert ShopSuborderRenewal.objects.filter(suborder=suborder).count() == 1
    assert ShopRenewalLog.objects.filter(action="attempt").count() == 3


def test_no_valid_price_and_resource_gone_are_failures_with_their_reason(prices):
    fund("cust-1", "1000.00")
    gone = make_suborder(start=local(2026, 1, 10, 9), resource_id="")
    destroyed = make_suborder(start=local(2026, 1, 10, 9), resource_id="vm-destroyed")
    CloudTask.objects.create(
        task_type="delete_vm", customer_id="cust-1", resource_type="vm", resource_id="vm-destroyed", status="DONE"
    )
    other_site = make_suborder(start=local(2026, 1, 10, 9))
    ShopSubOrder.objects.filter(pk=other_site.pk).update(site_id="mars-1")
    renewals_run(now=local(2026, 2, 9), window=WINDOW)
    reasons = dict(ShopSuborderRenewal.objects.values_list("suborder_id", "fail_reason"))
    assert reasons == {
        gone.pk: RenewalFailReason.RESOURCE_GONE,
        destroyed.pk: RenewalFailReason.RESOURCE_GONE,
        other_site.pk: RenewalFailReason.NO_VALID_PRICE,
    }


def test_grace_period_over_suspends_and_places_a_stop_operation(prices, placed_operations):
    with override_settings(RENEWAL_GRACE_DAYS=3):
        suborder, renewal = failed_renewal()
        # the retry falls due at the latest when the grace period ends (Feb 13 09:00)
        renewals_run(now=local(2026, 2, 12), window=WINDOW)
        renewal.refresh_from_db()
        assert renewal.next_retry_at <= local(2026, 2, 13, 9)
        suborder.refresh_from_db()
        assert suborder.status == SubOrderStatus.ACTIVE and placed_operations() == []
        report = renewals_run(now=local(2026, 2, 13, 9), window=WINDOW)
        assert report.suspended == 1
        suborder.refresh_from_db()
        assert suborder.status == SubOrderStatus.SUSPENDED
        [stop] = placed_operations()
        assert (stop["task_type"], stop["resource_id"], stop["suborder_id"]) == ("stop_vm", "vm-1", suborder.pk)
        assert ShopRenewalLog.objects.filter(action=RenewalLogAction.SUSPEND).count() == 1
        # still failing later: no second suspension, no second stop
        renewals_run(now=local(2026, 2, 15), window=WINDOW)
        assert len(placed_operations()) == 1
        # the customer tops up: the next retry renews, resumes and places the start operation
        fund("cust-1", "1000.00")
        report = renewals_run(now=local(2026, 2, 20), window=WINDOW)
        assert (report.renewed, report.resumed) == (1, 1)
        suborder.refresh_from_db()
        assert suborder.status == SubOrderStatus.ACTIVE and suborder.expire_at == local(2026, 3, 10, 9)
        assert [op["task_type"] for op in placed_operations()] == ["stop_vm", "start_vm"]


def test_queries_per_batch_are_fixed_so_queries_per_renewal_do_not_grow(prices):
    def run(n, customer):
        fund(customer, "100000.00")
        for index in range(n):
            make_suborder(customer_id=customer, start=local(2026, 1, 10 + index % 5, 9), resource_id=f"vm-{index}")
        with CaptureQueriesContext(connection) as queries:
            report = renewals_run(now=local(2026, 2, 15), window=WINDOW, batch_size=10)
        assert report.renewed == n
        return len(queries), report.batches

    idle, _ = run(0, "c-none")
    small, small_batches = run(20, "c-small")
    large, large_batches = run(60, "c-large")
    assert (small_batches, large_batches) == (2, 6)
    per_batch = (small - idle) / small_batches
    assert per_batch == (large - idle) / large_batches
    assert per_batch <= 15
    assert ShopSuborderRenewal.objects.count() == 80
    assert ShopRenewalLog.objects.count() == 80


def test_batches_split_the_work_and_each_is_fixed_cost(prices):
    fund("cust-1", "100000.00")
    for index in range(7):
        make_suborder(start=local(2026, 1, 10, 9), resource_id=f"vm-{index}")
    report = renewals_run(now=local(2026, 2, 9), window=WINDOW, batch_size=3)
    assert (report.renewed, report.batches) == (7, 3)


def test_a_broken_spec_is_a_program_error_and_does_not_stop_the_batch(prices):
    fund("cust-1", "1000.00")
    broken = make_suborder(start=local(2026, 1, 10, 9), resource_id="vm-broken")
    ShopSubOrder.objects.filter(pk=broken.pk).update(spec={"cpu": "two", "memory_gb": 4})
    fine = make_suborder(start=local(2026, 1, 10, 9), resource_id="vm-fine")
    report = renewals_run(now=local(2026, 2, 9), window=72)
    assert (report.renewed, report.failed) == (1, 1)
    renewal = ShopSuborderRenewal.objects.get(suborder=broken)
    assert (renewal.status, renewal.fail_reason) == ("FAILED", RenewalFailReason.PROGRAM_ERROR)
    assert renewal.fail_detail
    assert ShopSuborderRenewal.objects.get(suborder=fine).status == RenewalStatus.SUCCEEDED


def test_the_window_comes_from_settings_by_default(prices):
    fund("cust-1", "1000.00")
    make_suborder(start=local(2026, 1, 10, 9))  # expires Feb 10 09:00
    with override_settings(RENEWAL_WINDOW_HOURS=24):
        assert renewals_run(now=local(2026, 2, 9, 8)).renewed == 0
        assert renewals_run(now=local(2026, 2, 9, 10)).renewed == 1


def test_rows_of_one_batch_are_each_priced_dated_and_worded_as_if_renewed_alone(prices):
    fund("cust-1", "100000.00")
    fund("cust-2", "100000.00")
    set_prices(valid_from=local(2026, 2, 11, 9), factor=Decimal(3))  # a new price from the 11th on
    cases = [
        (local(2026, 1, 10, 9), SPEC, "cust-1"),
        (local(2026, 1, 10, 9), {**SPEC, "cpu": 2.0}, "cust-2"),  # equal quantity, written "2.0": its own lines
        (local(2026, 1, 10, 9), {**SPEC, "memory_gb": 8}, "cust-1"),
        (local(2026, 1, 11, 9), SPEC, "cust-2"),  # same spec, later start: the new price
        (local(2025, 12, 31, 9), SPEC, "cust-1"),  # anchored on the 31st: Jan 31 -> Feb 28
        (local(2026, 1, 10, 9), SPEC, "cust-2"),
        (local(2026, 1, 10, 9), {**SPEC, "tags": ["web"], "cpu": 4}, "cust-1"),  # a list inside: no memo key
    ]
    suborders = []
    for index, (start, spec, customer) in enumerate(cases):
        suborder = make_suborder(customer_id=customer, start=start, resource_id=f"vm-{index}")
        ShopSubOrder.objects.filter(pk=suborder.pk).update(spec=spec)
        suborders.append(suborder)
    report = renewals_run(now=local(2026, 2, 9), window=timedelta(days=3), batch_size=100)
    assert (report.renewed, report.failed, report.batches) == (7, 0, 1)
    for suborder, (start, spec, customer) in zip(suborders, cases, strict=True):
        suborder.refresh_from_db()
        renewal = ShopSuborderRenewal.objects.get(suborder=suborder)
        alone = quote_suborder(
            resource_type="vm",
            spec=spec,
            site_id=SITE,
            billing_cycle="month",
            periods=1,
            at=renewal.period_start,
            currency="CNY",
        )
        assert (renewal.amount, renewal.price_lines) == (alone.amount, alone.as_json())
        assert renewal.period_end == period_end(renewal.period_start, billing_cycle="month", anchor_day=start.day)
        assert suborder.expire_at == renewal.period_end
        entry = AccountLedgerEntry.objects.get(renewal=renewal)
        assert (entry.customer_id, entry.amount) == (customer, alone.amount)
        day = renewal.period_start.astimezone(SHANGHAI)  # the tests' time zone
        assert entry.reason == f"Renewal of sub-order {suborder.pk} from {day:%Y-%m-%d}"
        assert entry.idempotency_key == renewal_key(suborder.pk, renewal.period_start)
    lines = {s.pk: ShopSuborderRenewal.objects.get(suborder=s).price_lines for s in suborders}
    assert lines[suborders[0].pk] != lines[suborders[1].pk]  # "2" and "2.0"
    assert lines[suborders[0].pk] == lines[suborders[5].pk]
