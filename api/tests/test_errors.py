"""One error body everywhere: DRF's own errors, domain errors from services, unknown paths, throttling."""

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings

from api.errors import exception_handler
from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.transitions import IllegalTransition

from . import builders
from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


def error(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field", "details"}
    return body["error"]


def test_validation_errors_list_every_field(customer_a):
    body = error(customer_a.post("/api/v1/operations/", {"params": [1]}, format="json"), 400)
    assert body["code"] == "invalid"
    fields = {detail["field"]: detail["code"] for detail in body["details"]}
    assert fields == {
        "task_type": "required",
        "resource_type": "required",
        "resource_id": "required",
        "params": "not_object",
    }


def test_nested_validation_errors_have_dotted_paths(customer_a):
    items = [{"resource_type": "vm", "site_id": "s", "billing_cycle": "week", "spec": {"cpu": 0}}]
    body = error(customer_a.post("/api/v1/orders/", {"items": items}, format="json"), 400)
    fields = {detail["field"] for detail in body["details"]}
    assert fields == {"items[0].billing_cycle", "items[0].spec.cpu"}


def test_a_customer_client_cannot_write_for_another_customer(customer_a):
    body = {"customer_id": CUSTOMER_B, "task_type": "create_vm", "resource_type": "vm", "resource_id": "vm-1"}
    err = error(customer_a.post("/api/v1/operations/", body, format="json"), 403)
    assert (err["code"], err["field"]) == ("customer_mismatch", "customer_id")
    order = {
        "customer_id": CUSTOMER_B,
        "items": [{"resource_type": "vm", "site_id": "s", "billing_cycle": "month", "spec": {}}],
    }
    assert error(customer_a.post("/api/v1/orders/", order, format="json"), 403)["code"] == "customer_mismatch"


def test_staff_must_name_the_customer(make_client):
    staff = make_client(None, ["tasks.add_resuseroperation"])
    body = {"task_type": "create_vm", "resource_type": "vm", "resource_id": "vm-1"}
    err = error(staff.post("/api/v1/operations/", body, format="json"), 400)
    assert err["field"] == "customer_id"


def test_writes_without_permission_are_403(make_client, customer_a):
    task = builders.task(CUSTOMER_A)
    order = builders.order(CUSTOMER_A)
    renewal = order.suborders.first().renewals.first()
    reason = {"reason": "fixed"}
    for client in (make_client(None), customer_a):
        assert error(client.post(f"/api/v1/tasks/{task.pk}/retry/", reason, format="json"), 403)
        assert error(client.post(f"/api/v1/tasks/{task.pk}/cancel/", reason, format="json"), 403)
        assert error(client.post(f"/api/v1/renewals/{renewal.pk}/mark-valid/", reason, format="json"), 403)
    assert error(make_client(None).post("/api/v1/orders/", {}, format="json"), 403)
    assert error(make_client(None).post(f"/api/v1/orders/{order.pk}/pay/"), 403)


def test_another_customers_row_answers_404_to_actions(make_client, customer_a):
    other_task = builders.task(CUSTOMER_B)
    other_order = builders.order(CUSTOMER_B)
    allowed = make_client(CUSTOMER_A, ["tasks.retry_task", "tasks.cancel_task"])
    assert error(allowed.post(f"/api/v1/tasks/{other_task.pk}/retry/", {"reason": "x"}, format="json"), 404)
    assert error(allowed.post(f"/api/v1/tasks/{other_task.pk}/cancel/", {"reason": "x"}, format="json"), 404)
    assert error(customer_a.post(f"/api/v1/orders/{other_order.pk}/pay/"), 404)


def test_reason_is_required(make_client):
    task = builders.task(CUSTOMER_A)
    staff = make_client(None, ["tasks.view_cloudtask", "tasks.retry_task"])
    err = error(staff.post(f"/api/v1/tasks/{task.pk}/retry/", {"reason": ""}, format="json"), 400)
    assert (err["code"], err["field"], err["details"][0]["code"]) == ("invalid", "reason", "blank")


def test_parse_method_media_type_and_unknown_path_errors(customer_a, client):
    assert error(customer_a.post("/api/v1/operations/", "{nope", content_type="application/json"), 400)["code"] == (
        "parse_error"
    )
    assert error(customer_a.post("/api/v1/operations/", "a=b", content_type="text/plain"), 415)["code"] == (
        "unsupported_media_type"
    )
    assert error(customer_a.delete("/api/v1/tasks/1/"), 405)["code"] == "method_not_allowed"
    assert error(customer_a.get("/api/v1/no-such-thing/"), 404)["code"] == "not_found"
    assert error(client.get("/api/v1/"), 404)["code"] == "not_found"
    assert error(customer_a.get("/api/v1/tasks/abc/"), 404)["code"] == "not_found"
    assert error(customer_a.get("/api/v1/tasks/99999999999999999999999/"), 404)["code"] == "not_found"


def test_bad_filters_and_pages(customer_a):
    err = error(customer_a.get("/api/v1/tasks/", {"order": "abc"}), 400)
    assert err["field"] == "order"
    assert error(customer_a.get("/api/v1/tasks/", {"order": str(2**70)}), 400)["field"] == "order"
    assert error(customer_a.get("/api/v1/tasks/", {"created_after": "yesterday"}), 400)["field"] == "created_after"
    assert error(customer_a.get("/api/v1/tasks/", {"status": "SLEEPING"}), 400)["field"] == "status"
    assert error(customer_a.get("/api/v1/tasks/", {"page": 99}), 404)["code"] == "not_found"


def test_writes_are_throttled_and_reads_are_not(customer_a):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "write": "2/min"}
    with override_settings(REST_FRAMEWORK={**_rest_settings(), "DEFAULT_THROTTLE_RATES": rates}):
        for _ in range(2):
            assert customer_a.post("/api/v1/operations/", {}, format="json").status_code == 400
        response = customer_a.post("/api/v1/operations/", {}, format="json")
        assert error(response, 429)["code"] == "throttled"
        assert int(response["Retry-After"]) > 0
        for _ in range(5):
            assert customer_a.get("/api/v1/operations/").status_code == 200


def test_the_write_throttle_counts_in_the_database_every_web_process_shares(customer_a):
    """A per-process cache would give each web process its own count, multiplying the rate."""
    from django.conf import settings
    from django.db import connection

    table = settings.CACHES["default"]["LOCATION"]

    def rows():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT cache_key FROM {connection.ops.quote_name(table)}")
            return [key for (key,) in cursor.fetchall()]

    assert rows() == []
    customer_a.post("/api/v1/operations/", {}, format="json")
    assert len([key for key in rows() if "throttle_write" in key]) == 1


def _rest_settings():
    from django.conf import settings

    return settings.REST_FRAMEWORK


@pytest.mark.parametrize(
    "exc,status,code,field",
    [
        (InvalidInput("bad cpu", field="spec.cpu"), 400, "invalid", "spec.cpu"),
        (NotFound("no such task"), 404, "not_found", None),
        (Conflict("task is not failed", code="not_failed"), 409, "not_failed", None),
        (IllegalTransition("tasks.CloudTask", 3, "DONE", "DOING"), 409, "illegal_transition", None),
        (Forbidden("needs tasks.retry_task"), 403, "permission_denied", None),
    ],
)
def test_domain_errors_map_once(exc, status, code, field):
    response = exception_handler(exc, {})
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["field"] == field
    assert response.data["error"]["message"] == exc.message


def test_unexpected_exceptions_are_not_swallowed():
    assert exception_handler(RuntimeError("bug"), {}) is None


def test_odd_paths_get_the_api_404_body(customer_a):
    for path in ["/api/v1/tasks/1%0A/", "/api/v1/accounts/%0A/", "/api/v1/%E2%9C%93/", "/api/v1/tasks/1/x/y/"]:
        response = customer_a.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
