"""The transition tables, checked exhaustively against the database: every edge, every non-edge."""

import itertools

import pytest

from common.transitions import IllegalTransition, transition
from tasks.models import (
    CloudTask,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)
from tasks.states import OPERATION_TRANSITIONS, SUBTASK_TRANSITIONS, TASK_TRANSITIONS

pytestmark = pytest.mark.django_db


def make_operation(status):
    return ResUserOperation.objects.create(
        customer_id="c", task_type="start_vm", resource_type="vm", resource_id="v", task_status=status
    )


def make_task(status):
    return CloudTask.objects.create(
        task_type="start_vm", customer_id="c", resource_type="vm", resource_id="v", status=status
    )


def make_subtask(status):
    return CloudTaskSubtask.objects.create(task=make_task(TaskStatus.DOING), step=1, action="start_vm", status=status)


CASES = [
    (ResUserOperation, "task_status", OperationStatus, OPERATION_TRANSITIONS, make_operation),
    (CloudTask, "status", TaskStatus, TASK_TRANSITIONS, make_task),
    (CloudTaskSubtask, "status", SubtaskStatus, SUBTASK_TRANSITIONS, make_subtask),
]


@pytest.mark.parametrize("model,field,choices,table,make", CASES, ids=["operation", "task", "subtask"])
def test_every_pair_of_states_is_allowed_exactly_when_the_table_says(model, field, choices, table, make):
    assert table.states() == set(choices.values), "the table covers every status of the model"
    checked = 0
    for src, dst in itertools.product(choices.values, repeat=2):
        row = make(src)
        if table.allowed(src, dst):
            assert transition(model, row.pk, table=table, to=dst, field_name=field)
            assert getattr(model.objects.get(pk=row.pk), field) == dst
        else:
            with pytest.raises(IllegalTransition):
                transition(model, row.pk, table=table, to=dst, field_name=field)
            assert getattr(model.objects.get(pk=row.pk), field) == src, f"{src}->{dst} changed the row"
        checked += 1
    assert checked == len(choices.values) ** 2


def test_the_documented_paths_and_retry_edges():
    o, t, s = OPERATION_TRANSITIONS, TASK_TRANSITIONS, SUBTASK_TRANSITIONS
    assert all(o.allowed(a, b) for a, b in [("NEW", "LOCK"), ("LOCK", "DOING"), ("DOING", "DONE"), ("ERROR", "DOING")])
    assert all(
        t.allowed(a, b) for a, b in [("NEW", "DOING"), ("DOING", "DONE"), ("DOING", "ERROR"), ("ERROR", "DOING")]
    )
    path = [("NEW", "PREPARE"), ("PREPARE", "DOING"), ("PREPARE", "ASYNC"), ("ASYNC", "DONE"), ("ERROR", "NEW")]
    assert all(s.allowed(a, b) for a, b in path)
    # final states never move backwards
    assert not any(table.edges.get("DONE") for table in (o, t, s))
    assert not any(table.edges.get("CANCELLED") for table in (o, t, s))
