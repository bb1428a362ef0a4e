"""Running a workflow_task's plan, subtask by subtask, and telling the tasker.

The plan is run group by group (``group_id``): every subtask of the lowest group
not yet DONE is queued (asynchronous mode) or run in turn (synchronous mode);
when the last subtask of a group finishes, the next group starts. A subtask's
driver step runs outside any transaction; the bookkeeping before and after runs
in short transactions that lock the workflow_task row, so parallel subtasks of a
group finishing together advance the plan exactly once.

Reports (:class:`coretasker.interface.CoreReport`) are sent only for workflows in
asynchronous mode, and only after the commit that recorded what they say.
"""

from __future__ import annotations

import logging
import socket
import uuid
from functools import partial

from django.conf import settings
from django.db import transaction

from common.transitions import transition

from .. import interface
from ..drivers.base import DriverRefusal, PlanStep, StepContext, get_driver
from ..models import WorkflowMode, WorkflowStatus, WorkflowSubtask, WorkflowTask
from ..transitions import WORKFLOW_SUBTASK, WORKFLOW_TASK

logger = logging.getLogger(__name__)
S = WorkflowStatus


def message_priority(pri: int) -> int:
    """The Celery message priority for ``pri`` (0 lowest .. 9 highest) on the configured broker.

    RabbitMQ serves the highest number first; kombu's Redis transport serves its
    first priority step (0) first, so there the scale is turned round.
    """
    top = settings.CORETASKER_MAX_PRIORITY
    pri = max(0, min(top, int(pri)))
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        return top - pri
    return pri


def send_run_workflow(workflow_task_id: int, celery_task_id: str, pri: int) -> None:
    """Queue the start of a workflow's run once the current transaction commits."""
    from .. import tasks

    transaction.on_commit(
        partial(
            tasks.run_workflow.apply_async,
            args=[workflow_task_id],
            task_id=celery_task_id,
            priority=message_priority(pri),
        )
    )


def _send_run_subtask(subtask_id: int, celery_task_id: str, pri: int) -> None:
    from .. import tasks

    transaction.on_commit(
        partial(
            tasks.run_subtask.apply_async, args=[subtask_id], task_id=celery_task_id, priority=message_priority(pri)
        )
    )


def _report(wf: WorkflowTask, kind: str, **fields) -> None:
    if wf.mode != WorkflowMode.ASYNC:
        return
    message = interface.CoreReport(
        workflow_task_id=wf.pk, idempotency_key=wf.idempotency_key or "", kind=kind, **fields
    )
    transaction.on_commit(partial(interface.report, message))


def pending_group(workflow_task_id: int) -> tuple[int, list[WorkflowSubtask]] | None:
    """The lowest group with a subtask not DONE, and that group's subtasks (None when all are DONE)."""
    open_subtasks = list(
        WorkflowSubtask.objects.filter(parent_id=workflow_task_id).exclude(status=S.DONE).order_by("group_id", "step")
    )
    if not open_subtasks:
        return None
    group = open_subtasks[0].group_id
    return group, [st for st in open_subtasks if st.group_id == group]


def merged_result(workflow_task_id: int) -> dict:
    """The results of the DONE subtasks in plan order, later steps overriding earlier keys."""
    merged: dict = {}
    for result in (
        WorkflowSubtask.objects.filter(parent_id=workflow_task_id, status=S.DONE)
        .order_by("step")
        .values_list("result", flat=True)
    ):
        merged.update(result or {})
    return merged


def _lock(workflow_task_id: int) -> WorkflowTask:
    return WorkflowTask.objects.select_for_update().get(pk=workflow_task_id)


def _finish_done(wf: WorkflowTask, result: dict | None = None, **changes) -> None:
    """DOING -> DONE with the merged result (read here unless given), plus ``changes``, in one UPDATE."""
    if result is None:
        result = merged_result(wf.pk)
    transition(
        WorkflowTask,
        wf.pk,
        table=WORKFLOW_TASK,
        to=S.DONE,
        from_states=[S.DOING],
        result=result,
        progress=100,
        is_valid=True,
        **changes,
    )
    _report(wf, "done", progress=100, result=result)


def _queue_next_group(wf: WorkflowTask, pending=None, **changes) -> None:
    """Queue every NEW, not yet queued subtask of the next group (call with the workflow row locked).

    ``pending`` (from :func:`pending_group`, as ``(group, [(id, status, celery_task_id)])``)
    may be passed by a caller that just read the plan; ``changes`` go into the
    same UPDATE of the workflow row as its ``step``.
    """
    if pending is None:
        found = pending_group(wf.pk)
        if found is None:
            _finish_done(wf, **changes)
            return
        pending = (found[0], [(st.pk, st.status, st.celery_task_id) for st in found[1]])
    group, subtasks = pending
    if group != wf.step:
        changes["step"] = group
    if changes:
        WorkflowTask.objects.filter(pk=wf.pk).update(**changes)
    for pk, status, claimed_by in subtasks:
        if status != S.NEW or claimed_by:
            continue
        celery_task_id = str(uuid.uuid4())
        # Claiming by writing the Celery id in a guarded UPDATE: a redelivered start
        # message finds it claimed and does not queue the subtask twice.
        claimed = WorkflowSubtask.objects.filter(pk=pk, status=S.NEW, celery_task_id="").update(
            celery_task_id=celery_task_id
        )
        if claimed:
            _send_run_subtask(pk, celery_task_id, wf.pri)


def workflow_start(*, workflow_task_id: int) -> None:
    """Start (or continue, after a restart) the asynchronous run of a workflow_task.

    Guarantees: a NEW workflow becomes DOING; the subtasks of its next group are
    queued once each, with the workflow's priority. Finished workflows are left alone.
    """
    with transaction.atomic():
        wf = WorkflowTask.objects.select_for_update().filter(pk=workflow_task_id).first()
        if wf is None:
            logger.warning("workflow_task %s vanished before it started", workflow_task_id)
            return
        if wf.status == S.NEW:
            transition(WorkflowTask, wf.pk, table=WORKFLOW_TASK, to=S.DOING, from_states=[S.NEW])
            wf.status = S.DOING
        if wf.status != S.DOING:
            return
        _queue_next_group(wf)


def run_inline(workflow_task_id: int) -> None:
    """Run a DOING workflow's plan in this process, group after group, until it is DONE or ERROR."""
    total = WorkflowSubtask.objects.filter(parent_id=workflow_task_id).count()
    for _ in range(total + 1):
        pending = pending_group(workflow_task_id)
        if pending is None:
            with transaction.atomic():
                wf = _lock(workflow_task_id)
                if wf.status == S.DOING:
                    _finish_done(wf)
            return
        ran = False
        for subtask in pending[1]:
            if subtask.status != S.NEW:
                continue
            outcome = subtask_run(subtask_id=subtask.pk, inline=True)
            if outcome is False:
                return
            ran = ran or outcome is True
        if not ran:
            return  # someone else runs this group; it reports when it is done


def subtask_run(*, subtask_id: int, inline: bool = False) -> bool | None:
    """Run one subtask's driver step and record the outcome.

    Returns True when it is DONE, False when it failed (the workflow_task is then
    ERROR with the driver's code and message), None when it did not run: it was
    not NEW (a redelivered message) or its workflow is no longer DOING. In
    asynchronous mode, the end of a group queues the next one and progress is
    reported after each subtask.
    """
    with transaction.atomic():
        subtask = WorkflowSubtask.objects.select_related("result_key").filter(pk=subtask_id).first()
        if subtask is None:
            return None
        wf = _lock(subtask.parent_id)
        if wf.status != S.DOING:
            # A sibling failed first: release the claim so a restart queues it again.
            WorkflowSubtask.objects.filter(pk=subtask.pk, status=S.NEW).update(celery_task_id="")
            return None
        if not transition(
            WorkflowSubtask, subtask.pk, table=WORKFLOW_SUBTASK, to=S.DOING, from_states=[S.NEW], quiet=True
        ):
            return None
        if wf.step != subtask.group_id:
            WorkflowTask.objects.filter(pk=wf.pk).update(step=subtask.group_id)
    inputs = (subtask.result_key.result or {}) if subtask.result_key_id else {}
    step = PlanStep(name=subtask.params.get("step", wf.task_type), group=subtask.group_id, agent=subtask.agent)
    context = StepContext(action=wf.task_type, params=wf.params, inputs=inputs, restart=wf.restart)
    try:
        result = get_driver().run_step(step, context)
    except DriverRefusal as refusal:
        _record_failure(subtask, step, refusal)
        return False
    except Exception as exc:  # a driver bug must still end the workflow, with its reason
        logger.exception("driver step %s of workflow_task %s crashed", step.name, wf.pk)
        _record_failure(subtask, step, DriverRefusal("driver_error", f"{type(exc).__name__}: {exc}"))
        return False
    _record_success(subtask, result, inline=inline)
    return True


def _record_success(subtask: WorkflowSubtask, result: dict, *, inline: bool) -> None:
    with transaction.atomic():
        wf = _lock(subtask.parent_id)
        transition(WorkflowSubtask, subtask.pk, table=WORKFLOW_SUBTASK, to=S.DONE, from_states=[S.DOING], result=result)
        # The whole plan in one read: progress, the merged result or the next group come from it.
        plan = list(
            WorkflowSubtask.objects.filter(parent_id=wf.pk)
            .order_by("group_id", "step")
            .values_list("pk", "group_id", "status", "celery_task_id", "result", "step")
        )
        done = sum(1 for row in plan if row[2] == S.DONE)
        progress = done * 100 // len(plan)
        run_dev = (result or {}).get("device") or wf.run_dev or socket.gethostname()
        changes = {"progress": max(progress, wf.progress), "run_dev": run_dev[:128]}
        if wf.status == S.DOING and done == len(plan):
            merged: dict = {}
            for row in sorted(plan, key=lambda row: row[5]):  # in step order, as merged_result
                merged.update(row[4] or {})
            _finish_done(wf, result=merged, run_dev=changes["run_dev"])
            return
        group_open = any(row[1] == subtask.group_id and row[2] != S.DONE for row in plan)
        if wf.status != S.DOING or inline or group_open:
            WorkflowTask.objects.filter(pk=wf.pk).update(**changes)
            if wf.status == S.DOING:
                _report(wf, "progress", progress=progress)
            return
        _report(wf, "progress", progress=progress)
        next_group = min(row[1] for row in plan if row[2] != S.DONE)
        _queue_next_group(
            wf, (next_group, [(row[0], row[2], row[3]) for row in plan if row[1] == next_group]), **changes
        )


def _record_failure(subtask: WorkflowSubtask, step: PlanStep, refusal: DriverRefusal) -> None:
    error = {"code": refusal.code, "message": refusal.message, "step": subtask.step, "step_name": step.name}
    error_msg = f"{refusal.code}: {refusal.message} (step {subtask.step} {step.name})"
    with transaction.atomic():
        wf = _lock(subtask.parent_id)
        transition(
            WorkflowSubtask,
            subtask.pk,
            table=WORKFLOW_SUBTASK,
            to=S.ERROR,
            from_states=[S.DOING],
            result={"error": error},
        )
        partial_effects = WorkflowSubtask.objects.filter(parent_id=wf.pk, status=S.DONE).exists()
        moved = transition(
            WorkflowTask,
            wf.pk,
            table=WORKFLOW_TASK,
            to=S.ERROR,
            from_states=[S.DOING],
            quiet=True,
            error_msg=error_msg,
            result={"error": error},
            is_valid=not partial_effects,
        )
        if moved:
            _report(wf, "error", progress=wf.progress, error_code=refusal.code, error_msg=error_msg)
