"""The status moves the services share: one guarded transition per call, and the end of a task.

Each wraps :func:`common.transitions.transition` with the model's table from
:mod:`tasks.states`, so the from-state is checked in the same UPDATE.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from common.transitions import transition

from .. import hooks
from ..models import CloudTask, CloudTaskSubtask, ResUserOperation
from ..states import OPERATION_TRANSITIONS, SUBTASK_TRANSITIONS, TASK_TRANSITIONS
from .locks import lock_release


def operation_move(operation_id: int, *, to: str, from_states=None, quiet: bool = True, **changes) -> bool:
    """Move an operation's ``task_status`` to ``to``; ``True`` if it moved (quiet by default)."""
    return transition(
        ResUserOperation,
        operation_id,
        table=OPERATION_TRANSITIONS,
        field_name="task_status",
        to=to,
        from_states=from_states,
        quiet=quiet,
        **changes,
    )


def task_move(task_id: int, *, to: str, from_states=None, quiet: bool = False, **changes) -> bool:
    """Move a task to ``to``; ``True`` if it moved."""
    return transition(
        CloudTask, task_id, table=TASK_TRANSITIONS, to=to, from_states=from_states, quiet=quiet, **changes
    )


def subtask_move(
    subtask_id: int, *, to: str, from_states=None, through=(), where=None, quiet: bool = False, **changes
) -> bool:
    """Move a subtask to ``to`` (``through`` and ``where``: see :func:`common.transitions.transition`);
    ``True`` if it moved."""
    return transition(
        CloudTaskSubtask,
        subtask_id,
        table=SUBTASK_TRANSITIONS,
        to=to,
        from_states=from_states,
        through=through,
        where=where,
        quiet=quiet,
        **changes,
    )


def notify_on_commit(task_id: int, status: str, suborder_id: int | None) -> None:
    """Tell the task-finished listeners (:mod:`tasks.hooks`) after the surrounding commit."""
    transaction.on_commit(partial(hooks.notify_task_finished, task_id, status, suborder_id=suborder_id))


def task_ended(
    *, task_id: int, operation_id: int | None, status: str, suborder_id: int | None, **operation_changes
) -> None:
    """What follows a task's move to a final state, in its transaction: the operation takes
    the same status, the resource lock is released, listeners hear of it after the commit
    (``suborder_id``, the task's, spares listeners of sub-orders a read: see :mod:`tasks.hooks`)."""
    if operation_id:
        operation_move(operation_id, to=status, **operation_changes)
    lock_release(task_id=task_id)
    notify_on_commit(task_id, status, suborder_id)
