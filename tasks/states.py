"""The transition tables of the tasker's three status columns, in one place.

Every status change of an operation, task or subtask goes through
:func:`common.transitions.transition` with one of these tables (the from-state is
checked in the same UPDATE), or is checked against them under a row lock.

Retry edges: a failed subtask goes back to ``NEW`` (ERROR -> NEW) and its task and
operation back to ``DOING`` (ERROR -> DOING). ERROR is final until a person (or a
step's retry policy) acts on it, so it counts as final for locks and listeners.
"""

from common.transitions import TransitionTable

from .models import OperationStatus as O
from .models import SubtaskStatus as S
from .models import TaskStatus as T

OPERATION_TRANSITIONS = TransitionTable.build(
    "res_user_operation.task_status",
    {
        O.NEW: {O.LOCK, O.ERROR, O.CANCELLED},
        O.LOCK: {O.DOING, O.ERROR, O.CANCELLED},
        O.DOING: {O.DONE, O.ERROR, O.CANCELLED},
        O.ERROR: {O.DOING, O.CANCELLED},
    },
)

TASK_TRANSITIONS = TransitionTable.build(
    "cloud_task.status",
    {
        T.NEW: {T.DOING, T.ERROR, T.CANCELLED},
        T.DOING: {T.DONE, T.ERROR, T.CANCELLED},
        T.ERROR: {T.DOING, T.CANCELLED},
    },
)

SUBTASK_TRANSITIONS = TransitionTable.build(
    "cloud_task_subtask.status",
    {
        S.NEW: {S.PREPARE, S.CANCELLED},
        S.PREPARE: {S.DOING, S.ASYNC, S.ERROR, S.CANCELLED},
        # A synchronous call runs in DOING; an asynchronous one waits in ASYNC and
        # moves to DOING when coreTasker reports progress.
        S.DOING: {S.DONE, S.ERROR, S.CANCELLED},
        S.ASYNC: {S.DOING, S.DONE, S.ERROR, S.CANCELLED},
        S.ERROR: {S.NEW, S.CANCELLED},
    },
)

OPERATION_FINAL = frozenset({O.DONE, O.ERROR, O.CANCELLED})
TASK_FINAL = frozenset({T.DONE, T.ERROR, T.CANCELLED})
SUBTASK_FINAL = frozenset({S.DONE, S.ERROR, S.CANCELLED})
#: A subtask in one of these is with coreTasker (or about to be).
SUBTASK_RUNNING = frozenset({S.PREPARE, S.DOING, S.ASYNC})
