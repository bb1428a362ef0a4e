"""taskconsumer: run one subtask through coreTasker.

The consumer of ``queue_subtask_V3``: ``do_prepare_subtask`` ->
``process_prepare_subtask`` -> ``process_action`` (NEW -> PREPARE) ->
``do_subtask`` (calls :func:`coretasker.interface.submit`) -> ``deal_with_result``
-> ``finish_subtask`` (sync: DONE, then a message to queue_taskdone_V3) or ASYNC,
where :func:`tasks.services.taskdone.do_async_subtask` takes coreTasker's reports.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from coretasker import interface

from ..models import CloudTaskSubtask, SubtaskMode, SubtaskStatus, TaskStatus
from .failures import describe, subtask_fail
from .messages import send_subtask_done
from .moves import subtask_move
from .rows import subtask_set_workflow, subtask_to_run

logger = logging.getLogger(__name__)


def idempotency_key(subtask: CloudTaskSubtask) -> str:
    """coreTasker's idempotency key of the subtask's current attempt."""
    return f"{subtask.pk}:{subtask.attempts}"


def do_prepare_subtask(*, subtask_id: int) -> str:
    """Consume ``{"subtask_id": N, "type": "subtask"}``: run a NEW subtask once.

    A subtask that is not NEW (a redelivered or duplicated message) is passed to
    queue_taskdone_V3 instead of running twice. Returns what happened:
    ``"ran"``, ``"forwarded"`` or ``"skipped"`` (its task is not DOING).
    """
    # NEW -> PREPARE -> ASYNC/DOING in one guarded UPDATE: the waiting state is
    # entered before coreTasker is called, so a report arriving at once finds it.
    subtask = process_prepare_subtask(subtask_id=subtask_id, wait=True)
    if subtask is None:
        return "skipped"
    if subtask == "forward":
        send_subtask_done(subtask_id)
        return "forwarded"
    do_subtask(subtask=subtask)
    return "ran"


def _waiting_state(subtask: CloudTaskSubtask) -> str:
    """Where a prepared subtask waits: DOING (sync: runs while we wait) or ASYNC (waits for reports)."""
    return SubtaskStatus.ASYNC if subtask.mode == SubtaskMode.ASYNC else SubtaskStatus.DOING


def _enter_waiting(subtask: CloudTaskSubtask) -> bool:
    """PREPARE -> DOING or ASYNC, for a subtask prepared on its own."""
    waiting = _waiting_state(subtask)
    if not process_action(subtask_id=subtask.pk, to=waiting, from_states=[SubtaskStatus.PREPARE]):
        logger.info("subtask %s left PREPARE before it ran (cancelled?)", subtask.pk)
        return False
    subtask.status = waiting
    return True


def process_prepare_subtask(*, subtask_id: int, wait: bool = False):
    """Move a NEW subtask of a DOING task to PREPARE (one more attempt, deadline set).

    With ``wait`` the same UPDATE goes on to the state the subtask waits in
    (NEW -> PREPARE -> ASYNC or DOING, each an edge of the table, checked from
    NEW), as :func:`do_prepare_subtask` used to commit both moves together.
    Returns the prepared subtask (its task's resource, site and customer
    loaded), ``"forward"`` when the subtask was not NEW, or ``None`` when its task
    is not DOING (cancelled or failed: queued subtasks do not run).
    """
    subtask = subtask_to_run(subtask_id)
    if subtask is None:
        logger.warning("subtask %s does not exist; message dropped", subtask_id)
        return None
    if subtask.status != SubtaskStatus.NEW:
        return "forward"
    if subtask.task.status != TaskStatus.DOING:
        logger.info("subtask %s not run: its task %s is %s", subtask_id, subtask.task_id, subtask.task.status)
        return None
    now = timezone.now()
    changes = {
        "attempts": subtask.attempts + 1,
        "started_at": now,
        "finished_at": None,
        "deadline": now + timedelta(seconds=subtask.timeout),
        "progress": 0,
        "error_msg": "",
    }
    to, through = (_waiting_state(subtask), [SubtaskStatus.PREPARE]) if wait else (SubtaskStatus.PREPARE, [])
    # Guarded by NEW and by the attempt count read above, in the same UPDATE: of two
    # racing workers only one moves it, and the count cannot have changed meanwhile.
    if not process_action(
        subtask_id=subtask_id,
        to=to,
        from_states=[SubtaskStatus.NEW],
        through=through,
        where={"attempts": subtask.attempts},
        **changes,
    ):
        return "forward"
    for name, value in changes.items():
        setattr(subtask, name, value)
    subtask.status = to
    return subtask


def process_action(*, subtask_id: int, to: str, from_states=None, through=(), where=None, **changes) -> bool:
    """Apply one guarded status change (and field updates) to a subtask; ``True`` if it moved."""
    return subtask_move(subtask_id, to=to, from_states=from_states, through=through, where=where, quiet=True, **changes)


def do_subtask(*, subtask: CloudTaskSubtask) -> str:
    """Hand a prepared subtask to coreTasker and deal with its answer.

    A synchronous step runs in DOING; an asynchronous one waits in ASYNC (moved
    there before the call, so that a report arriving at once finds it waiting).
    An exception is logged and handled by the step's retry policy.
    """
    if subtask.status == SubtaskStatus.PREPARE and not _enter_waiting(subtask):
        return "skipped"
    task = subtask.task
    request = interface.CoreRequest(
        action=subtask.action,
        target_type=interface.ACTION_TARGET_TYPES[subtask.action],
        target_obj=f"{task.resource_type}:{task.resource_id}",
        site_id=task.site_id,
        customer_id=task.customer_id,
        idempotency_key=idempotency_key(subtask),
        params=subtask.params,
        mode=subtask.mode,
        # A retry resumes the previous attempt's workflow from its failed step.
        resume_key=f"{subtask.pk}:{subtask.attempts - 1}" if subtask.attempts > 1 else "",
    )
    try:
        answer = interface.submit(request)
    except Exception as exc:
        error_class, message, text = describe(exc)
        return subtask_fail(
            subtask_id=subtask.pk, step_name="do_subtask", error_class=error_class, message=message, traceback=text
        )
    return deal_with_result(subtask=subtask, answer=answer)


def deal_with_result(*, subtask: CloudTaskSubtask, answer: interface.CoreAnswer) -> str:
    """DONE -> :func:`finish_subtask`; ERROR -> the retry policy; ACCEPTED -> wait for reports."""
    if answer.status == interface.AnswerStatus.DONE:
        return "done" if finish_subtask(subtask_id=subtask.pk, answer=answer) else "stale"
    if answer.status == interface.AnswerStatus.ERROR:
        return subtask_fail(
            subtask_id=subtask.pk,
            step_name="deal_with_result",
            error_class=f"CoreTasker:{answer.error_code or 'error'}",
            message=answer.error_msg or answer.error_code or "coreTasker reported an error",
        )
    if answer.status == interface.AnswerStatus.ACCEPTED:
        subtask_set_workflow(subtask.pk, subtask.attempts, answer.workflow_task_id)
        return "async"
    return subtask_fail(
        subtask_id=subtask.pk,
        step_name="deal_with_result",
        error_class="UnexpectedAnswer",
        message=f"coreTasker answered {answer.status!r}",
    )


def finish_subtask(
    *,
    subtask_id: int,
    answer: interface.CoreAnswer | None = None,
    result=None,
    workflow_task_id: int | None = None,
    notify: bool = True,
    attempt: int | None = None,
) -> bool:
    """Move a running subtask to DONE with its result; then tell queue_taskdone_V3 (after commit).

    Returns ``False`` (and changes nothing) when the subtask was no longer DOING
    or ASYNC: a second report, or one for a cancelled subtask; or, given
    ``attempt``, when the subtask is at another attempt (a report of an old one).
    """
    changes = {"progress": 100, "finished_at": timezone.now(), "deadline": None, "result": result}
    if answer is not None:
        changes["result"] = answer.result
        workflow_task_id = answer.workflow_task_id
    if workflow_task_id:
        changes["workflow_task_id"] = workflow_task_id
    moved = process_action(
        subtask_id=subtask_id,
        to=SubtaskStatus.DONE,
        from_states=[SubtaskStatus.DOING, SubtaskStatus.ASYNC],
        where=None if attempt is None else {"attempts": attempt},
        **changes,
    )
    if moved and notify:
        send_subtask_done(subtask_id)  # after the surrounding commit, or at once in autocommit
    if not moved:
        logger.info("subtask %s was not running; result not applied", subtask_id)
    return moved
