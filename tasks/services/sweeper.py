"""Periodic jobs: time out subtasks past their deadline, re-send messages that were lost.

Both are safe to run at any time and twice at once: they only act through the
pipeline's guarded transitions and idempotent consumers. See ``tasks/schedules.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..models import CloudTask, CloudTaskSubtask, OperationStatus, ResUserOperation, SubtaskStatus, TaskStatus
from ..states import SUBTASK_RUNNING
from .failures import subtask_fail
from .messages import send_operation, send_task_advance

logger = logging.getLogger(__name__)


def subtask_sweep_deadlines(*, now=None, limit: int = 500) -> int:
    """Every running subtask past its deadline becomes ERROR with a timeout error log.

    No automatic retry: coreTasker may still be working on it, so a person
    decides (the retry preview shows what coreTasker says). Returns how many
    subtasks it timed out.
    """
    now = now or timezone.now()
    late = list(
        CloudTaskSubtask.objects.filter(status__in=SUBTASK_RUNNING, deadline__lt=now)
        .order_by("deadline")
        .values_list("id", "deadline", "action")[:limit]
    )
    timed_out = 0
    for pk, deadline, action in late:
        outcome = subtask_fail(
            subtask_id=pk,
            step_name="sweep_deadlines",
            error_class="SubtaskTimeout",
            message=f"{action} did not finish before its deadline {deadline.isoformat()}",
            retryable=False,
        )
        timed_out += outcome == "error"
    if timed_out:
        logger.warning("deadline sweeper: %d subtask(s) timed out", timed_out)
    return timed_out


def pipeline_sweep_lost_messages(*, now=None, stale_seconds: int | None = None, limit: int = 500) -> dict:
    """Re-send the message of every row left waiting longer than ``stale_seconds``.

    - an operation still NEW or LOCK: its queue_operation_task_V3 message was lost
      (a crash between commit and send) or its worker died half-way;
    - a DOING task with nothing running and nothing failed: a subtask or taskdone
      message was lost; it gets a taskdone nudge that re-sends its current group's
      NEW subtasks, or finishes it.

    Consumers are idempotent, so a message that was only slow costs one no-op.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=stale_seconds or getattr(settings, "TASKER_STALE_SECONDS", 60))
    operations = list(
        ResUserOperation.objects.filter(
            task_status__in=[OperationStatus.NEW, OperationStatus.LOCK], updated_at__lt=stale
        ).values_list("id", flat=True)[:limit]
    )
    for pk in operations:
        send_operation(pk)
    busy = CloudTaskSubtask.objects.filter(
        task_id=OuterRef("pk"), status__in=SUBTASK_RUNNING | {SubtaskStatus.ERROR, SubtaskStatus.CANCELLED}
    )
    tasks = list(
        CloudTask.objects.filter(status=TaskStatus.DOING, updated_at__lt=stale)
        .exclude(Exists(busy))
        .values_list("id", flat=True)[:limit]
    )
    for pk in tasks:
        send_task_advance(pk)
    if operations or tasks:
        logger.warning("lost-message sweeper: re-sent %d operation(s), %d task(s)", len(operations), len(tasks))
    return {"operations": operations, "tasks": tasks}
