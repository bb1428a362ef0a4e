"""Placing and paying orders, marking renewals valid, exporting renewal logs: through orders.services."""

from decimal import Decimal

import pytest

from orders import services
from orders.models import ShopOrder, ShopRenewalLog

from . import builders
from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


def vm_item(**extra):
    cpu = builders.cpu_type()
    spec = {"cpu_type": cpu.code, "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}
    return {"resource_type": "vm", "site_id": "cn-east-1", "spec": spec, "billing_cycle": "month", **extra}


def credit(customer_id, amount):
    services.account_credit(
        customer_id=customer_id,
        amount=Decimal(amount),
        currency="CNY",
        reason="top-up for tests",
        user=None,
        idempotency_key=f"test-topup-{customer_id}-{amount}",
    )


def place(client, **body):
    response = client.post("/api/v1/orders/", {"items": [vm_item()], **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_customer_places_and_pays_an_order(customer_a):
    builders.vm_prices()
    order = place(customer_a)
    assert order["status"] == "NEW" and order["customer_id"] == CUSTOMER_A
    assert len(order["suborders"]) == 1
    assert Decimal(order["total_amount"]) > 0
    credit(CUSTOMER_A, "100000")
    paid = customer_a.post(f"/api/v1/orders/{order['id']}/pay/")
    assert paid.status_code == 200, paid.content
    assert paid.json()["status"] in ("PAID", "PROVISIONING")
    account = customer_a.get(f"/api/v1/accounts/{CUSTOMER_A}/").json()
    assert Decimal(account["balance"]) == Decimal("100000") - Decimal(order["total_amount"])
    assert [entry["kind"] for entry in account["ledger"]] == ["debit", "credit"]


def test_paying_without_balance_fails_the_order_and_paying_again_is_409(customer_a):
    builders.vm_prices()
    order = place(customer_a)
    response = customer_a.post(f"/api/v1/orders/{order['id']}/pay/")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["fail_reason"]) == ("FAILED", "payment_failed")
    again = customer_a.post(f"/api/v1/orders/{order['id']}/pay/")
    assert again.status_code == 409


def test_order_refusals(customer_a, customer_b):
    builders.vm_prices()
    bad = customer_a.post("/api/v1/orders/", {"items": [vm_item(site_id="mars-1")]}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"]
    assert not ShopOrder.objects.exists()
    order = place(customer_a)
    assert customer_b.post(f"/api/v1/orders/{order['id']}/pay/").status_code == 404
    assert customer_b.get(f"/api/v1/accounts/{CUSTOMER_A}/").status_code == 404


def test_mark_valid_needs_the_permission_and_a_failed_renewal(make_client):
    order = builders.order(CUSTOMER_A, suborders=1, renewals=1)
    suborder = order.suborders.get()
    renewal = suborder.renewals.get()
    suborder.status, suborder.expire_at = "ACTIVE", renewal.period_start
    suborder.save()
    builders.vm_prices()
    credit(CUSTOMER_A, "100000")
    ops = make_client(None, ["orders.view_shopsuborderrenewal", "orders.mark_renewal_valid"])
    url = f"/api/v1/renewals/{renewal.pk}/mark-valid/"
    assert ops.post(url, {}, format="json").status_code == 400  # reason required
    response = ops.post(url, {"reason": "balance topped up by finance"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["is_valid"], response.json()["status"]) == (True, "SUCCEEDED")
    again = ops.post(url, {"reason": "second click"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "renewal_already_valid"
    log = ShopRenewalLog.objects.filter(renewal=renewal, action="mark_valid").get()
    assert log.operator_name == ops.user.get_username()


def test_renewal_logs_as_csv(make_client, customer_a):
    builders.order(CUSTOMER_A)
    builders.order(CUSTOMER_B)
    finance = make_client(None, ["orders.view_shoprenewallog", "orders.export_renewallog"])
    response = finance.get("/api/v1/renewal-logs/", {"format": "csv", "customer": CUSTOMER_B})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,")
    assert len(lines) == 1 + ShopRenewalLog.objects.filter(customer_id=CUSTOMER_B).count()
    # Without the export permission: 403, as JSON.
    reader = make_client(None, ["orders.view_shoprenewallog"])
    refused = reader.get("/api/v1/renewal-logs/", {"format": "csv"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    # A customer exports its own rows only.
    own = b"".join(customer_a.get("/api/v1/renewal-logs/", {"format": "csv"}).streaming_content).decode()
    assert CUSTOMER_A in own and CUSTOMER_B not in own
