"""taskdone: the entry of queue_taskdone_V3 (the notes' open question 2).

Three kinds of message arrive here:

- ``{"subtask_id": N, "type": "subtask"}``: a subtask finished (or a redelivered
  subtask message was passed on): advance its task's flow;
- ``{"type": "report", "idempotency_key": ..., "kind": ...}``: coreTasker's report
  on an asynchronous subtask, handled by :func:`do_async_subtask`;
- ``{"task_id": N, "type": "task"}``: the sweeper's nudge for a task left waiting.

Advancing is idempotent: the next group is produced by the one caller that moves
the task's ``current_group``; the task is finished by the one that moves it
DOING -> DONE.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from ..models import (
    CloudTaskSubtask,
    SubtaskStatus,
    TaskStatus,
)
from .failures import subtask_fail
from .moves import subtask_move, task_ended, task_move
from .rows import subtask_raise_progress, task_lock, task_rows
from .taskconsumer import finish_subtask
from .taskercenter import pre_produce_subtasks

logger = logging.getLogger(__name__)


def taskdone_consume(*, body: dict) -> str:
    """Dispatch one queue_taskdone_V3 message; returns what it did (for logs and tests)."""
    kind = body.get("type")
    if kind == "report":
        return do_async_subtask(report=body)
    if kind == "subtask":
        outcome = task_advance(subtask_id=int(body["subtask_id"]))
        if outcome == "missing":
            logger.warning("taskdone: subtask %s does not exist", body["subtask_id"])
        return outcome
    if kind == "task":
        return task_advance(task_id=int(body["task_id"]), resend=True)
    logger.error("taskdone: message of unknown type dropped: %r", body)
    return "unknown"


def task_advance(*, task_id: int | None = None, subtask_id: int | None = None, resend: bool = False) -> str:
    """Move a DOING task (given, or the one of ``subtask_id``) on: finish it when every subtask is DONE,
    else send the next group.

    Advancers of one task take turns on its row lock before they read its
    subtasks: two subtasks of a group finishing in concurrent transactions would
    otherwise each read the other as unfinished, and the task would wait for the
    sweeper. Returns ``"finished"``, ``"produced"``, ``"waiting"``, ``"idle"``
    (task not DOING) or ``"missing"`` (no such subtask).
    """
    with transaction.atomic(savepoint=False):
        # A locking read, and the first read of the transaction: on MariaDB it waits for a
        # concurrent advancer's commit, and the plain read below, whose snapshot starts
        # after it, sees what that advancer wrote. It reads the task's own state (the
        # latest committed) with the lock.
        task = task_lock(task_id=task_id, subtask_id=subtask_id)
        if task is None:
            return "missing" if subtask_id is not None else "idle"
        if task.status != TaskStatus.DOING:
            return "idle"
        found = task_rows(task_id=task.task_id)
        if found is None:
            return "idle"
        if all(status == SubtaskStatus.DONE for _, _, status in found.subtasks):
            finished = task_finish(
                task_id=task.task_id,
                operation_id=task.operation_id,
                suborder_id=task.suborder_id,
                results=found.results(),
            )
            return "finished" if finished else "idle"
        # One guarded UPDATE at most (none when the group was produced already); the
        # messages go after the commit.
        sent = pre_produce_subtasks(
            task_id=task.task_id, resend=resend, rows=found.subtasks, current_group=task.current_group
        )
        return "produced" if sent else "waiting"


def task_finish(
    *, task_id: int, operation_id: int | None, suborder_id: int | None, results: dict | None = None
) -> bool:
    """DOING -> DONE for the task and its operation, lock released, listeners told after commit.

    Exactly one caller wins; the others get ``False``. ``results`` (action ->
    result, in step order) may be passed by a caller that just read them;
    ``operation_id`` and ``suborder_id`` are the task's, read with its lock.
    """
    # No savepoint of its own: a failure here fails the caller's whole transaction.
    with transaction.atomic(savepoint=False):
        if results is None:
            results = dict(
                CloudTaskSubtask.objects.filter(task_id=task_id).order_by("step").values_list("action", "result")
            )
        moved = task_move(
            task_id,
            to=TaskStatus.DONE,
            from_states=[TaskStatus.DOING],
            quiet=True,
            finished_at=timezone.now(),
            result=results,
        )
        if not moved:
            return False
        task_ended(task_id=task_id, operation_id=operation_id, suborder_id=suborder_id, status=TaskStatus.DONE)
    return True


def parse_key(key: str) -> tuple[int, int] | None:
    try:
        subtask_id, attempt = key.split(":")
        return int(subtask_id), int(attempt)
    except (AttributeError, ValueError):
        return None


_WAITING = (SubtaskStatus.ASYNC, SubtaskStatus.DOING)


def _applies(report: dict, subtask_id: int, attempt: int) -> bool:
    """Whether the report is about the subtask's current attempt while it waits; logged when not."""
    row = CloudTaskSubtask.objects.filter(pk=subtask_id).values_list("attempts", "status").first()
    if row is not None and row[0] == attempt and row[1] in _WAITING:
        return True
    logger.info(
        "report %s for subtask %s (attempt %s) ignored: the subtask is %s at attempt %s",
        report.get("kind"),
        subtask_id,
        attempt,
        row and row[1],
        row and row[0],
    )
    return False


def do_async_subtask(*, report: dict) -> str:
    """Apply coreTasker's report on an asynchronous subtask.

    ``progress`` moves ASYNC -> DOING and raises the visible progress (never
    lowers it); ``done`` finishes the subtask and advances the task; ``error``
    goes to the step's retry policy. A report for another attempt, for a subtask
    no longer waiting, or a second final report changes nothing and is logged.
    Returns what happened.

    ``progress`` and ``done`` write first, guarded by the state and the attempt in
    the same UPDATE, and read the subtask only when nothing was written (to tell
    an ignored report from a progress already shown).
    """
    key = report.get("idempotency_key", "")
    parsed = parse_key(key)
    if parsed is None:
        logger.error("report with an unreadable key %r dropped", key)
        return "ignored"
    subtask_id, attempt = parsed
    kind = report.get("kind")
    if kind == "progress":
        progress = max(0, min(int(report.get("progress") or 0), 99))
        if subtask_move(
            subtask_id,
            to=SubtaskStatus.DOING,
            from_states=[SubtaskStatus.ASYNC],
            where={"attempts": attempt},
            quiet=True,
            progress=progress,
        ) or subtask_raise_progress(subtask_id, attempt, progress):
            return "progress"
        return "progress" if _applies(report, subtask_id, attempt) else "ignored"
    if kind == "done":
        with transaction.atomic():  # the subtask's DONE and the task's next move commit together
            moved = finish_subtask(
                subtask_id=subtask_id,
                attempt=attempt,
                result=report.get("result"),
                workflow_task_id=report.get("workflow_task_id"),
                notify=False,  # this consumer advances the task itself, below
            )
            if moved:
                task_advance(subtask_id=subtask_id)
        if not moved:
            _applies(report, subtask_id, attempt)  # logs why
            return "ignored"
        return "done"
    if not _applies(report, subtask_id, attempt):
        return "ignored"
    if kind == "error":
        return subtask_fail(
            subtask_id=subtask_id,
            step_name="do_async_subtask",
            error_class=f"CoreTasker:{report.get('error_code') or 'error'}",
            message=report.get("error_msg") or report.get("error_code") or "coreTasker reported an error",
        )
    logger.error("report of unknown kind %r for subtask %s dropped", kind, subtask_id)
    return "ignored"
