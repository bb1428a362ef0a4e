from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from opsplatform.celery import app
from orders.models import ShopSuborderRenewal
from orders.schedules import PERIODIC_TASKS

from .conftest import fund, make_suborder


@pytest.fixture(autouse=True)
def _worker_modules():
    """What a worker imports at start-up: every app's tasks module (autodiscovery)."""
    app.loader.import_default_modules()


def test_the_renewal_task_is_registered_and_routed_to_the_operation_queue():
    assert "orders.renewals_run" in app.tasks
    route = app.amqp.router.route({}, "orders.renewals_run")
    assert route["queue"].name == "queue_operation_task_V3"


def test_periodic_tasks_are_declared_as_data_naming_registered_tasks():
    assert PERIODIC_TASKS
    for entry in PERIODIC_TASKS:
        assert ("every" in entry) != ("crontab" in entry)
        assert entry["task"] in app.tasks
        assert entry.get("every", 1) > 0


@pytest.mark.django_db
def test_the_task_runs_the_renewals_now(prices):
    fund("cust-1", "1000.00")
    suborder = make_suborder(start=timezone.now() - timedelta(days=30), expire_at=timezone.now())
    result = app.tasks["orders.renewals_run"].apply(kwargs={}).get()
    assert result["renewed"] == 1
    assert ShopSuborderRenewal.objects.get(suborder=suborder).amount > Decimal(0)
