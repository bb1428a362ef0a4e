"""A task's timeline for ops: a Gantt-like bar per subtask attempt, its coreTasker work, its errors.

Attempt history comes from the error logs (each failed attempt wrote one, with its
``attempt`` number) plus the subtask's current attempt, which runs from
``started_at`` to ``finished_at`` (or to now while it runs). The start of an
earlier attempt is not stored: its bar starts where the attempt before it ended
(or when the subtask was created) and is drawn lighter, with a tooltip saying so.
A fixed number of queries whatever the task's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import NotFound
from tasks.models import (
    CloudTask,
    CloudTaskActionLog,
    CloudTaskErrorLog,
    CloudTaskResourceLock,
    CloudTaskSubtask,
    SubtaskStatus,
)

from .charts import Chart, Rect, Text, status_colour

RUNNING = {SubtaskStatus.PREPARE, SubtaskStatus.DOING, SubtaskStatus.ASYNC}
LANE_LABEL_WIDTH = 190
ATTEMPT_HEIGHT = 16
LANE_GAP = 8
AXIS_HEIGHT = 22
WIDTH = 900


@dataclass
class Attempt:
    number: int
    status: str
    start: datetime | None
    end: datetime | None
    current: bool
    start_known: bool


@dataclass
class SubtaskLane:
    subtask: CloudTaskSubtask
    attempts: list[Attempt] = field(default_factory=list)
    errors: list[CloudTaskErrorLog] = field(default_factory=list)


def timeline_build(*, task_id: int, now: datetime | None = None) -> dict:
    """Everything the timeline page shows for one task; raises NotFound for an unknown id."""
    now = now or timezone.now()
    task = CloudTask.objects.select_related("blocked_by", "operation").filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Task %(id)s does not exist.") % {"id": task_id})
    subtasks = list(task.subtasks.select_related("workflow_task").order_by("step"))
    errors = list(task.error_logs.order_by("created_at", "id"))
    blocking = list(CloudTask.objects.filter(blocked_by=task).only("id", "task_type", "status").order_by("id")[:20])
    lanes = [_lane(subtask, [e for e in errors if e.subtask_id == subtask.pk], now) for subtask in subtasks]
    lock = CloudTaskResourceLock.objects.filter(resource_type=task.resource_type, resource_id=task.resource_id).first()
    actions = list(CloudTaskActionLog.objects.filter(task=task).select_related("user").order_by("created_at", "id"))
    return {
        "lock": lock,
        "holds_lock": lock is not None and lock.task_id == task.pk,
        "actions": actions,
        "task": task,
        "lanes": lanes,
        "task_errors": [e for e in errors if e.subtask_id is None],
        "error_count": len(errors),
        "blocking": blocking,
        "chart": timeline_chart(lanes=lanes, now=now),
        "now": now,
    }


def _lane(subtask: CloudTaskSubtask, errors: list[CloudTaskErrorLog], now: datetime) -> SubtaskLane:
    lane = SubtaskLane(subtask=subtask, errors=errors)
    failed_at = {}
    for error in errors:
        failed_at.setdefault(error.attempt, error.created_at)
    current = subtask.attempts
    last = max([current, *failed_at], default=0)
    previous_end = None
    for number in range(1, last + 1):
        if number == current and subtask.started_at:
            end = subtask.finished_at or (now if subtask.status in RUNNING else failed_at.get(number))
            attempt = Attempt(number, subtask.status, subtask.started_at, end, True, True)
        elif number in failed_at:
            start = min(previous_end or subtask.created_at, failed_at[number])
            attempt = Attempt(number, SubtaskStatus.ERROR, start, failed_at[number], number == current, False)
        else:
            continue  # an attempt that left no trace (it never started)
        lane.attempts.append(attempt)
        previous_end = attempt.end or previous_end
    return lane


def timeline_chart(*, lanes: list[SubtaskLane], now: datetime) -> Chart:
    """Lanes of attempt bars on one time axis, from the first start to the last end."""
    moments = [m for lane in lanes for a in lane.attempts for m in (a.start, a.end) if m]
    rows = sum(max(len(lane.attempts), 1) for lane in lanes)
    height = AXIS_HEIGHT + rows * ATTEMPT_HEIGHT + len(lanes) * LANE_GAP + 4
    chart = Chart(
        width=WIDTH,
        height=height,
        label=_("Subtask attempts over time, coloured by status"),
        legend=[(str(label), status_colour(value)) for value, label in SubtaskStatus.choices],
    )
    if not moments:
        return chart
    t0, t1 = min(moments), max(moments)
    span = max((t1 - t0).total_seconds(), 1.0)
    plot_w = WIDTH - LANE_LABEL_WIDTH - 10

    def x_of(moment: datetime) -> float:
        return LANE_LABEL_WIDTH + plot_w * (moment - t0).total_seconds() / span

    for i in range(5):
        x = LANE_LABEL_WIDTH + plot_w * i / 4
        chart.lines.append((x, AXIS_HEIGHT - 4, x, height))
        moment = timezone.localtime(t0 + (t1 - t0) * i / 4)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        chart.texts.append(Text(x, AXIS_HEIGHT - 8, moment.strftime("%H:%M:%S"), anchor))
    y = AXIS_HEIGHT
    for lane in lanes:
        subtask = lane.subtask
        lane_rows = max(len(lane.attempts), 1)
        chart.texts.append(
            Text(LANE_LABEL_WIDTH - 8, y + ATTEMPT_HEIGHT * 0.75, f"{subtask.step}. {subtask.action}", "end")
        )
        for index, attempt in enumerate(lane.attempts):
            start, end = attempt.start or attempt.end, attempt.end or attempt.start
            x = x_of(start)
            width = max(x_of(end) - x, 3)
            chart.rects.append(
                Rect(
                    x,
                    y + index * ATTEMPT_HEIGHT + 2,
                    width,
                    ATTEMPT_HEIGHT - 4,
                    status_colour(attempt.status) + ("" if attempt.start_known else "99"),
                    _attempt_title(subtask, attempt),
                )
            )
        y += lane_rows * ATTEMPT_HEIGHT + LANE_GAP
    return chart


def _attempt_title(subtask: CloudTaskSubtask, attempt: Attempt) -> str:
    fmt = "%Y-%m-%d %H:%M:%S"
    start = timezone.localtime(attempt.start).strftime(fmt) if attempt.start else "?"
    end = timezone.localtime(attempt.end).strftime(fmt) if attempt.end else "?"
    title = _("step %(step)s %(action)s, attempt %(n)s: %(status)s, %(start)s to %(end)s") % {
        "step": subtask.step,
        "action": subtask.action,
        "n": attempt.number,
        "status": attempt.status,
        "start": start,
        "end": end,
    }
    if not attempt.start_known:
        title += " " + _("(start not recorded)")
    return title
