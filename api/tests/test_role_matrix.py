"""Role x API action: a console role's staff client is let through, or refused with 403.

Each role is a user in the group ``console/roles.py`` builds (synchronised here
with every permission the installed apps declare), holding a staff API client (no
customer) and a token: its rights are the group's Django permissions. The expected
matrix below is written out by hand from what ``console/roles.py`` grants and what
each endpoint requires (``action_permissions`` in ``api/views``); a cell that
passes the permission check may still be refused by the service (409/400), which
proves the check passed. A refused cell must answer 403 with the API's error body
and leave the database as it was. "No role" is a staff client in no group: the
control that shows a refusal is the permission's doing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.models import ApiClient
from billing.models import BillingItemType, UsageSample
from console.roles import AUDITOR, FINANCE, OPS, roles_sync
from orders import services as order_services
from orders.models import (
    AccountLedgerEntry,
    CustomerAccount,
    ShopOrder,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
)
from tasks.models import CloudTask, CloudTaskSubtask, ResUserOperation

from . import builders
from .conftest import CUSTOMER_A

pytestmark = pytest.mark.django_db

NO_ROLE = None


@dataclass
class Request:
    method: str
    url: str
    data: dict | None = None


# --- the rows each action needs, built the way the API's own write tests build them ---


def _vm_spec() -> dict:
    return {"cpu_type": builders.cpu_type().code, "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}


def _credit(amount: str) -> None:
    order_services.account_credit(
        customer_id=CUSTOMER_A,
        amount=Decimal(amount),
        currency="CNY",
        reason="top-up for the role matrix",
        user=None,
        idempotency_key=f"matrix-topup-{amount}",
    )


def _retry(customer) -> Request:
    task = builders.task(CUSTOMER_A)  # ERROR, its last subtask ERROR
    return Request("post", f"/api/v1/tasks/{task.pk}/retry/", {"reason": "capacity added"})


def _cancel(customer) -> Request:
    task = builders.task(CUSTOMER_A)
    return Request("post", f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "customer asked"})


def _mark_valid(customer) -> Request:
    order = builders.order(CUSTOMER_A, suborders=1, renewals=1)
    suborder = order.suborders.get()
    renewal = suborder.renewals.get()  # FAILED: insufficient balance
    suborder.status, suborder.expire_at = "ACTIVE", renewal.period_start
    suborder.save()
    builders.vm_prices()
    _credit("100000")
    return Request("post", f"/api/v1/renewals/{renewal.pk}/mark-valid/", {"reason": "balance topped up"})


def _export(customer) -> Request:
    builders.order(CUSTOMER_A)
    return Request("get", "/api/v1/renewal-logs/?format=csv")


def _usage(customer) -> Request:
    item = BillingItemType.objects.get_or_create(
        code="traffic", defaults={"name": "Traffic", "unit": "GB", "charge_kind": "amount"}
    )[0]
    sample = {
        "sample_id": "matrix-1",
        "customer_id": CUSTOMER_A,
        "site_id": "cn-east-1",
        "resource_type": "vm",
        "resource_id": "vm-1",
        "item": item.code,
        "value": "1.5",
        "unit": item.unit,
        "sampled_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
    }
    return Request("post", "/api/v1/usage/", {"samples": [sample]})


def _pay(customer) -> Request:
    builders.vm_prices()
    item = {"resource_type": "vm", "site_id": "cn-east-1", "spec": _vm_spec(), "billing_cycle": "month"}
    placed = customer.post("/api/v1/orders/", {"items": [item]}, format="json")
    assert placed.status_code == 201, placed.content
    _credit("100000")
    return Request("post", f"/api/v1/orders/{placed.json()['id']}/pay/")


def _place_operation(customer) -> Request:
    body = {
        "customer_id": CUSTOMER_A,
        "task_type": "create_vm",
        "resource_type": "vm",
        "resource_id": "vm-matrix-1",
        "site_id": "cn-east-1",
        "params": {"cpu_type": builders.cpu_type().code, "cpu": 2, "memory_gb": 4, "disk_gb": 40},
    }
    return Request("post", "/api/v1/operations/", body)


def _place_order(customer) -> Request:
    builders.vm_prices()
    item = {"resource_type": "vm", "site_id": "cn-east-1", "spec": _vm_spec(), "billing_cycle": "month"}
    return Request("post", "/api/v1/orders/", {"customer_id": CUSTOMER_A, "items": [item]})


def _list_tasks(customer) -> Request:
    builders.task(CUSTOMER_A)
    return Request("get", "/api/v1/tasks/")


# --- the expected matrix ---
#
# Ops holds tasks.retry_task / cancel_task and orders.mark_renewal_valid; Finance holds
# orders.view_shoprenewallog + orders.export_renewallog; everyone holds tasks.view_*.
# No role is granted add_usagesample (metering service clients), change_shoporder
# (paying is the customer's act, on the customer's balance), add_resuseroperation or
# add_shoporder (placing is the customer's act, or a service client's): the console
# roles watch and repair, they do not buy or meter on a customer's behalf.
#
# action: (row factory, statuses that mean "allowed", roles allowed)
MATRIX = {
    "tasks.retry": (_retry, {200}, {OPS}),
    "tasks.cancel": (_cancel, {200}, {OPS}),
    "renewals.mark_valid": (_mark_valid, {200}, {OPS}),
    "renewal_logs.export_csv": (_export, {200}, {FINANCE}),
    "usage.create": (_usage, {200}, set()),
    "orders.pay": (_pay, {200}, set()),
    "operations.create": (_place_operation, {201}, set()),
    "orders.create": (_place_order, {201}, set()),
    "tasks.list": (_list_tasks, {200}, {OPS, FINANCE, AUDITOR}),
}

# What an allowed cell must have done, beyond its status code.
EFFECTS = {
    "tasks.retry": lambda response: CloudTask.objects.get(pk=response.json()["id"]).status == "DOING",
    "tasks.cancel": lambda response: CloudTask.objects.get(pk=response.json()["id"]).status == "CANCELLED",
    "renewals.mark_valid": lambda response: ShopSuborderRenewal.objects.get(pk=response.json()["id"]).is_valid,
    "renewal_logs.export_csv": lambda response: (
        response["Content-Type"].startswith("text/csv")
        and len(b"".join(response.streaming_content).decode("utf-8-sig").splitlines())
        == 1 + ShopRenewalLog.objects.count()
    ),
    "tasks.list": lambda response: response.json()["count"] == CloudTask.objects.count() == 1,
}
ROLES = [OPS, FINANCE, AUDITOR, NO_ROLE]


def test_the_matrix_covers_every_role_the_console_defines():
    from console.roles import ROLES as DEFINED

    assert set(DEFINED) == {OPS, FINANCE, AUDITOR}


@pytest.fixture
def role_client(db, django_user_model):
    """``role_client("Ops")`` -> an APIClient for a staff API client whose user is in that group."""
    roles_sync(group_model=Group, permission_model=Permission)

    def make(role: str | None) -> APIClient:
        user = django_user_model.objects.create_user(f"api-{(role or 'nobody').lower()}")
        if role:
            user.groups.add(Group.objects.get(name=role))
        ApiClient.objects.create(user=user, customer_id=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        return client

    return make


def database_state() -> dict:
    """What the actions under test could change, as plain values."""
    return {
        "tasks": sorted(CloudTask.objects.values_list("pk", "status")),
        "subtasks": sorted(CloudTaskSubtask.objects.values_list("pk", "status")),
        "operations": ResUserOperation.objects.count(),
        "orders": sorted(ShopOrder.objects.values_list("pk", "status")),
        "suborders": sorted(ShopSubOrder.objects.values_list("pk", "status", "expire_at")),
        "renewals": sorted(ShopSuborderRenewal.objects.values_list("pk", "status", "is_valid")),
        "renewal_logs": ShopRenewalLog.objects.count(),
        "accounts": sorted(CustomerAccount.objects.values_list("customer_id", "balance")),
        "ledger": AccountLedgerEntry.objects.count(),
        "usage": UsageSample.objects.count(),
    }


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "no_role")
@pytest.mark.parametrize("action", list(MATRIX))
def test_role_matrix(role_client, make_client, role, action):
    factory, allowed_statuses, allowed_roles = MATRIX[action]
    request = factory(make_client(CUSTOMER_A))
    client = role_client(role)
    before = database_state()

    if request.method == "get":
        response = client.get(request.url)
    else:
        response = client.post(request.url, request.data, format="json")

    if role in allowed_roles:
        assert response.status_code in allowed_statuses, response.content
        assert EFFECTS[action](response)
    else:
        assert response.status_code == 403, response.content
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"]["code"] == "permission_denied"
        assert database_state() == before


# The permission each endpoint no role holds asks for: granted directly, the very same
# request passes, so the refusals above are the permission's and not a bad request.
GRANTED = {
    "usage.create": (["billing.add_usagesample"], lambda: UsageSample.objects.count() == 1),
    "orders.pay": (["orders.change_shoporder"], lambda: ShopOrder.objects.get().status != "NEW"),
    "operations.create": (["tasks.add_resuseroperation"], lambda: ResUserOperation.objects.count() == 1),
    "orders.create": (["orders.add_shoporder"], lambda: ShopOrder.objects.count() == 1),
}


def test_every_endpoint_no_role_may_use_is_controlled():
    assert set(GRANTED) == {action for action, (_f, _s, roles) in MATRIX.items() if not roles}


@pytest.mark.parametrize("action", list(GRANTED))
def test_a_staff_client_granted_the_permission_passes(make_client, action):
    factory, allowed_statuses, _roles = MATRIX[action]
    perms, effect = GRANTED[action]
    request = factory(make_client(CUSTOMER_A))
    response = make_client(None, perms, name="granted").post(request.url, request.data, format="json")
    assert response.status_code in allowed_statuses, response.content
    assert effect()
