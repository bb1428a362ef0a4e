"""Schemathesis against the live schema, in-process through WSGI.

Every operation of ``/api/schema/`` gets a fixed number of generated requests
(``API_FUZZ_EXAMPLES``, default 10; positive and negative data), each sent with a
customer token and with a staff token. A request fails the run when it answers a
5xx, a status, content type, header or body that the schema does not describe, or,
for the customer token, any row of another customer.
"""

from __future__ import annotations

import os

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings

from . import builders
from .conftest import CUSTOMER_A, CUSTOMER_B

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev requirement")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def foreign_customers(body, own: str) -> set[str]:
    """Every customer id in a JSON body that is not ``own``."""
    found = set()
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "customer_id" and value not in (None, "", own):
                found.add(value)
            found |= foreign_customers(value, own)
    elif isinstance(body, list):
        for item in body:
            found |= foreign_customers(item, own)
    return found


@pytest.fixture
def in_process_requests():
    """Requests run inside the test's transaction: do not let Django close the connection after each."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"write": "100000/min"},
    }
)
def test_fuzz_the_live_schema(in_process_requests, make_client, superuser, capsys):
    from django.core.wsgi import get_wsgi_application
    from rest_framework.authtoken.models import Token

    for customer in (CUSTOMER_A, CUSTOMER_B):
        for _ in range(2):
            builders.task(customer)
            builders.order(customer)
    builders.catalogue(2)
    customer_token = make_client(CUSTOMER_A)._credentials["HTTP_AUTHORIZATION"]
    staff_token = f"Token {Token.objects.create(user=superuser).key}"
    clients = {"customer": customer_token, "staff": staff_token}

    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    failures: list[str] = []
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz(operation, mode, clients)
            ran += 1
    with capsys.disabled():
        print(f"\nfuzzed {ran} operation/mode pairs x {EXAMPLES} examples x {len(clients)} clients")
    assert ran > 0
    assert not failures, "\n\n".join(failures[:20])


def _fuzz(operation, mode, clients) -> list[str]:
    failures: list[str] = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        for name, token in clients.items():
            response = case.call(headers={"Authorization": token})
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # every failed check is collected, the run goes on
                failures.append(f"[{name}] {operation.method.upper()} {operation.path} ({mode.value}): {exc}")
                continue
            if name == "customer" and "json" in response.headers.get("Content-Type", ""):
                leaked = foreign_customers(response.json(), CUSTOMER_A)
                if leaked:
                    failures.append(f"[customer] {case.method} {case.formatted_path}: saw customers {leaked}")

    run()
    return failures
