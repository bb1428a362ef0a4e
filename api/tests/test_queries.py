"""No N+1: a list page (and a detail with nested rows) costs the same queries however many rows it shows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coretasker.models import WorkflowSubtask, WorkflowTask

from . import builders
from .conftest import CUSTOMER_A

pytestmark = pytest.mark.django_db

LISTS = [
    "operations",
    "tasks",
    "subtasks",
    "task-error-logs",
    "orders",
    "renewals",
    "renewal-logs",
    "billing-item-types",
    "prices",
    "cpu-types",
    "workflow-tasks",
    "charges",
    f"accounts/{CUSTOMER_A}/ledger",
]


def make_rows(count):
    for _ in range(count):
        builders.task(CUSTOMER_A)
        builders.order(CUSTOMER_A)
    builders.catalogue(count)
    builders.charge_lines(CUSTOMER_A, count)
    builders.ledger(CUSTOMER_A, count)


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize("endpoint", LISTS)
def test_list_queries_do_not_grow_with_rows(endpoint, staff, customer_a):
    client = staff if endpoint == "workflow-tasks" else customer_a
    make_rows(2)
    few = queries(client, f"/api/v1/{endpoint}/")
    make_rows(6)
    assert queries(client, f"/api/v1/{endpoint}/") == few


def workflow_task(steps):
    parent = WorkflowTask.objects.create(target_type="vm", task_type="create_vm")
    for step in range(1, steps + 1):
        WorkflowSubtask.objects.create(parent=parent, step=step)
    return parent


DETAILS = {
    "tasks": lambda size: builders.task(CUSTOMER_A, steps=size, errors=size),
    "orders": lambda size: builders.order(CUSTOMER_A, suborders=size),
    "workflow-tasks": workflow_task,
}


@pytest.mark.parametrize("endpoint", DETAILS)
def test_detail_queries_do_not_grow_with_nested_rows(endpoint, staff):
    small, big = DETAILS[endpoint](1), DETAILS[endpoint](7)
    assert queries(staff, f"/api/v1/{endpoint}/{small.pk}/") == queries(staff, f"/api/v1/{endpoint}/{big.pk}/")
