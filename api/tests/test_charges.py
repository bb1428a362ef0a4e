"""Charge lines made by billing's charging run from usage reported through the API, read through the API."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import charges
from billing.models import BillingCycle, BillingItemType, BillResourcesPrice, ChargeLine

from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(make_client):
    """Usage of two customers in the last full hour, reported through the API and charged by billing."""
    item, _ = BillingItemType.objects.get_or_create(
        code="traffic", defaults={"name": "Traffic", "unit": "GB", "charge_kind": "amount"}
    )
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    BillResourcesPrice.objects.create(
        item_type=item,
        site_id="cn-east-1",
        billing_cycle=BillingCycle.HOUR,
        unit_price=Decimal("0.8"),
        valid_from=start - timedelta(days=1),
    )
    meter = make_client(None, ["billing.add_usagesample"])
    samples = [
        {
            "sample_id": f"{customer}-{n}",
            "customer_id": customer,
            "site_id": "cn-east-1",
            "resource_type": "vm",
            "resource_id": f"vm-{customer}",
            "item": item.code,
            "value": "2.5",
            "unit": item.unit,
            "sampled_at": (start + timedelta(minutes=10 * n)).isoformat(),
        }
        for customer in (CUSTOMER_A, CUSTOMER_B)
        for n in range(3)
    ]
    assert meter.post("/api/v1/usage/", {"samples": samples}, format="json").json()["accepted"] == 6
    charges.charge_period(period_start=start, billing_cycle=BillingCycle.HOUR, currency="CNY")
    return start


def test_charges_are_scoped_and_filtered(charged, customer_a, make_client):
    rows = customer_a.get("/api/v1/charges/").json()["results"]
    assert [(row["customer_id"], row["quantity"], row["amount"]) for row in rows] == [
        (CUSTOMER_A, "7.500000", "6.0000")
    ]
    other = ChargeLine.objects.get(customer_id=CUSTOMER_B)
    assert customer_a.get(f"/api/v1/charges/{other.pk}/").status_code == 404
    finance = make_client(None, ["billing.view_chargeline"])
    assert finance.get("/api/v1/charges/").json()["count"] == 2
    assert finance.get("/api/v1/charges/", {"customer": CUSTOMER_B}).json()["results"][0]["id"] == other.pk
    assert (
        finance.get("/api/v1/charges/", {"period_after": (charged + timedelta(hours=1)).isoformat()}).json()["count"]
        == 0
    )
