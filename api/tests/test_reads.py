"""Every read endpoint: happy path, tenant isolation, staff rights, filters, ordering, flow order."""

import pytest

from billing.models import BillingItemType, BillResourcesPrice
from coretasker.models import CpuTypeTpl, WorkflowTask
from orders.models import ShopOrder, ShopRenewalLog, ShopSuborderRenewal
from tasks.models import CloudTask, CloudTaskErrorLog, CloudTaskSubtask, ResUserOperation

from . import builders
from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db

#: endpoint -> (model, lookup of the row's customer)
CUSTOMER_ENDPOINTS = {
    "operations": (ResUserOperation, "customer_id"),
    "tasks": (CloudTask, "customer_id"),
    "subtasks": (CloudTaskSubtask, "task__customer_id"),
    "task-error-logs": (CloudTaskErrorLog, "task__customer_id"),
    "orders": (ShopOrder, "customer_id"),
    "renewals": (ShopSuborderRenewal, "suborder__customer_id"),
    "renewal-logs": (ShopRenewalLog, "customer_id"),
}
CATALOGUE_ENDPOINTS = {
    "billing-item-types": BillingItemType,
    "prices": BillResourcesPrice,
    "cpu-types": CpuTypeTpl,
}


@pytest.fixture
def rows(db):
    for customer in (CUSTOMER_A, CUSTOMER_B):
        builders.task(customer)
        builders.order(customer)
    builders.catalogue(2)


def all_pages(client, url):
    found, page = [], 1
    for _ in range(50):  # bounded: far more pages than any test makes
        response = client.get(url, {"page": page, "page_size": 2})
        assert response.status_code == 200, response.content
        found += response.json()["results"]
        if not response.json()["next"]:
            return found
        page += 1
    raise AssertionError("too many pages")


def test_anonymous_gets_401_with_token_challenge(rows, client):
    for endpoint in [*CUSTOMER_ENDPOINTS, *CATALOGUE_ENDPOINTS, "workflow-tasks"]:
        response = client.get(f"/api/v1/{endpoint}/")
        assert response.status_code == 401, endpoint
        assert response["WWW-Authenticate"] == "Token"
        assert response.json()["error"]["code"] == "not_authenticated"


def test_a_bad_token_gets_401(rows, client):
    response = client.get("/api/v1/tasks/", HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


@pytest.mark.parametrize("endpoint", CUSTOMER_ENDPOINTS)
def test_customer_sees_only_its_rows_and_others_answer_404(endpoint, rows, customer_a):
    model, lookup = CUSTOMER_ENDPOINTS[endpoint]
    own = set(model.objects.filter(**{lookup: CUSTOMER_A}).values_list("pk", flat=True))
    other = model.objects.filter(**{lookup: CUSTOMER_B}).values_list("pk", flat=True).first()
    assert own and other

    listed = all_pages(customer_a, f"/api/v1/{endpoint}/")
    assert {row["id"] for row in listed} == own

    # Filtering by the other customer finds nothing rather than the other's rows.
    response = customer_a.get(f"/api/v1/{endpoint}/", {"customer": CUSTOMER_B})
    assert response.status_code == 200 and response.json()["results"] == []

    response = customer_a.get(f"/api/v1/{endpoint}/{other}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert CUSTOMER_B not in response.content.decode()

    assert customer_a.get(f"/api/v1/{endpoint}/{min(own)}/").status_code == 200


@pytest.mark.parametrize("endpoint", CUSTOMER_ENDPOINTS)
def test_staff_with_view_permission_sees_every_customer(endpoint, rows, staff, make_client):
    model, _ = CUSTOMER_ENDPOINTS[endpoint]
    listed = all_pages(staff, f"/api/v1/{endpoint}/")
    assert {row["id"] for row in listed} == set(model.objects.values_list("pk", flat=True))
    # Without the permission: 403, not an empty list.
    response = make_client(None).get(f"/api/v1/{endpoint}/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", CATALOGUE_ENDPOINTS)
def test_catalogue_is_shared(endpoint, rows, customer_a, customer_b, staff):
    expected = set(CATALOGUE_ENDPOINTS[endpoint].objects.values_list("pk", flat=True))
    for client in (customer_a, customer_b, staff):
        assert {row["id"] for row in all_pages(client, f"/api/v1/{endpoint}/")} == expected
    assert customer_a.get(f"/api/v1/{endpoint}/{min(expected)}/").status_code == 200


def test_workflow_tasks_are_for_staff_only(rows, customer_a, staff):
    assert customer_a.get("/api/v1/workflow-tasks/").status_code == 403
    workflow = WorkflowTask.objects.first()
    assert customer_a.get(f"/api/v1/workflow-tasks/{workflow.pk}/").status_code == 403
    detail = staff.get(f"/api/v1/workflow-tasks/{workflow.pk}/").json()
    assert [sub["step"] for sub in detail["subtasks"]] == [1, 2]


def test_task_detail_lists_subtasks_in_flow_order_and_error_logs(db, customer_a, staff):
    task = builders.task(CUSTOMER_A, steps=4, errors=2)
    detail = customer_a.get(f"/api/v1/tasks/{task.pk}/").json()
    assert [sub["step"] for sub in detail["subtasks"]] == [1, 2, 3, 4]
    # Created in reverse: flow order comes from the step, not the id.
    assert detail["subtasks"][0]["id"] > detail["subtasks"][-1]["id"]
    assert [log["attempt"] for log in detail["error_logs"]] == [1, 0]
    # Tracebacks show the platform's code: staff see them, customers do not.
    assert {log["traceback"] for log in detail["error_logs"]} == {""}
    staff_detail = staff.get(f"/api/v1/tasks/{task.pk}/").json()
    assert "secret internals" in staff_detail["error_logs"][0]["traceback"]


def test_order_detail_has_its_suborders(db, customer_a):
    order = builders.order(CUSTOMER_A, suborders=3)
    detail = customer_a.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["order_no"] == order.order_no
    assert [sub["id"] for sub in detail["suborders"]] == sorted(order.suborders.values_list("pk", flat=True))
    assert detail["total_amount"] == "10.0000"


def test_task_filters(db, staff):
    first = builders.task(CUSTOMER_A, order_id=7, status="DONE")
    second = builders.task(CUSTOMER_B, order_id=8)

    def ids(**params):
        response = staff.get("/api/v1/tasks/", params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(order=7) == [first.pk]
    assert ids(operation=second.operation_id) == [second.pk]
    assert ids(customer=CUSTOMER_B) == [second.pk]
    assert ids(status="DONE") == [first.pk]
    assert ids(status=["DONE", "ERROR"]) == [second.pk, first.pk]
    assert ids(type="create_vm") == [second.pk, first.pk]
    assert ids(resource_type="vm", resource_id=first.resource_id) == [first.pk]
    assert ids(created_after=first.created_at.isoformat()) == [second.pk, first.pk]
    assert ids(created_before=first.created_at.isoformat()) == []
    assert ids(ordering="id") == [first.pk, second.pk]


def test_ordering_is_stable_on_equal_keys(db, staff):
    tasks = [builders.task(CUSTOMER_A, steps=1, errors=0) for _ in range(5)]
    CloudTask.objects.update(created_at=tasks[0].created_at)
    listed = all_pages(staff, "/api/v1/tasks/?ordering=created_at")
    assert [row["id"] for row in listed] == sorted((t.pk for t in tasks), reverse=True)


def test_operation_shows_its_task(db, customer_a):
    task = builders.task(CUSTOMER_A)
    row = customer_a.get(f"/api/v1/operations/{task.operation_id}/").json()
    assert row["task_id"] == task.pk and row["task_status"] == "NEW"


def test_price_filter_valid_at(db, customer_a):
    builders.catalogue(1)
    price = BillResourcesPrice.objects.get()
    before = price.valid_from.replace(year=price.valid_from.year - 1).isoformat()
    assert customer_a.get("/api/v1/prices/", {"valid_at": before}).json()["results"] == []
    found = customer_a.get("/api/v1/prices/", {"valid_at": price.valid_from.isoformat()}).json()["results"]
    assert [row["id"] for row in found] == [price.pk]
    assert found[0]["item_code"] == price.item_type.code


def test_renewal_rows_name_their_order_and_customer(db, customer_a):
    order = builders.order(CUSTOMER_A, suborders=1)
    row = customer_a.get("/api/v1/renewals/", {"order": order.pk}).json()["results"][0]
    assert (row["order_id"], row["customer_id"], row["is_valid"]) == (order.pk, CUSTOMER_A, False)
