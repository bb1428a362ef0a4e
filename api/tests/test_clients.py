"""API clients: the command that makes them, and the browsable API for people logged in to the admin."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from api.models import ApiClient

from . import builders

pytestmark = pytest.mark.django_db


def make(*args):
    out = io.StringIO()
    call_command("api_client", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_makes_a_customer_client_whose_token_works():
    builders.task("cust-x")
    builders.task("cust-y")
    key = make("console-x", "--customer", "cust-x")
    assert make("console-x", "--customer", "cust-x") == key  # the same token on a second run
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    rows = client.get("/api/v1/tasks/").json()["results"]
    assert {row["customer_id"] for row in rows} == {"cust-x"}
    assert not ApiClient.objects.get(user__username="console-x").user.has_usable_password()


def test_the_command_grants_permissions_to_service_clients():
    key = make("reader", "--perm", "tasks.view_cloudtask")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/tasks/").status_code == 200
    assert client.get("/api/v1/orders/").status_code == 403
    with pytest.raises(CommandError):
        make("reader", "--perm", "tasks.fly")


def test_browsable_api_for_a_logged_in_superuser(admin_client_logged_in):
    builders.task("cust-x")
    page = admin_client_logged_in.get("/api/v1/tasks/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert b"cust-x" in page.content


def test_options_describes_only_what_the_client_may_do(make_client):
    customer = make_client("cust-x")
    answer = customer.options("/api/v1/orders/")
    assert answer.status_code == 200
    assert "POST" in answer.json().get("actions", {})
    reader = make_client(None, ["orders.view_shoporder"])
    assert "actions" not in reader.options("/api/v1/orders/").json()
