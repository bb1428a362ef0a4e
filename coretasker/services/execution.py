"""Running a workflow_task's plan, subtask by subtask, and telling the tasker.

The plan is run group by group (``group_id``): every subtask of the lowest group
not yet DONE is queued (asynchronous mode) or run in turn (synchronous mode);
when the last subtask of a group finishes, the next group starts. A subtask is
started by one guarded UPDATE (NEW -> DOING), committed at once, so a redelivered
message runs nothing. Its driver step then runs in a transaction that, once the
step is done, locks the workflow_task row and records the outcome, so what the
step wrote to this database commits with its record, and parallel subtasks of a
group finishing together advance the plan exactly once. A step that fails is
rolled back and its failure recorded in a transaction of its own.

Every pipeline message runs this, so its statements are few and written out
(:mod:`.sql`): a message costs a handful of small statements and one commit.

Reports (:class:`coretasker.interface.CoreReport`) are sent only for workflows in
asynchronous mode, and only after the commit that recorded what they say.
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.db import OperationalError, transaction

from common.transient import is_transient
from common.transitions import transition

from .. import interface
from ..drivers.base import DriverRefusal, PlanStep, StepContext, get_driver
from ..interface import AnswerStatus, CoreAnswer
from ..models import WorkflowMode, WorkflowStatus, WorkflowSubtask, WorkflowTask
from ..transitions import WORKFLOW_SUBTASK, WORKFLOW_TASK
from . import sql

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
            argsrepr=f"[{workflow_task_id}]",  # Celery's default (saferepr) is a fifth of a publish's CPU
        )
    )


def _send_run_subtask(subtask_id: int, celery_task_id: str, pri: int) -> None:
    from .. import tasks

    transaction.on_commit(
        partial(
            tasks.run_subtask.apply_async,
            args=[subtask_id],
            task_id=celery_task_id,
            priority=message_priority(pri),
            argsrepr=f"[{subtask_id}]",
        )
    )


class LockedWorkflow(NamedTuple):
    """The columns of a workflow_task that running its plan needs, read under the row's lock."""

    pk: int
    status: str
    step: int
    progress: int
    run_dev: str
    mode: str
    idempotency_key: str | None
    pri: int
    restart: int


_WF = WorkflowTask._meta.db_table
_SUB = WorkflowSubtask._meta.db_table
_LOCK_SQL = f"SELECT {', '.join(LockedWorkflow._fields[1:])} FROM {_WF} WHERE id = %s"
_OPEN_SQL = f"SELECT id, step, group_id, status, celery_task_id FROM {_SUB} WHERE parent_id = %s AND status <> %s"
# The workflow row and its plan's rows, locked and read in one statement (see _lock_with_plan).
_LOCK_PLAN_SQL = (
    f"SELECT {', '.join('w.' + column for column in LockedWorkflow._fields[1:])}, "
    f"s.id, s.step, s.group_id, s.status, s.celery_task_id, s.result FROM {_WF} w "
    f"LEFT JOIN {_SUB} s ON s.parent_id = w.id WHERE w.id = %s"
)
# The workflow row and its subtasks not DONE (read by a start, without locks).
_OPEN_PLAN_SQL = (
    f"SELECT {', '.join('w.' + column for column in LockedWorkflow._fields[1:])}, "
    f"s.id, s.step, s.group_id, s.status, s.celery_task_id FROM {_WF} w "
    f"LEFT JOIN {_SUB} s ON s.parent_id = w.id AND s.status <> %s WHERE w.id = %s"
)
# A subtask with what its step runs with: the request (task_type and params never
# change), where the workflow is (status, step, restart) and the result the subtask
# consumes (its producer is DONE, and a DONE result is never rewritten).
_SUBTASK_SQL = (
    "SELECT s.parent_id, s.step, s.group_id, s.agent, s.params, k.result, "
    f"w.task_type, w.params, w.status, w.step, w.restart FROM {_SUB} s "
    f"JOIN {_WF} w ON w.id = s.parent_id LEFT JOIN {_SUB} k ON k.id = s.result_key_id WHERE s.id = %s"
)


#: What recording a step returns when its workflow is no longer DOING.
STOPPED = object()


@dataclass(slots=True)
class PlanRow:
    """One workflow_subtask as the run keeps track of it (``name``, ``agent`` and
    ``result_key_id`` are only filled for a plan run by the process that created it)."""

    pk: int
    step: int
    group: int
    status: str
    celery_task_id: str = ""
    result: dict | None = None
    name: str = ""
    agent: str = ""
    result_key_id: int | None = None


@dataclass(frozen=True)
class KnownPlan:
    """A plan the calling process has just created and alone runs (a synchronous request run inline).

    ``rows`` are its subtasks in step order; the run keeps them up to date, so
    nothing of it is read back from the database.
    """

    workflow_task_id: int
    task_type: str
    params: dict
    rows: list[PlanRow]


def _report(wf: LockedWorkflow, kind: str, **fields) -> None:
    if wf.mode != WorkflowMode.ASYNC:
        return
    message = interface.CoreReport(
        workflow_task_id=wf.pk, idempotency_key=wf.idempotency_key or "", kind=kind, **fields
    )
    transaction.on_commit(partial(interface.report, message))


def _lock(workflow_task_id: int, *, missing_ok: bool = False) -> LockedWorkflow | None:
    """Lock the workflow_task row and read what the bookkeeping needs.

    Every change to a plan's progress is made under this lock, so parallel
    subtasks of a group finishing together advance the plan exactly once.
    """
    for row in sql.fetch(_LOCK_SQL + sql.for_update(), [workflow_task_id]):
        return LockedWorkflow(workflow_task_id, *row)
    if missing_ok:
        return None
    raise WorkflowTask.DoesNotExist(f"workflow_task {workflow_task_id} does not exist")


def _next_group(rows: list[PlanRow]) -> tuple[int, list[PlanRow]] | None:
    """The lowest group with a subtask not DONE, and that group's open subtasks in step order."""
    open_rows = [row for row in rows if row.status != S.DONE]
    if not open_rows:
        return None
    group = min(row.group for row in open_rows)
    return group, sorted((row for row in open_rows if row.group == group), key=lambda row: row.step)


def _merged(rows: list[PlanRow]) -> dict:
    """The results of the DONE subtasks in step order, later steps overriding earlier keys."""
    merged: dict = {}
    for row in sorted(rows, key=lambda row: row.step):
        if row.status == S.DONE:
            merged.update(row.result or {})
    return merged


def pending_group(workflow_task_id: int) -> tuple[int, list[PlanRow]] | None:
    """The lowest group with a subtask not DONE, and that group's open subtasks (None when all are DONE)."""
    return _next_group([PlanRow(*row) for row in sql.fetch(_OPEN_SQL, [workflow_task_id, S.DONE])])


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


def _lock_with_plan(workflow_task_id: int) -> tuple[LockedWorkflow, list[PlanRow]] | None:
    """:func:`_lock`, and the plan's subtasks with their results, in one statement.

    The plan's rows are locked too. The workflow row comes first (the joined
    read starts from it), as in every transaction that changes a plan (they all
    lock the workflow row before touching its subtasks; a subtask's start is a
    single UPDATE holding nothing else), so no two wait for each other in a
    circle. None if the workflow_task does not exist.
    """
    width = len(LockedWorkflow._fields) - 1
    found = sql.fetch(_LOCK_PLAN_SQL + sql.for_update(), [workflow_task_id])
    if not found:
        return None
    rows = [PlanRow(*row[width : width + 5], sql.json_value(row[width + 5])) for row in found if row[width] is not None]
    return LockedWorkflow(workflow_task_id, *found[0][:width]), rows


def _read_open_plan(workflow_task_id: int) -> tuple[LockedWorkflow, list[PlanRow]] | None:
    """The workflow row as :func:`_lock` reads it and its subtasks not DONE, in one statement, locking nothing."""
    width = len(LockedWorkflow._fields) - 1
    found = sql.fetch(_OPEN_PLAN_SQL, [S.DONE, workflow_task_id])
    if not found:
        return None
    rows = [PlanRow(*row[width:]) for row in found if row[width] is not None]
    return LockedWorkflow(workflow_task_id, *found[0][:width]), rows


def _finish_done(wf: LockedWorkflow, result: dict | None = None, **changes) -> None:
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


def _queue_next_group(wf: LockedWorkflow, pending: tuple[int, list[PlanRow]] | None, **changes) -> None:
    """Queue every NEW, not yet queued subtask of ``pending`` (call with the workflow row locked).

    ``pending`` is the next group as :func:`pending_group` gives it (None: every
    subtask is DONE, and the workflow is finished); ``changes`` go into the same
    UPDATE of the workflow row as its ``step``.
    """
    if pending is None:
        _finish_done(wf, **changes)
        return
    group, rows = pending
    if group != wf.step:
        changes["step"] = group
    if changes:
        sql.update_row(WorkflowTask, wf.pk, changes)
    for row in rows:
        if row.status != S.NEW or row.celery_task_id:
            continue
        celery_task_id = str(uuid.uuid4())
        # Claiming by writing the Celery id in a guarded UPDATE: a redelivered start
        # message finds it claimed and does not queue the subtask twice.
        claimed = sql.update_row(
            WorkflowSubtask, row.pk, {"celery_task_id": celery_task_id}, where={"status": S.NEW, "celery_task_id": ""}
        )
        if claimed:
            _send_run_subtask(row.pk, celery_task_id, wf.pri)


def workflow_start(*, workflow_task_id: int) -> None:
    """Start (or continue, after a restart) the asynchronous run of a workflow_task.

    Guarantees: a NEW workflow becomes DOING; the subtasks of its next group are
    queued once each, with the workflow's priority. Finished workflows are left alone.

    A NEW workflow (the usual start) needs no transaction: until it is started
    nothing changes its plan, so the plan is read without locks; the start is one
    guarded UPDATE (NEW -> DOING, with its first group) that only one delivery
    wins, and each subtask is then claimed by its own guarded UPDATE and sent once
    that has committed. Any other case (a restarted workflow, a delivery that lost
    the start or finds it started) goes on under the workflow's lock, and claims
    what is not claimed yet (also what a start that died before its claims left).
    """
    found = _read_open_plan(workflow_task_id)
    if found is None:
        logger.warning("workflow_task %s vanished before it started", workflow_task_id)
        return
    wf, open_rows = found
    pending = _next_group(open_rows)
    if wf.status == S.NEW and pending is not None:
        step = pending[0]
        changes = {"step": step} if step != wf.step else {}
        if transition(WorkflowTask, wf.pk, table=WORKFLOW_TASK, to=S.DOING, from_states=[S.NEW], quiet=True, **changes):
            _queue_next_group(wf._replace(status=S.DOING, step=step), pending)
            return
    elif wf.status != S.DOING:
        return
    with transaction.atomic():
        wf = _lock(workflow_task_id, missing_ok=True)
        if wf is None or wf.status not in (S.NEW, S.DOING):
            return
        # Read, not locked: the workflow's lock keeps every other bookkeeping of the plan
        # out, and each claim is a guarded UPDATE. (Locking the subtasks here would let a
        # racing start's claim, which takes the status index before the row, wait in a
        # circle with this one's.)
        pending = pending_group(wf.pk)
        if wf.status == S.NEW:
            # The start and the plan's first group go into one guarded UPDATE.
            step = pending[0] if pending is not None else wf.step
            changes = {"step": step} if step != wf.step else {}
            transition(WorkflowTask, wf.pk, table=WORKFLOW_TASK, to=S.DOING, from_states=[S.NEW], **changes)
            wf = wf._replace(status=S.DOING, step=step)
        _queue_next_group(wf, pending)


def run_inline(workflow_task_id: int, plan: KnownPlan | None = None) -> CoreAnswer | None:
    """Run a DOING workflow's plan in this process, group after group, until it is DONE or ERROR.

    With ``plan`` (what the caller has just created, and alone runs) nothing is
    read back and the answer of the end is returned. Without it the plan is read
    at each group, each subtask is started under the workflow's lock, and None is
    returned (the caller reads the row).
    """
    if plan is not None:
        return _run_known_plan(plan)
    total = WorkflowSubtask.objects.filter(parent_id=workflow_task_id).count()
    for _ in range(total + 1):
        pending = pending_group(workflow_task_id)
        if pending is None:
            with transaction.atomic():
                wf = _lock(workflow_task_id, missing_ok=True)
                if wf is not None and wf.status == S.DOING:
                    _finish_done(wf)
            return None
        ran = False
        for row in pending[1]:
            if row.status != S.NEW:
                continue
            outcome = subtask_run(subtask_id=row.pk, inline=True)
            if outcome is False:
                return None
            ran = ran or outcome is True
        if not ran:
            return None  # someone else runs this group; it reports when it is done
    return None


def _run_known_plan(plan: KnownPlan) -> CoreAnswer | None:
    """:func:`run_inline` of a plan this process created: its rows are kept in memory.

    Nothing else runs such a plan (it is synchronous and DOING; only its runner
    ends it), so each subtask starts with its own guarded NEW -> DOING and the
    bookkeeping after each step locks the workflow row as every run does.
    """
    rows = plan.rows
    by_pk = {row.pk: row for row in rows}
    for _ in range(len(rows) + 1):
        pending = _next_group(rows)
        if pending is None:  # nothing left to run (every step was resumed DONE)
            with transaction.atomic():
                wf = _lock(plan.workflow_task_id, missing_ok=True)
                if wf is None or wf.status != S.DOING:
                    return None
                merged = _merged(rows)
                _finish_done(wf, result=merged)
            return CoreAnswer(workflow_task_id=plan.workflow_task_id, status=AnswerStatus.DONE, result=merged)
        for row in pending[1]:
            if row.status != S.NEW or not transition(
                WorkflowSubtask, row.pk, table=WORKFLOW_SUBTASK, to=S.DOING, from_states=[S.NEW], quiet=True
            ):
                return None
            row.status = S.DOING
            producer = by_pk.get(row.result_key_id)
            inputs = (producer.result or {}) if producer is not None else {}
            context = StepContext(action=plan.task_type, params=plan.params, inputs=inputs, restart=0)
            ok, end = _run_step(plan.workflow_task_id, row, context, inline=True, plan=rows)
            if not ok:
                return None if end is None else _error_answer(plan.workflow_task_id, *end)
            if end is STOPPED:
                return None
            if end is not None:
                return CoreAnswer(workflow_task_id=plan.workflow_task_id, status=AnswerStatus.DONE, result=end)
    return None


def _error_answer(workflow_task_id: int, error: dict, error_msg: str) -> CoreAnswer:
    return CoreAnswer(
        workflow_task_id=workflow_task_id,
        status=AnswerStatus.ERROR,
        result={"error": error},
        error_code=error.get("code") or "error",
        error_msg=error_msg,
    )


def subtask_run(*, subtask_id: int, inline: bool = False) -> bool | None:
    """Run one subtask's driver step and record the outcome.

    Returns True when it is DONE, False when it failed (the workflow_task is then
    ERROR with the driver's code and message), None when it did not run: it was
    not NEW (a redelivered message) or its workflow is no longer DOING. In
    asynchronous mode, the end of a group queues the next one and progress is
    reported after each subtask.
    """
    row = next(iter(sql.fetch(_SUBTASK_SQL, [subtask_id])), None)
    if row is None:
        return None
    parent_id, number, group, agent, params, inputs, task_type, wf_params, wf_status, wf_step, restart = row
    if wf_status != S.DOING:
        _release_claim(parent_id, subtask_id)
        return None
    # The start is one guarded UPDATE, committed at once: a redelivered message, or a
    # second worker, finds the subtask DOING and runs nothing. A sibling failing at
    # the same moment may let this step start on a workflow just turned ERROR, as it
    # may when this start commits first: the step is then recorded DONE and a
    # restart goes on from the failed one.
    if not transition(WorkflowSubtask, subtask_id, table=WORKFLOW_SUBTASK, to=S.DOING, from_states=[S.NEW], quiet=True):
        return None
    if wf_step != group:  # set when the group was queued (inline: when the group before ended); put right if not
        sql.update_row(WorkflowTask, parent_id, {"step": group})
    params, inputs, wf_params = sql.json_value(params), sql.json_value(inputs), sql.json_value(wf_params)
    subtask = PlanRow(subtask_id, number, group, S.DOING, name=(params or {}).get("step", task_type), agent=agent)
    context = StepContext(action=task_type, params=wf_params, inputs=inputs or {}, restart=restart)
    try:
        ok, _end = _run_step(parent_id, subtask, context, inline=inline)
    except OperationalError as exc:
        if not inline and is_transient(exc):
            _give_back_claim(subtask_id)
        raise  # the entry point sends the message again (common/transient.py)
    return ok


def _give_back_claim(subtask_id: int) -> None:
    """DOING -> NEW after the step's transaction was rolled back by a transient error: nothing of it took effect."""
    try:
        transition(WorkflowSubtask, subtask_id, table=WORKFLOW_SUBTASK, to=S.NEW, from_states=[S.DOING], quiet=True)
    except OperationalError:  # the connection itself is gone: the subtask waits for its deadline, as before
        logger.exception("subtask %s: could not give its claim back", subtask_id)


def _release_claim(workflow_task_id: int, subtask_id: int) -> None:
    """A sibling failed first: release the subtask's claim so that a restart queues it again."""
    with transaction.atomic():
        wf = _lock(workflow_task_id, missing_ok=True)
        if wf is None or wf.status != S.DOING:  # not restarted in the meantime (a restart re-queues it itself)
            WorkflowSubtask.objects.filter(pk=subtask_id, status=S.NEW).update(celery_task_id="")


class _StepFailed(Exception):
    """The driver step raised: its transaction is rolled back, and the failure is recorded after."""

    def __init__(self, refusal: DriverRefusal):
        self.refusal = refusal


def _run_step(
    workflow_task_id: int, subtask: PlanRow, context: StepContext, *, inline: bool, plan: list[PlanRow] | None = None
) -> tuple[bool, object]:
    """Run a started (DOING) subtask's driver step and record its outcome.

    The step and the record of its success are one transaction: what the step
    writes to this database (the simulated cloud's inventory) commits with the
    subtask's DONE, or not at all. The workflow row is locked only once the step
    has run. A step that raises rolls the transaction back, and its failure is
    recorded in a transaction of its own.

    Returns ``(True, what :func:`_record_success` returns)``
    or ``(False, (error, error_msg) if this step failed the workflow, else None)``.
    """
    step = PlanStep(name=subtask.name, group=subtask.group, agent=subtask.agent)
    try:
        with transaction.atomic():
            try:
                result = get_driver().run_step(step, context)
            except DriverRefusal as refusal:
                raise _StepFailed(refusal) from refusal
            except Exception as exc:  # a driver bug must still end the workflow, with its reason
                if not inline and is_transient(exc):
                    raise  # not the step's failure: rolled back whole, and run again (subtask_run)
                logger.exception("driver step %s of workflow_task %s crashed", step.name, workflow_task_id)
                raise _StepFailed(DriverRefusal("driver_error", f"{type(exc).__name__}: {exc}")) from exc
            # As stored: what is reported or answered from memory equals what a read gives.
            result = json.loads(json.dumps(result))
            return True, _record_success(workflow_task_id, subtask, result, inline=inline, plan=plan)
    except _StepFailed as failed:
        return False, _record_failure(workflow_task_id, subtask, step, failed.refusal, plan=plan)


def _record_success(
    workflow_task_id: int, subtask: PlanRow, result: dict, *, inline: bool, plan: list[PlanRow] | None = None
) -> dict | object | None:
    """Record a DONE step; finish the workflow or queue its next group.

    Returns the merged result if this finished the workflow, :data:`STOPPED` if
    the workflow is no longer DOING (nothing more of it is to run), else None.

    ``plan``: the rows of a :class:`KnownPlan` (``subtask`` one of them), kept
    up to date here instead of being read. Call it in the step's transaction.
    """
    if plan is None:  # the whole plan, read with the lock: progress, the merged result or the next group
        found = _lock_with_plan(workflow_task_id)
        if found is None:
            raise WorkflowTask.DoesNotExist(f"workflow_task {workflow_task_id} does not exist")
        wf, plan = found
        mine = next((row for row in plan if row.pk == subtask.pk), subtask)
    else:
        wf, mine = _lock(workflow_task_id), subtask
    transition(WorkflowSubtask, subtask.pk, table=WORKFLOW_SUBTASK, to=S.DONE, from_states=[S.DOING], result=result)
    mine.status, mine.result = S.DONE, result
    done = sum(1 for row in plan if row.status == S.DONE)
    progress = done * 100 // len(plan)
    run_dev = (result or {}).get("device") or wf.run_dev or socket.gethostname()
    changes = {"progress": max(progress, wf.progress), "run_dev": run_dev[:128]}
    if wf.status == S.DOING and done == len(plan):
        merged = _merged(plan)
        _finish_done(wf, result=merged, run_dev=changes["run_dev"])
        return merged
    group_open = any(row.group == subtask.group and row.status != S.DONE for row in plan)
    if wf.status != S.DOING or group_open:
        sql.update_row(WorkflowTask, wf.pk, changes)
        if wf.status != S.DOING:
            return STOPPED
        _report(wf, "progress", progress=progress)
        return None
    _report(wf, "progress", progress=progress)
    pending = _next_group(plan)
    if inline:
        # The next group runs in this process next: it is the step from now on.
        if pending is not None and pending[0] != wf.step:
            changes["step"] = pending[0]
        sql.update_row(WorkflowTask, wf.pk, changes)
        return None
    _queue_next_group(wf, pending, **changes)
    return None


def _record_failure(
    workflow_task_id: int, subtask: PlanRow, step: PlanStep, refusal: DriverRefusal, *, plan: list[PlanRow] | None
) -> tuple[dict, str] | None:
    """Record a failed step and fail the workflow; returns ``(error, error_msg)`` if this call failed it."""
    error = {"code": refusal.code, "message": refusal.message, "step": subtask.step, "step_name": step.name}
    error_msg = f"{refusal.code}: {refusal.message} (step {subtask.step} {step.name})"
    with transaction.atomic():
        wf = _lock(workflow_task_id)
        transition(
            WorkflowSubtask,
            subtask.pk,
            table=WORKFLOW_SUBTASK,
            to=S.ERROR,
            from_states=[S.DOING],
            result={"error": error},
        )
        if plan is None:
            partial_effects = WorkflowSubtask.objects.filter(parent_id=wf.pk, status=S.DONE).exists()
        else:
            subtask.status = S.ERROR
            partial_effects = any(row.status == S.DONE for row in plan)
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
    return (error, error_msg) if moved else None
