"""API clients for tests: customer-bound tokens, staff tokens with chosen permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from api.models import ApiClient

CUSTOMER_A = "cust-a"
CUSTOMER_B = "cust-b"


@pytest.fixture(autouse=True)
def _fresh_throttle(db):
    """Throttle counters live in the cache (a database table): start every test with none."""
    cache.clear()
    yield
    cache.clear()


def _perm(label: str) -> Permission:
    app_label, codename = label.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def make_client(db, django_user_model):
    """``make_client(customer_id=None, perms=())`` -> an APIClient sending that user's token."""
    made = []

    def make(customer_id: str | None = None, perms=(), *, name: str | None = None) -> APIClient:
        user = django_user_model.objects.create_user(name or f"client{len(made) + 1}-{customer_id or 'staff'}")
        ApiClient.objects.create(user=user, customer_id=customer_id)
        if perms:
            user.user_permissions.add(*[_perm(label) for label in perms])
        token = Token.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        client.user = user
        made.append(client)
        return client

    return make


@pytest.fixture
def customer_a(make_client):
    return make_client(CUSTOMER_A)


@pytest.fixture
def customer_b(make_client):
    return make_client(CUSTOMER_B)


VIEW_PERMS = (
    "tasks.view_resuseroperation",
    "tasks.view_cloudtask",
    "tasks.view_cloudtasksubtask",
    "tasks.view_cloudtaskerrorlog",
    "orders.view_shoporder",
    "orders.view_shopsuborderrenewal",
    "orders.view_shoprenewallog",
    "billing.view_billingitemtype",
    "billing.view_billresourcesprice",
    "coretasker.view_workflowtask",
    "coretasker.view_cputypetpl",
)


@pytest.fixture
def staff(make_client):
    """A staff/service client that may read everything (and do nothing else)."""
    return make_client(None, VIEW_PERMS, name="staff-reader")
