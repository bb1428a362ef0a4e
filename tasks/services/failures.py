"""The error path: every failure is written to cloud_task_error_logs and moves rows to ERROR.

A subtask that fails while its step's retry policy has attempts left goes back
to NEW (ERROR -> NEW) and is sent again after its backoff; otherwise it, its
task and the task's operation become ERROR, the resource lock is released, and
the task-finished listeners hear of it after the commit.
"""

from __future__ import annotations

import logging
import traceback as tb_module
from functools import partial

from django.db import transaction
from django.utils import timezone

from ..models import (
    CloudTask,
    CloudTaskErrorLog,
    CloudTaskSubtask,
    SubtaskStatus,
    TaskStatus,
)
from ..states import SUBTASK_RUNNING
from .messages import send_subtask
from .moves import subtask_move, task_ended, task_move

logger = logging.getLogger(__name__)


def error_log_write(
    *,
    task_id: int,
    step_name: str,
    message: str,
    error_class: str,
    subtask: CloudTaskSubtask | None = None,
    traceback: str = "",
) -> CloudTaskErrorLog:
    """Append one error log row; the pipeline step's name leads the message."""
    return CloudTaskErrorLog.objects.create(
        task_id=task_id,
        subtask=subtask,
        step=subtask.step if subtask else None,
        attempt=subtask.attempts if subtask else 0,
        error_class=error_class[:128],
        message=f"[{step_name}] {message}",
        traceback=traceback,
    )


def describe(exc: BaseException) -> tuple[str, str, str]:
    """(error class, message, traceback) of an exception being handled."""
    text = "".join(tb_module.format_exception(type(exc), exc, exc.__traceback__))
    return type(exc).__name__, str(exc) or type(exc).__name__, text


def task_fail(
    *,
    task_id: int,
    step_name: str,
    error_class: str,
    message: str,
    traceback: str = "",
    subtask_id: int | None = None,
    blocked_by: int | None = None,
) -> bool:
    """Log the error and move the subtask (if any), the task and its operation to ERROR.

    Returns ``True`` when this call moved the task to ERROR (a task already final
    keeps its state; the error is still logged).
    """
    with transaction.atomic():
        task = CloudTask.objects.select_for_update().get(pk=task_id)
        subtask = CloudTaskSubtask.objects.filter(pk=subtask_id).first() if subtask_id else None
        log = partial(
            error_log_write,
            task_id=task_id,
            subtask=subtask,
            step_name=step_name,
            error_class=error_class,
            traceback=traceback,
        )
        moved = _give_up(task, subtask, message, log, blocked_by=blocked_by)
    logger.warning("task %s failed in %s: %s: %s", task_id, step_name, error_class, message)
    return moved


def _give_up(task: CloudTask, subtask: CloudTaskSubtask | None, message: str, log, *, blocked_by=None) -> bool:
    """In the caller's transaction (task row locked): log, then subtask, task and operation ERROR."""
    log(message=message)
    if subtask is not None:
        _subtask_error(subtask.pk, message, quiet=True)
    moved = task_move(
        task.pk,
        to=TaskStatus.ERROR,
        from_states=[TaskStatus.NEW, TaskStatus.DOING],
        quiet=True,
        error_msg=message,
        finished_at=timezone.now(),
        blocked_by_id=blocked_by,
    )
    if moved:
        task_ended(
            task_id=task.pk,
            operation_id=task.operation_id,
            suborder_id=task.suborder_id,
            status=TaskStatus.ERROR,
            error_msg=message,
        )
    return moved


def _subtask_error(subtask_id: int, message: str, *, quiet: bool) -> bool:
    return subtask_move(
        subtask_id,
        to=SubtaskStatus.ERROR,
        from_states=SUBTASK_RUNNING,
        quiet=quiet,
        error_msg=message,
        finished_at=timezone.now(),
    )


def subtask_fail(
    *,
    subtask_id: int,
    step_name: str,
    error_class: str,
    message: str,
    traceback: str = "",
    retryable: bool = True,
) -> str:
    """A running subtask failed: retry it per its step's policy, or give it up as ERROR.

    Returns ``"retry"`` (sent again after its backoff), ``"error"`` (subtask, task
    and operation ERROR) or ``"stale"`` (the subtask was no longer running: the
    error is logged, nothing moves).
    """
    with transaction.atomic():
        task_id = CloudTaskSubtask.objects.filter(pk=subtask_id).values_list("task_id", flat=True).get()
        task = CloudTask.objects.select_for_update().get(pk=task_id)
        subtask = CloudTaskSubtask.objects.get(pk=subtask_id)  # read under the task's lock
        log = partial(
            error_log_write,
            task_id=task.pk,
            subtask=subtask,
            step_name=step_name,
            error_class=error_class,
            traceback=traceback,
        )
        if subtask.status not in SUBTASK_RUNNING:
            log(message=f"{message} (reported for a subtask already {subtask.status}; nothing changed)")
            return "stale"
        if retryable and subtask.attempts < subtask.max_attempts and task.status == TaskStatus.DOING:
            log(message=f"{message} (attempt {subtask.attempts} of {subtask.max_attempts}; retrying)")
            _subtask_error(subtask.pk, message, quiet=False)
            subtask_move(subtask.pk, to=SubtaskStatus.NEW, deadline=None, progress=0)
            send_subtask(subtask.pk, countdown=subtask.backoff * 2 ** max(subtask.attempts - 1, 0))
            return "retry"
        _give_up(task, subtask, message, log)
    logger.warning("task %s failed in %s: %s: %s", task.pk, step_name, error_class, message)
    return "error"
