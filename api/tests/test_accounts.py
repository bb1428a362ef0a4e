"""Accounts with their ledger: made by the real services, read through the API."""

from decimal import Decimal

import pytest

from orders import services as orders_services

from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


def credit(customer_id, amount, key):
    return orders_services.account_credit(
        customer_id=customer_id, amount=Decimal(amount), currency="CNY", reason="top-up", user=None, idempotency_key=key
    )


def test_a_customer_reads_its_account_and_ledger(customer_a):
    for n in range(3):
        credit(CUSTOMER_A, "10.00", f"a-{n}")
    credit(CUSTOMER_B, "99.00", "b-0")
    account = customer_a.get(f"/api/v1/accounts/{CUSTOMER_A}/").json()
    assert (account["customer_id"], account["balance"], account["currency"]) == (CUSTOMER_A, "30.0000", "CNY")
    assert [entry["balance_after"] for entry in account["ledger"]] == ["30.0000", "20.0000", "10.0000"]
    ledger = customer_a.get(f"/api/v1/accounts/{CUSTOMER_A}/ledger/", {"page_size": 2}).json()
    assert ledger["count"] == 3 and len(ledger["results"]) == 2
    assert customer_a.get(f"/api/v1/accounts/{CUSTOMER_A}/ledger/", {"kind": "debit"}).json()["count"] == 0
    for url in (f"/api/v1/accounts/{CUSTOMER_B}/", f"/api/v1/accounts/{CUSTOMER_B}/ledger/"):
        response = customer_a.get(url)
        assert response.status_code == 404 and "99" not in response.content.decode()


def test_an_account_never_used_is_empty_and_not_written(make_client, customer_a):
    from orders.models import CustomerAccount

    assert customer_a.get(f"/api/v1/accounts/{CUSTOMER_A}/").json()["balance"] == "0.0000"
    finance = make_client(None, ["orders.view_customeraccount", "orders.view_accountledgerentry"])
    assert finance.get("/api/v1/accounts/cust-new/").json()["ledger"] == []
    assert not CustomerAccount.objects.exists()
    assert make_client(None).get("/api/v1/accounts/cust-new/").status_code == 403
