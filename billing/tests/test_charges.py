"""Charging a period: quantities by kind, the price rule, rounding once, closed periods and adjustments."""

import threading
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.charges import charge_period, charge_previous_periods, period_end_of
from billing.charges.periods import previous_period_start
from billing.models import ChargeLine, ChargeLineKind, ChargePeriod, UsageSample
from billing.prices import price_change
from billing.pricing import CurrencyMismatch, NoValidPrice
from common.errors import Conflict, InvalidInput

from .conftest import hour_start, hourly_price, record, sample

pytestmark = pytest.mark.django_db


def line(item, resource="vm-1", **filters):
    return ChargeLine.objects.get(item_type__code=item, resource_id=resource, **filters)


def samples_2_5_3(item, start, **kwargs):
    return [
        sample(item, value, start + timedelta(minutes=minute), **kwargs) for minute, value in ((5, 2), (20, 5), (40, 3))
    ]


def test_samples_2_5_3_give_amount_10_peak_5_number_3(items):
    start = hour_start(3)
    for code in ("traffic", "bandwidth", "public_ip"):
        hourly_price(code, "1")
        record(*samples_2_5_3(code, start))
    result = charge_period(period_start=start, billing_cycle="hour", currency="CNY")
    assert result.created and result.lines == 3
    assert line("traffic").quantity == Decimal("10")
    assert line("bandwidth").quantity == Decimal("5")
    assert line("public_ip").quantity == Decimal("3")
    assert result.totals == {"CNY": Decimal("18.00")}


def test_one_line_per_resource_and_item_samples_outside_the_period_ignored(items):
    start = hour_start(3)
    hourly_price("traffic", "0.5")
    record(
        sample("traffic", "1", start, resource="vm-1"),
        sample("traffic", "2", start + timedelta(minutes=59), resource="vm-1"),
        sample("traffic", "4", start + timedelta(minutes=30), resource="vm-2", customer="cust-2"),
        sample("traffic", "100", start + timedelta(hours=1), resource="vm-1"),  # the next period
        sample("traffic", "100", start - timedelta(seconds=1), resource="vm-1"),  # the previous one
    )
    charge_period(period_start=start)
    assert ChargeLine.objects.count() == 2
    assert (line("traffic", "vm-1").quantity, line("traffic", "vm-1").amount) == (Decimal("3"), Decimal("1.50"))
    assert (line("traffic", "vm-2").customer_id, line("traffic", "vm-2").amount) == ("cust-2", Decimal("2.00"))


def test_three_times_0_333_is_rounded_only_at_the_line(items):
    start = hour_start(3)
    hourly_price("public_ip", "0.333")
    record(*samples_2_5_3("public_ip", start))
    charge_period(period_start=start)
    charged = line("public_ip")
    assert charged.amount_exact == Decimal("0.999")
    assert charged.amount == Decimal("1.00")  # 3 x round(0.333) would be 0.99


def test_1_005_rounds_half_up_to_1_01(items):
    start = hour_start(3)
    hourly_price("traffic", "1")
    record(sample("traffic", "1.005", start))
    charge_period(period_start=start)
    assert line("traffic").amount_exact == Decimal("1.005")
    assert line("traffic").amount == Decimal("1.01")


def test_zero_decimal_currency_jpy(items):
    start = hour_start(3)
    hourly_price("traffic", "0.5", currency="JPY")
    record(sample("traffic", "1", start), sample("traffic", "2", start + timedelta(minutes=1)))
    result = charge_period(period_start=start, currency="JPY")
    assert line("traffic").amount_exact == Decimal("1.5")
    assert line("traffic").amount == Decimal("2")
    assert result.totals == {"JPY": Decimal("2")}


def test_a_price_in_another_currency_is_refused_and_nothing_is_written(items):
    start = hour_start(3)
    hourly_price("traffic", "0.11", currency="USD")
    record(sample("traffic", "1", start))
    with pytest.raises(CurrencyMismatch):
        charge_period(period_start=start, currency="CNY")
    assert not ChargePeriod.objects.exists() and not ChargeLine.objects.exists()


def test_a_missing_price_refuses_the_period_which_stays_open(items):
    start = hour_start(3)
    hourly_price("traffic", "1")
    record(sample("traffic", "1", start), sample("bandwidth", "5", start))
    with pytest.raises(NoValidPrice, match="bandwidth@cn-east-1"):
        charge_period(period_start=start)
    assert not ChargePeriod.objects.exists() and not ChargeLine.objects.exists()
    hourly_price("bandwidth", "0.1")
    assert charge_period(period_start=start).lines == 2


def test_charging_twice_charges_once(items):
    start = hour_start(3)
    hourly_price("traffic", "1")
    record(sample("traffic", "4", start))
    first = charge_period(period_start=start)
    second = charge_period(period_start=start)
    assert (first.created, second.created) == (True, False)
    assert second.lines == 1
    assert ChargeLine.objects.count() == 1 and ChargePeriod.objects.count() == 1


def test_a_late_sample_creates_an_adjustment_in_the_open_period(items):
    closed, open_ = hour_start(4), hour_start(3)
    hourly_price("traffic", "2")
    hourly_price("bandwidth", "1")
    record(sample("traffic", "3", closed), sample("bandwidth", "5", closed))
    charge_period(period_start=closed)
    # Late: more traffic (amount 3 -> 4.5) and a higher peak (5 -> 7), both sampled in the closed hour.
    record(
        sample("traffic", "1.5", closed + timedelta(minutes=50)),
        sample("bandwidth", "7", closed + timedelta(minutes=50)),
        sample("traffic", "1", open_),
    )
    result = charge_period(period_start=open_)
    assert (result.lines, result.adjustments) == (1, 2)
    # The closed period's lines are untouched.
    assert line("traffic", kind="normal", period_start=closed).quantity == Decimal("3")
    assert line("bandwidth", kind="normal", period_start=closed).quantity == Decimal("5")
    traffic = line("traffic", kind=ChargeLineKind.ADJUSTMENT)
    assert (traffic.period_start, traffic.usage_period_start) == (open_, closed)
    assert (traffic.quantity, traffic.amount) == (Decimal("1.5"), Decimal("3.00"))
    peak = line("bandwidth", kind=ChargeLineKind.ADJUSTMENT)
    assert (peak.quantity, peak.amount) == (Decimal("2"), Decimal("2.00"))
    # The next period does not adjust again: the difference is now zero.
    later = charge_period(period_start=hour_start(2))
    assert later.adjustments == 0
    assert ChargeLine.objects.filter(kind=ChargeLineKind.ADJUSTMENT).count() == 2


def test_a_mid_period_price_change_applies_from_the_next_period(items):
    """The rule: a period is priced at the price valid at its start."""
    first, second = hour_start(4), hour_start(3)
    old = hourly_price("traffic", "1.00")
    new = price_change(
        item_code="traffic",
        site_id="cn-east-1",
        billing_cycle="hour",
        unit_price=Decimal("2.00"),
        effective_from=first + timedelta(minutes=30),
    )
    record(sample("traffic", "10", first + timedelta(minutes=45)), sample("traffic", "10", second))
    charge_period(period_start=first)
    charge_period(period_start=second)
    in_first = line("traffic", period_start=first)
    assert (in_first.price_id, in_first.unit_price, in_first.amount) == (old.pk, Decimal("1.00"), Decimal("10.00"))
    in_second = line("traffic", period_start=second)
    assert (in_second.price_id, in_second.unit_price, in_second.amount) == (new.pk, Decimal("2.00"), Decimal("20.00"))


def test_a_price_is_not_changed_under_charges_that_used_it(items):
    start = hour_start(3)
    hourly_price("traffic", "1")
    record(sample("traffic", "1", start))
    charge_period(period_start=start)
    with pytest.raises(Conflict) as refused:
        price_change(
            item_code="traffic", site_id="cn-east-1", billing_cycle="hour", unit_price="3", effective_from=start
        )
    assert refused.value.code == "price_used"
    later = price_change(
        item_code="traffic",
        site_id="cn-east-1",
        billing_cycle="hour",
        unit_price="3",
        effective_from=start + timedelta(hours=1),
    )
    assert later.valid_from == start + timedelta(hours=1)


def test_periods_that_have_not_ended_or_are_misaligned_are_refused(items):
    with pytest.raises(InvalidInput, match="not ended"):
        charge_period(period_start=hour_start(0))
    with pytest.raises(InvalidInput, match="on the hour"):
        charge_period(period_start=hour_start(3) + timedelta(minutes=5))
    with pytest.raises(InvalidInput):
        charge_period(period_start=hour_start(3), period_end=hour_start(1))
    assert not ChargePeriod.objects.exists()


def test_aggregation_is_done_by_the_database(items):
    """The query count does not grow with the number of samples or resources."""
    hourly_price("traffic", "1")
    charge_period(period_start=hour_start(7))  # both runs below then look for late samples alike
    counts = []
    for hours_ago, resources in ((6, 2), (5, 40)):
        start = hour_start(hours_ago)
        record(*[sample("traffic", "1", start, resource=f"vm-{n}") for n in range(resources) for _ in range(3)])
        # Samples of periods charged before arrived in time: none of them is late.
        UsageSample.objects.filter(sampled_at__lt=start).update(received_at=F("sampled_at"))
        with CaptureQueriesContext(connection) as queries:
            result = charge_period(period_start=start)
        assert result.lines == resources
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_the_previous_periods_are_charged_oldest_first_and_a_rerun_changes_nothing(items):
    hourly_price("traffic", "1")
    record(sample("traffic", "1", hour_start(2)), sample("traffic", "2", hour_start(1)))
    first = charge_previous_periods(billing_cycle="hour", periods=3)
    assert [r.period_start for r in first] == [hour_start(3), hour_start(2), hour_start(1)]
    assert [r.lines for r in first] == [0, 1, 1]
    again = charge_previous_periods(billing_cycle="hour", periods=3)
    assert [r.created for r in again] == [False, False, False]
    assert ChargeLine.objects.count() == 2


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "mysql", reason="concurrent writers need MariaDB/MySQL; SQLite serialises them"
)
def test_two_workers_charging_the_same_period_at_once_charge_it_once(items):
    start = hour_start(3)
    hourly_price("traffic", "1")
    record(*[sample("traffic", "1", start, resource=f"vm-{n}") for n in range(50)])
    barrier = threading.Barrier(2, timeout=20)
    outcomes = []

    def worker():
        try:
            barrier.wait()
            outcomes.append(charge_period(period_start=start).created)
        except Exception as error:  # noqa: BLE001 - reported below
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes, key=str) == [False, True]
    assert ChargeLine.objects.count() == 50 and ChargePeriod.objects.count() == 1


def test_month_and_year_periods_follow_the_calendar_in_the_platform_time_zone():
    tz = timezone.get_current_timezone()
    december = timezone.make_aware(datetime(2025, 12, 1), tz)
    assert period_end_of(billing_cycle="month", period_start=december) == timezone.make_aware(datetime(2026, 1, 1), tz)
    assert period_end_of(billing_cycle="year", period_start=timezone.make_aware(datetime(2025, 1, 1), tz)) == (
        timezone.make_aware(datetime(2026, 1, 1), tz)
    )
    assert previous_period_start("month", timezone.make_aware(datetime(2026, 1, 1), tz)) == december
    with pytest.raises(InvalidInput):
        period_end_of(billing_cycle="month", period_start=timezone.make_aware(datetime(2025, 12, 2), tz))
    with pytest.raises(InvalidInput) as unknown:
        period_end_of(billing_cycle="week", period_start=december)
    assert unknown.value.field == "billing_cycle"
