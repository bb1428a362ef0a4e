"""The whole client journey through the API alone, with a real Celery worker and the simulated cloud:
place an order, pay it, follow its tasks to DONE, see its sub-order renew, read the ledger."""

from decimal import Decimal
from importlib import import_module

import pytest
from rest_framework.test import APIClient

from orders import services as orders_services
from tasks.tests import worker as worker_module

from . import builders

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CUSTOMER = "cust-journey"
SITE = "cn-east-1"  # a site of the simulated cloud's starting inventory


@pytest.fixture
def worker(tmp_path):
    worker_module.purge_queues()
    started = worker_module.Worker(concurrency=2, log_path=tmp_path / "worker.log").start()
    yield started
    started.stop()
    print((tmp_path / "worker.log").read_text(errors="replace")[-3000:])


def test_order_pay_follow_renew_and_read_the_ledger(worker, django_user_model):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("api_client", "journey", "--customer", CUSTOMER, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    # Transactional tests before this one may have flushed the rows data migrations made: make them again.
    from django.apps import apps

    import_module("simcloud.migrations.0002_starting_inventory").load(apps, None)
    builders.cpu_type()
    builders.vm_prices(SITE)
    orders_services.account_credit(
        customer_id=CUSTOMER, amount=Decimal("100000"), currency="CNY", reason="top-up", user=None, idempotency_key="j1"
    )

    cpu = client.get("/api/v1/cpu-types/").json()["results"][0]["code"]
    spec = {"cpu_type": cpu, "cpu": 1, "memory_gb": 1, "disk_gb": 20, "bandwidth_mbps": 1}
    item = {"resource_type": "vm", "site_id": SITE, "spec": spec, "billing_cycle": "month"}
    order = client.post("/api/v1/orders/", {"items": [item]}, format="json").json()
    assert order["status"] == "NEW", order
    assert client.post(f"/api/v1/orders/{order['id']}/pay/").json()["status"] in ("PAID", "PROVISIONING")

    def settled():
        body = client.get(f"/api/v1/orders/{order['id']}/").json()
        return body if body["status"] in ("SUCCEEDED", "FAILED") else None

    done = worker_module.wait_for(settled, timeout=90, interval=0.5, worker=worker)
    assert done and done["status"] == "SUCCEEDED", done or client.get(f"/api/v1/orders/{order['id']}/").json()
    tasks = client.get("/api/v1/tasks/", {"order": order["id"]}).json()["results"]
    assert tasks and {task["status"] for task in tasks} == {"DONE"}
    detail = client.get(f"/api/v1/tasks/{tasks[0]['id']}/").json()
    assert {sub["status"] for sub in detail["subtasks"]} == {"DONE"}
    suborder = done["suborders"][0]
    assert suborder["status"] == "ACTIVE" and suborder["expire_at"]

    from django.utils.dateparse import parse_datetime

    orders_services.renewals_run(now=parse_datetime(suborder["expire_at"]))
    renewals = client.get("/api/v1/renewals/", {"order": order["id"]}).json()["results"]
    assert [(r["status"], r["is_valid"]) for r in renewals] == [("SUCCEEDED", True)]
    account = client.get(f"/api/v1/accounts/{CUSTOMER}/").json()
    assert [entry["kind"] for entry in account["ledger"]] == ["debit", "debit", "credit"]
    assert Decimal(account["balance"]) == Decimal("100000") - Decimal(order["total_amount"]) - Decimal(
        renewals[0]["amount"]
    )
