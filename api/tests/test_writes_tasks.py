"""Placing operations, retrying and cancelling tasks through the tasker's services."""

import pytest

from tasks.models import CloudTask, ResUserOperation

from . import builders
from .conftest import CUSTOMER_A, CUSTOMER_B

pytestmark = pytest.mark.django_db


def vm_operation(**extra):
    cpu = builders.cpu_type()
    return {
        "task_type": "create_vm",
        "resource_type": "vm",
        "resource_id": "vm-api-1",
        "site_id": "cn-east-1",
        "params": {"cpu_type": cpu.code, "cpu": 2, "memory_gb": 4, "disk_gb": 40},
        **extra,
    }


def test_customer_places_an_operation_for_itself(customer_a):
    response = customer_a.post("/api/v1/operations/", vm_operation(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["task_status"] == "NEW" and body["customer_id"] == CUSTOMER_A
    operation = ResUserOperation.objects.get(pk=body["id"])
    assert (operation.customer_id, operation.created_by) == (CUSTOMER_A, customer_a.user)


def test_service_refusals_come_back_with_the_field(customer_a):
    response = customer_a.post("/api/v1/operations/", vm_operation(task_type="teleport_vm"), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "task_type"
    assert not ResUserOperation.objects.exists()


def test_staff_places_for_a_named_customer_with_the_permission(make_client):
    staff = make_client(None, ["tasks.add_resuseroperation", "tasks.view_resuseroperation"])
    response = staff.post("/api/v1/operations/", vm_operation(customer_id=CUSTOMER_B), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["customer_id"] == CUSTOMER_B
    assert make_client(None).post("/api/v1/operations/", vm_operation(customer_id=CUSTOMER_B)).status_code == 403


@pytest.fixture
def ops(make_client):
    return make_client(None, ["tasks.view_cloudtask", "tasks.retry_task", "tasks.cancel_task"])


def test_retry_a_failed_task(ops):
    task = builders.task(CUSTOMER_A)
    response = ops.post(f"/api/v1/tasks/{task.pk}/retry/", {"reason": "capacity added"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "DOING"
    assert CloudTask.objects.get(pk=task.pk).status == "DOING"


def test_retry_a_task_that_did_not_fail_is_409(ops):
    task = builders.task(CUSTOMER_A, status="DONE")
    response = ops.post(f"/api/v1/tasks/{task.pk}/retry/", {"reason": "again"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"


def test_cancel_then_cancel_again(ops):
    task = builders.task(CUSTOMER_A)
    response = ops.post(f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "customer asked"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "CANCELLED"
    again = ops.post(f"/api/v1/tasks/{task.pk}/cancel/", {"reason": "twice"}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_cancelled"


def test_a_customer_client_with_the_permission_acts_on_its_own_tasks_only(make_client):
    client = make_client(CUSTOMER_A, ["tasks.cancel_task"])
    own, other = builders.task(CUSTOMER_A), builders.task(CUSTOMER_B)
    assert client.post(f"/api/v1/tasks/{own.pk}/cancel/", {"reason": "mine"}, format="json").status_code == 200
    assert client.post(f"/api/v1/tasks/{other.pk}/cancel/", {"reason": "theirs"}, format="json").status_code == 404
    assert CloudTask.objects.get(pk=other.pk).status == "ERROR"
