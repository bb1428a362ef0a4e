"""Usage batches through billing's metering service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import BillingItemType, UsageSample

from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


def sample(n, **extra):
    item = BillingItemType.objects.get_or_create(
        code="traffic", defaults={"name": "Traffic", "unit": "GB", "charge_kind": "amount"}
    )[0]
    return {
        "sample_id": f"s-{n}",
        "customer_id": CUSTOMER_A,
        "site_id": "cn-east-1",
        "resource_type": "vm",
        "resource_id": "vm-1",
        "item": item.code,
        "value": "1.5",
        "unit": item.unit,
        "sampled_at": (timezone.now() - timedelta(minutes=n)).isoformat(),
        **extra,
    }


@pytest.fixture
def meter(make_client):
    return make_client(None, ["billing.add_usagesample"])


def test_a_batch_stores_good_rows_and_reports_bad_ones(meter):
    batch = [sample(1), sample(2, value="-1"), sample(3)]
    response = meter.post("/api/v1/usage/", {"samples": batch}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 1)
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["field"] == "value"
    again = meter.post("/api/v1/usage/", {"samples": batch}, format="json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert UsageSample.objects.count() == 2


def test_usage_is_for_metering_clients(customer_a, make_client):
    assert customer_a.post("/api/v1/usage/", {"samples": [sample(1)]}, format="json").status_code == 403
    bound = make_client(CUSTOMER_A, ["billing.add_usagesample"])
    response = bound.post("/api/v1/usage/", {"samples": [sample(1, customer_id=CUSTOMER_B)]}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "samples[0].customer_id"


def test_an_empty_or_malformed_batch_is_400(meter):
    assert meter.post("/api/v1/usage/", {"samples": []}, format="json").status_code == 400
    assert meter.post("/api/v1/usage/", {"samples": "all"}, format="json").status_code == 400
