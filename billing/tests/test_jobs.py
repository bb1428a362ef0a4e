"""The periodic job and its schedule; the starting set of item types."""

from decimal import Decimal

import pytest
from django.conf import settings
from django_celery_beat.models import CrontabSchedule

from billing.models import BillingItemType, ChargeKind, ChargeLine
from billing.schedules import PERIODIC_TASKS
from billing.tasks import charge_previous_period

from .conftest import hour_start, hourly_price, record, sample


@pytest.mark.django_db
def test_the_job_charges_the_previous_hour_and_is_safe_to_run_twice(items):
    hourly_price("traffic", "0.8")
    record(sample("traffic", "2.5", hour_start(1)))
    first = charge_previous_period.apply(kwargs={"billing_cycle": "hour", "periods": 2}).get()
    second = charge_previous_period.apply(kwargs={"billing_cycle": "hour", "periods": 2}).get()
    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in second] == [False, False]
    assert first[1]["totals"] == {"CNY": "2.00"}
    assert list(ChargeLine.objects.values_list("amount", flat=True)) == [Decimal("2.00")]


@pytest.mark.django_db
def test_the_job_reports_a_period_it_cannot_charge(items):
    record(sample("traffic", "1", hour_start(1)))  # no price at all
    report = charge_previous_period.apply(kwargs={"billing_cycle": "hour", "periods": 1}).get()
    assert report[0]["error"] == "no_valid_price"


@pytest.mark.django_db
def test_the_schedules_are_valid_beat_schedules_routed_to_a_declared_queue():
    from celery import current_app

    assert current_app.tasks["billing.charge_previous_period"]
    for entry in PERIODIC_TASKS:
        assert entry["task"] == "billing.charge_previous_period"
        crontab = CrontabSchedule.objects.create(**entry["crontab"], timezone=settings.TIME_ZONE)
        assert crontab.schedule is not None
        assert 1 <= entry["kwargs"]["periods"] <= 744
    route = settings.CELERY_TASK_ROUTES["billing.*"]["queue"]
    assert route in {queue.name for queue in settings.CELERY_TASK_QUEUES}


@pytest.mark.django_db
def test_the_starting_set_of_item_types_is_loaded_by_migration():
    kinds = dict(BillingItemType.objects.values_list("code", "charge_kind"))
    assert {code: kinds.get(code) for code in ("bandwidth", "traffic", "public_ip")} == {
        "bandwidth": ChargeKind.PEAK,
        "traffic": ChargeKind.AMOUNT,
        "public_ip": ChargeKind.NUMBER,
    }
    assert {"vcpu", "memory", "system_disk", "data_disk"} <= set(kinds)
