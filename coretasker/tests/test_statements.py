"""What coreTasker's bookkeeping costs per message, in statements and transactions (run for every step).

A stub driver that touches no database runs the plans, so each count is
coreTasker's own. Lower counts are welcome: update the numbers and say why.
A test runs inside a transaction, so each transaction of the code shows as a
savepoint (on MariaDB a transaction costs three round trips of its own).
"""

from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from coretasker import tasks
from coretasker.drivers.base import Driver, PlanStep
from coretasker.interface import AnswerStatus, lookup, submit
from coretasker.models import WorkflowStatus, WorkflowSubtask, WorkflowTask
from coretasker.services import subtask_run, workflow_start

from .conftest import make_request

pytestmark = pytest.mark.django_db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
STUB = "coretasker.tests.test_statements.ThreeStepDriver"


class ThreeStepDriver(Driver):
    """create_pipe in three dependent steps, each answering at once without a database."""

    name = "Three-step stub driver"

    def plan(self, action, params):
        return [
            PlanStep("first", 1, None, "a"),
            PlanStep("second", 2, "first", "b"),
            PlanStep("third", 3, "second", "c"),
        ]

    def run_step(self, step, context):
        return {step.name: True, "seen": sorted(context.inputs), "device": f"stub-{step.name}"}


def _statements(fn, *args, **kwargs):
    """``fn``'s result, its statements and how many transactions it ran (savepoints, inside a test's transaction)."""
    with CaptureQueriesContext(connection) as captured:
        result = fn(*args, **kwargs)
    sqls = [query["sql"] for query in captured.captured_queries]
    transactions = sum(1 for sql in sqls if sql.startswith(("BEGIN", "SAVEPOINT")))
    return result, [sql for sql in sqls if not sql.startswith(TRANSACTION_CONTROL)], transactions


@override_settings(CORETASKER_DRIVER=STUB)
def test_an_asynchronous_plan_costs_few_statements_per_message(reports, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.run_subtask, "apply_async") as sent,
        mock.patch.object(tasks.run_workflow, "apply_async"),
    ):
        _run_async_plan(reports, django_capture_on_commit_callbacks, sent)


def _run_async_plan(reports, django_capture_on_commit_callbacks, sent):

    with django_capture_on_commit_callbacks(execute=True):
        answer, statements, transactions = _statements(submit, make_request("create_pipe", "pipe-s", mode="async"))
    assert answer.status == AnswerStatus.ACCEPTED
    assert len(statements) == 3, statements  # the workflow_task, the plan in one INSERT, its links in one UPDATE
    assert transactions == 1

    with django_capture_on_commit_callbacks(execute=True):
        _, statements, transactions = _statements(workflow_start, workflow_task_id=answer.workflow_task_id)
    assert len(statements) == 3, statements  # the open plan read (no lock), NEW -> DOING, claim
    assert transactions == 0  # each a guarded statement of its own

    counts = []
    for _ in range(3):
        subtask_id = sent.call_args.kwargs["args"][0]
        with django_capture_on_commit_callbacks(execute=True):
            ran, statements, transactions = _statements(subtask_run, subtask_id=subtask_id)
        assert ran is True
        counts.append((len(statements), transactions))
    # read, start | the step, then lock with the plan, done, progress (+ the next group's claim) or the end
    assert counts == [(6, 1), (6, 1), (5, 1)]  # one transaction: the step and its record

    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.status, wf.progress, wf.step, wf.run_dev) == (WorkflowStatus.DONE, 100, 3, "stub-third")
    assert wf.result == {
        "first": True,
        "second": True,
        "third": True,
        "seen": ["device", "second", "seen"],
        "device": "stub-third",
    }
    assert [(r.kind, r.progress) for r in reports] == [("progress", 33), ("progress", 66), ("done", 100)]


@override_settings(CORETASKER_DRIVER=STUB)
def test_a_synchronous_plan_is_not_read_back():
    answer, statements, transactions = _statements(submit, make_request("create_pipe", "pipe-t"))

    assert answer.status == AnswerStatus.DONE
    # workflow_task, plan, links; then for each step: start | lock, done, progress or the end
    assert len(statements) == 3 + 3 * 4, statements
    assert transactions == 1 + 3  # the plan's; each step with its record
    selects = [sql for sql in statements if sql.startswith("SELECT")]
    assert len(selects) == 3 and all("workflow_subtask" not in sql for sql in selects), selects  # the locks only
    assert answer == lookup(WorkflowTask.objects.get(pk=answer.workflow_task_id).idempotency_key)
    subtasks = list(WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id).order_by("step"))
    assert [s.brother_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert [s.result_key_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert subtasks[2].result["seen"] == ["device", "second", "seen"]  # it got step 2's result as its input
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.step, wf.progress, wf.run_dev) == (3, 100, "stub-third")


@override_settings(CORETASKER_DRIVER=STUB)
@pytest.mark.parametrize("returning", [False, True], ids=["lastrowid", "returning"])
def test_the_plan_is_the_same_where_a_multi_row_insert_returns_no_ids(returning):
    features = connection.features
    with (
        mock.patch.object(type(features), "can_return_rows_from_bulk_insert", False),  # a property
        mock.patch.object(features, "can_return_columns_from_insert", returning),  # a cached_property
    ):
        answer, statements, _transactions = _statements(submit, make_request("create_pipe", "pipe-u"))

    assert answer.status == AnswerStatus.DONE
    assert len(statements) == 5 + 3 * 4, statements  # the workflow_task, 3 subtasks one by one, links; the run
    assert any("RETURNING" in sql for sql in statements) == returning
    subtasks = list(WorkflowSubtask.objects.filter(parent_id=answer.workflow_task_id).order_by("step"))
    assert [s.brother_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert [s.result_key_id for s in subtasks] == [None, subtasks[0].pk, subtasks[1].pk]
    assert [s.status for s in subtasks] == [WorkflowStatus.DONE] * 3
