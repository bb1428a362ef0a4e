"""Retry and cancel: what a person (or the system) does with a failed or unwanted task.

Each call locks the task row (then its subtasks), checks the from-states against
the transition tables, records who did it and why in ``cloud_task_action_log``,
and sends messages only after the commit. ``user=None`` means the system.

A second "retry" on a subtask that is already being retried (NEW or running in a
DOING task) raises :class:`AlreadyRetrying`, a Conflict with a clear message, and
changes nothing; the admin shows it as "skipped".
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.transitions import IllegalTransition
from coretasker import interface

from ..flows import FLOWS
from ..models import (
    CloudTask,
    CloudTaskActionLog,
    CloudTaskSubtask,
    OperationStatus,
    SubtaskStatus,
    TaskAction,
    TaskStatus,
)
from ..states import SUBTASK_RUNNING, SUBTASK_TRANSITIONS
from .locks import lock_acquire
from .moves import operation_move, subtask_move, task_ended, task_move
from .operations import FAIL_AT
from .taskconsumer import idempotency_key
from .taskercenter import pre_produce_subtasks, split_task

logger = logging.getLogger(__name__)


class AlreadyRetrying(Conflict):
    code = "already_retrying"


class CoreStillWorking(Conflict):
    code = "core_still_working"


def _authorize(user, permission: str, reason: str) -> None:
    if user is not None and not user.has_perm(f"tasks.{permission}"):
        raise Forbidden(_("You do not have the permission to do this (%(perm)s).") % {"perm": permission})
    if not (reason or "").strip():
        raise InvalidInput(_("A reason is required."), field="reason")


def _user_id(user):
    return user.pk if getattr(user, "is_authenticated", False) else None


def _lock_task(task_id: int) -> CloudTask:
    task = CloudTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Task %(id)s does not exist.") % {"id": task_id})
    return task


def _core_state(subtask: CloudTaskSubtask) -> dict:
    """What coreTasker says about the subtask's current attempt."""
    key = idempotency_key(subtask)
    if subtask.attempts == 0:
        return {"key": key, "status": None, "still_working": False, "known": True}
    try:
        answer = interface.lookup(key)
    except Exception as exc:  # coreTasker unreachable: say so, never guess
        logger.warning("coreTasker lookup of %s failed: %s", key, exc)
        return {"key": key, "status": None, "still_working": None, "known": False, "error": str(exc)}
    if answer is None:
        return {"key": key, "status": None, "still_working": False, "known": True}
    return {
        "key": key,
        "status": answer.status,
        "still_working": answer.status == interface.AnswerStatus.ACCEPTED,
        "known": True,
        "workflow_task_id": answer.workflow_task_id,
    }


def subtask_retry_preview(*, subtask_id: int) -> dict:
    """What a retry of this subtask would run again, and whether coreTasker still works on it. Reads only."""
    subtask = CloudTaskSubtask.objects.select_related("task").filter(pk=subtask_id).first()
    if subtask is None:
        raise NotFound(_("Subtask %(id)s does not exist.") % {"id": subtask_id})
    core = _core_state(subtask)
    blocked = ""
    if subtask.status != SubtaskStatus.ERROR:
        blocked = _("The subtask is %(status)s, not ERROR.") % {"status": subtask.status}
    elif subtask.task.status not in (TaskStatus.ERROR, TaskStatus.DOING):
        blocked = _("Its task is %(status)s.") % {"status": subtask.task.status}
    elif core["still_working"] is not False:
        blocked = _("coreTasker may still be working on attempt %(key)s: retry only with force and a reason.") % {
            "key": core["key"]
        }
    return {
        "subtask_id": subtask.pk,
        "task_id": subtask.task_id,
        "step": subtask.step,
        "group": subtask.group,
        "action": subtask.action,
        "mode": subtask.mode,
        "status": subtask.status,
        "attempts": subtask.attempts,
        "next_attempt": subtask.attempts + 1,
        "next_key": f"{subtask.pk}:{subtask.attempts + 1}",
        "params": subtask.params,
        "latest_error": subtask.error_msg,
        "core": core,
        "can_retry": not blocked,
        "blocked_reason": blocked,
    }


def _reopen_task(task: CloudTask) -> None:
    """ERROR -> DOING for the task and its operation, lock re-taken (Conflict if another task took it)."""
    holder = lock_acquire(task=task)
    if holder is not None:
        raise Conflict(
            _("Resource %(type)s:%(id)s is now locked by task #%(holder)s; retry after it ends.")
            % {"type": task.resource_type, "id": task.resource_id, "holder": holder},
            code="resource_locked",
        )
    task_move(task.pk, to=TaskStatus.DOING, error_msg="", finished_at=None, blocked_by=None)
    if task.operation_id:
        operation_move(
            task.operation_id,
            to=OperationStatus.DOING,
            from_states=[OperationStatus.ERROR, OperationStatus.LOCK],
            error_msg="",
        )


def _reset_subtask(task: CloudTask, subtask: CloudTaskSubtask) -> None:
    """ERROR -> NEW with a fresh retry policy; ``fail_at`` is dropped (a forced failure applies to the first run)."""
    flow = FLOWS.get(task.task_type)
    policy = flow.steps[subtask.step - 1].attempts if flow and subtask.step <= len(flow.steps) else 1
    params = {key: value for key, value in subtask.params.items() if key != FAIL_AT}
    subtask_move(
        subtask.pk,
        to=SubtaskStatus.NEW,
        from_states=[SubtaskStatus.ERROR],
        max_attempts=subtask.attempts + policy,
        params=params,
        deadline=None,
        progress=0,
        finished_at=None,
    )


def subtask_retry(*, subtask_id: int, user, reason: str, force: bool = False) -> CloudTaskSubtask:
    """Retry a failed subtask: ERROR -> NEW (its task and operation back to DOING, lock re-taken).

    Its old error logs are kept; the next attempt gets a new coreTasker key.
    Refused with :class:`CoreStillWorking` while coreTasker may still work on the
    old attempt, unless ``force``. A subtask already being retried raises
    :class:`AlreadyRetrying`; one that is DONE or CANCELLED, IllegalTransition.
    """
    _authorize(user, "retry_subtask", reason)
    with transaction.atomic():
        task_id = CloudTaskSubtask.objects.filter(pk=subtask_id).values_list("task_id", flat=True).first()
        if task_id is None:
            raise NotFound(_("Subtask %(id)s does not exist.") % {"id": subtask_id})
        task = _lock_task(task_id)
        subtask = CloudTaskSubtask.objects.select_for_update().get(pk=subtask_id)
        _check_retryable(task, subtask)
        core = _check_core(subtask, force)
        if task.status == TaskStatus.ERROR:
            _reopen_task(task)
        _reset_subtask(task, subtask)
        CloudTaskActionLog.objects.create(
            task=task,
            subtask=subtask,
            action=TaskAction.RETRY_SUBTASK,
            user_id=_user_id(user),
            reason=reason,
            detail={"attempts": subtask.attempts, "force": force, "core": core},
        )
        pre_produce_subtasks(task_id=task.pk, resend=True)
    subtask.refresh_from_db()
    return subtask


def _check_retryable(task: CloudTask, subtask: CloudTaskSubtask) -> None:
    if subtask.status == SubtaskStatus.ERROR and task.status in (TaskStatus.ERROR, TaskStatus.DOING):
        return
    if task.status == TaskStatus.DOING and subtask.status in SUBTASK_RUNNING | {SubtaskStatus.NEW}:
        raise AlreadyRetrying(
            _("Subtask %(id)s is already being retried or running (%(status)s).")
            % {"id": subtask.pk, "status": subtask.status}
        )
    if subtask.status != SubtaskStatus.ERROR:
        raise IllegalTransition(CloudTaskSubtask._meta.label, subtask.pk, subtask.status, SubtaskStatus.NEW)
    raise IllegalTransition(CloudTask._meta.label, task.pk, task.status, TaskStatus.DOING)


def _check_core(subtask: CloudTaskSubtask, force: bool) -> dict:
    core = _core_state(subtask)
    if core["still_working"] is not False and not force:
        raise CoreStillWorking(
            _("coreTasker may still be working on %(key)s (%(status)s); retry with force if you are sure.")
            % {"key": core["key"], "status": core["status"] or _("unknown")}
        )
    return core


def task_retry(*, task_id: int, user, reason: str) -> CloudTask:
    """Retry a failed task: every ERROR subtask back to NEW, the task and operation back to DOING.

    A task that failed before it was split (a lock conflict) is split now. The
    lock is re-taken (Conflict if another task holds it). Refused while
    coreTasker may still work on one of the failed attempts.
    """
    _authorize(user, "retry_task", reason)
    with transaction.atomic():
        task = _lock_task(task_id)
        failed = list(CloudTaskSubtask.objects.select_for_update().filter(task_id=task.pk, status=SubtaskStatus.ERROR))
        if task.status == TaskStatus.DOING and not failed:
            raise AlreadyRetrying(_("Task %(id)s is already running.") % {"id": task.pk})
        if task.status not in (TaskStatus.ERROR, TaskStatus.DOING):
            raise IllegalTransition(CloudTask._meta.label, task.pk, task.status, TaskStatus.DOING)
        cores = {subtask.pk: _check_core(subtask, False) for subtask in failed}
        if task.status == TaskStatus.ERROR:
            _reopen_task(task)
        split_task(task=task)
        for subtask in failed:
            _reset_subtask(task, subtask)
        CloudTaskActionLog.objects.create(
            task=task,
            action=TaskAction.RETRY_TASK,
            user_id=_user_id(user),
            reason=reason,
            detail={"subtasks": [s.pk for s in failed], "core": {str(k): v for k, v in cores.items()}},
        )
        pre_produce_subtasks(task_id=task.pk, resend=True)
    task.refresh_from_db()
    return task


def task_cancel(*, task_id: int, user, reason: str) -> CloudTask:
    """Cancel a task that has not finished: CANCELLED with its unfinished subtasks and its operation.

    Queued subtasks never run; a late coreTasker report for a cancelled subtask
    is ignored (coreTasker is not asked to stop work it already started). The
    lock is released and listeners hear of it after the commit. A task already
    CANCELLED raises Conflict ``already_cancelled``; a DONE one, IllegalTransition.
    """
    _authorize(user, "cancel_task", reason)
    with transaction.atomic():
        task = _lock_task(task_id)
        if task.status == TaskStatus.CANCELLED:
            raise Conflict(_("Task %(id)s is already cancelled.") % {"id": task.pk}, code="already_cancelled")
        now = timezone.now()
        task_move(task.pk, to=TaskStatus.CANCELLED, finished_at=now)
        cancelled = CloudTaskSubtask.objects.filter(
            task_id=task.pk, status__in=SUBTASK_TRANSITIONS.sources(SubtaskStatus.CANCELLED)
        ).update(status=SubtaskStatus.CANCELLED, finished_at=now, deadline=None, updated_at=now)
        task_ended(
            task_id=task.pk, operation_id=task.operation_id, suborder_id=task.suborder_id, status=TaskStatus.CANCELLED
        )
        CloudTaskActionLog.objects.create(
            task=task,
            action=TaskAction.CANCEL_TASK,
            user_id=_user_id(user),
            reason=reason,
            detail={"previous_status": task.status, "subtasks_cancelled": cancelled},
        )
    task.refresh_from_db()
    return task
