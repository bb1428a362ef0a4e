"""The tasker's requests: one workflow_task per idempotency key, answered at once.

Synchronous request: the plan runs inline in the caller's process, and the
answer is DONE with the merged result or ERROR with the driver's code and
message. Asynchronous request: the workflow_task is queued on coreTasker's own
queue with the request's priority and the answer is ACCEPTED; the tasker then
hears progress and the end through :func:`coretasker.interface.report`.

A request the driver refuses before anything runs (unknown CPU type, unknown
site, a VM that does not exist, ...) is answered ERROR in both modes and its
plan is kept, unrun, so the refusal is visible and the row can be restarted.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from common.errors import InvalidInput
from common.sql import insert

from ..drivers.base import ACTIONS, DriverRefusal, PlanStep, get_driver
from ..interface import ACTION_TARGET_TYPES, AnswerStatus, CoreAnswer, CoreRequest
from ..models import TargetType, WorkflowMode, WorkflowStatus, WorkflowSubtask, WorkflowTask
from . import sql
from .execution import KnownPlan, PlanRow, run_inline, send_run_workflow

S = WorkflowStatus

#: The parameter that names the resource of each action; ``target_obj`` fills it when missing.
ID_PARAMS = {
    "create_vm": "vm_id",
    "delete_vm": "vm_id",
    "start_vm": "vm_id",
    "stop_vm": "vm_id",
    "reboot_vm": "vm_id",
    "resize_vm": "vm_id",
    "create_nic": "nic_id",
    "delete_nic": "nic_id",
    "create_pipe": "pipe_id",
    "set_bandwidth": "resource_id",
    "query_state": "resource_id",
}


def _validate(request: CoreRequest) -> None:
    if request.action not in ACTIONS:
        raise InvalidInput(_("Unknown action %(action)s.") % {"action": request.action}, field="action")
    if request.mode not in WorkflowMode.values:
        raise InvalidInput(_("Mode must be sync or async."), field="mode")
    if not isinstance(request.pri, int) or not 0 <= request.pri <= settings.CORETASKER_MAX_PRIORITY:
        raise InvalidInput(_("Priority must be a whole number from 0 to 9."), field="pri")
    if not request.idempotency_key or len(request.idempotency_key) > 128:
        raise InvalidInput(_("An idempotency key of 1 to 128 characters is required."), field="idempotency_key")
    if request.target_type and request.target_type not in TargetType.values:
        raise InvalidInput(_("Unknown target type %(type)s.") % {"type": request.target_type}, field="target_type")
    if not isinstance(request.params, dict):
        raise InvalidInput(_("Parameters must be an object."), field="params")
    for name in ("target_obj", "site_id", "customer_id"):
        if len(str(getattr(request, name) or "")) > (128 if name == "target_obj" else 64):
            raise InvalidInput(_("This value is too long."), field=name)


def effective_params(request: CoreRequest) -> dict:
    """The request's parameters, with the resource id, site and customer filled from the request when absent."""
    params = dict(request.params)
    takes = ACTIONS[request.action]
    defaults = {ID_PARAMS[request.action]: request.target_obj, "site_id": request.site_id}
    defaults["customer_id"] = request.customer_id
    for key, value in defaults.items():
        if key in takes and value not in (None, "") and params.get(key) in (None, ""):
            params[key] = value
    return params


def answer(wf) -> CoreAnswer:
    """What coreTasker says about ``wf`` now (a workflow_task, or its pk, status, result and error_msg)."""
    if wf.status == S.DONE:
        return CoreAnswer(workflow_task_id=wf.pk, status=AnswerStatus.DONE, result=wf.result)
    if wf.status in (S.ERROR, S.CANCELLED):
        error = (wf.result or {}).get("error", {}) if isinstance(wf.result, dict) else {}
        code = error.get("code") or ("cancelled" if wf.status == S.CANCELLED else "error")
        return CoreAnswer(
            workflow_task_id=wf.pk, status=AnswerStatus.ERROR, result=wf.result, error_code=code, error_msg=wf.error_msg
        )
    return CoreAnswer(workflow_task_id=wf.pk, status=AnswerStatus.ACCEPTED)


class _Found(NamedTuple):
    """The columns of a workflow_task that an answer is made of."""

    pk: int
    status: str
    mode: str
    result: dict | None
    error_msg: str


_FIND_SQL = f"SELECT id, status, mode, result, error_msg FROM {WorkflowTask._meta.db_table} WHERE "


def _find(*, pk: int | None = None, idempotency_key: str | None = None) -> _Found | None:
    """The workflow_task of this id or idempotency key, as an answer needs it; None if there is none."""
    where, value = ("id", pk) if pk is not None else ("idempotency_key", idempotency_key)
    for found_pk, status, mode, result, error_msg in sql.fetch(f"{_FIND_SQL}{where} = %s", [value]):
        return _Found(found_pk, status, mode, sql.json_value(result), error_msg)
    return None


def _answer_existing(wf: _Found, mode: str) -> CoreAnswer:
    """A repeated request: never run again; a running synchronous one switches to reporting."""
    if wf.status in (S.NEW, S.DOING) and wf.mode == WorkflowMode.SYNC and mode == WorkflowMode.SYNC:
        # The first call is still running (or died): this caller gets ACCEPTED, so it
        # must hear the end by report like an asynchronous caller.
        WorkflowTask.objects.filter(pk=wf.pk, status__in=[S.NEW, S.DOING]).update(mode=WorkflowMode.ASYNC)
        wf = _find(pk=wf.pk) or wf
    return answer(wf)


def workflow_lookup(idempotency_key: str) -> CoreAnswer | None:
    """Where coreTasker is with the request of this key; None if it never saw it."""
    wf = _find(idempotency_key=idempotency_key)
    return answer(wf) if wf is not None else None


def _current_celery_task_id() -> str:
    from celery import current_task

    request = getattr(current_task, "request", None)
    return (getattr(request, "id", None) or "") if current_task else ""


def _resumed_steps(request: CoreRequest, plan: list[PlanStep]) -> tuple[WorkflowTask | None, dict[int, dict]]:
    """The failed workflow ``request.resume_key`` names, and its DONE steps' results by step number.

    Only an ERROR workflow of the same action whose plan has the same steps is
    resumed; anything else (still running, unknown, another plan) gives ``(None, {})``.
    """
    if not request.resume_key:
        return None, {}
    previous = WorkflowTask.objects.filter(
        idempotency_key=request.resume_key, task_type=request.action, status=S.ERROR
    ).first()
    if previous is None:
        return None, {}
    names = {number: step.name for number, step in enumerate(plan, start=1)}
    done = {
        step: result
        for step, params, result in WorkflowSubtask.objects.filter(parent=previous, status=S.DONE).values_list(
            "step", "params", "result"
        )
        if names.get(step) == (params or {}).get("step")
    }
    return previous, done


def _create(
    request: CoreRequest,
    params: dict,
    plan: list[PlanStep],
    refusal: DriverRefusal | None,
    resumed: tuple[WorkflowTask | None, dict[int, dict]] = (None, {}),
    site_names: dict[str, str] | None = None,
) -> tuple[_Found, str, list[PlanRow]]:
    """Insert the workflow_task and its plan; returns the row as :func:`answer` reads it, its Celery id and the plan.

    ``site_names``: the names of the sites the driver's validation has just read,
    by site id (the site is named from them if it is one of them).

    The row is born in the state this request puts it in: NEW (asynchronous: the
    run is queued), DOING (synchronous: it runs inline once this commits) or ERROR
    (refused before running). Nothing can see it before this transaction commits,
    so this is the state a NEW row moved in the same transaction would show,
    without the UPDATE.
    """
    driver = get_driver()
    asynchronous = request.mode == WorkflowMode.ASYNC
    target_type = ACTION_TARGET_TYPES[request.action]
    done = resumed[1]
    site_id = request.site_id or params.get("site_id", "")
    # The group run first: that of the first step not already DONE (resumed).
    first_group = min((step.group for n, step in enumerate(plan, start=1) if n not in done), default=0)
    if refusal is not None:
        error = {"code": refusal.code, "message": refusal.message, "step": 0, "step_name": "validate"}
        state = {
            "status": S.ERROR,
            "error_msg": f"{refusal.code}: {refusal.message} (refused before running)",
            "result": {"error": error},
        }
    else:
        state = {"status": S.NEW if asynchronous else S.DOING}
    fields = dict(
        idempotency_key=request.idempotency_key,
        target_type=target_type,
        task_type=request.action,
        target_obj=request.target_obj or str(params.get(ID_PARAMS[request.action], "")),
        task_info=_(
            "%(action)s of %(type)s %(obj)s for customer %(customer)s in %(site)s, %(mode)s, via %(driver)s "
            "(tasker key %(key)s)"
        )
        % {
            "action": request.action,
            "type": target_type,
            "obj": request.target_obj or "-",
            "customer": request.customer_id or "-",
            "site": request.site_id or "-",
            "mode": request.mode,
            "driver": driver.name,
            "key": request.idempotency_key,
        }
        + (
            "\n"
            + _("resumes workflow task #%(id)s (%(key)s), keeping its %(n)s finished step(s)")
            % {"id": resumed[0].pk, "key": resumed[0].idempotency_key, "n": len(done)}
            if resumed[0] is not None
            else ""
        ),
        params=params,
        step=first_group,
        progress=len(done) * 100 // len(plan) if plan and done else 0,
        pri=request.pri,
        queue=settings.QUEUE_CORETASKER if asynchronous else "",
        site_id=site_id,
        site_name=site_names[site_id] if site_id in (site_names or {}) else driver.site_name(site_id),
        customer_id=request.customer_id or params.get("customer_id", ""),
        celery_task_id=str(uuid.uuid4()) if asynchronous else _current_celery_task_id(),
        mode=request.mode,
        is_valid=True,
        **state,
    )
    row = WorkflowTask(**fields)
    insert([row])
    pk = row.pk
    found = _Found(pk, fields["status"], request.mode, fields.get("result"), fields.get("error_msg", ""))
    return found, fields["celery_task_id"], _create_plan(pk, params, plan, done)


def _create_plan(
    workflow_task_id: int, params: dict, plan: list[PlanStep], done: dict[int, dict] | None = None
) -> list[PlanRow]:
    """One workflow_subtask per plan step; steps in ``done`` (resumed) are created DONE with their result.

    The rows in one INSERT, then their links in one UPDATE: ``brother``, the step
    before; ``result_key``, the step whose result it consumes.
    """
    done = done or {}
    last_group = max((step.group for step in plan), default=0)
    subtasks = [
        WorkflowSubtask(
            parent_id=workflow_task_id,
            step=number,
            status=S.DONE if number in done else S.NEW,
            result=done.get(number),
            agent=step.agent,
            params={"step": step.name, **params},
            group_id=step.group,
            is_last=step.group == last_group,
        )
        for number, step in enumerate(plan, start=1)
    ]
    insert(subtasks)
    ids = [subtask.pk for subtask in subtasks]
    rows, by_name, links = [], {}, []
    for number, (pk, step) in enumerate(zip(ids, plan, strict=True), start=1):
        brother_id = rows[-1].pk if rows else None
        result_key_id = by_name.get(step.consumes) if step.consumes else None
        if brother_id or result_key_id:
            links.append((pk, brother_id, result_key_id))
        rows.append(
            PlanRow(
                pk,
                number,
                step.group,
                S.DONE if number in done else S.NEW,
                result=done.get(number),
                name=step.name,
                agent=step.agent,
                result_key_id=result_key_id,
            )
        )
        by_name[step.name] = pk
    sql.update_rows(WorkflowSubtask, ["brother", "result_key"], links)
    return rows


def workflow_submit(request: CoreRequest) -> CoreAnswer:
    """Record ``request`` as a workflow_task (or find the one with its key) and answer.

    Guarantees: one workflow_task per idempotency key, even when two calls race
    (unique key; the loser reads the winner's row), and a repeated key never runs
    anything again. Malformed requests raise InvalidInput and write nothing.
    Sync: runs inline, answers DONE or ERROR (ACCEPTED only when an earlier call
    with the same key is still running; that call's end is then reported).
    Async: answers ACCEPTED; the run is queued after commit with priority ``pri``.
    Call it outside any transaction.
    """
    _validate(request)
    # No look-up first: the unique key decides, and a repeated key (a redelivered
    # message, rare) fails the INSERT below and is answered from the existing row.
    # Until then it is only planned and validated, which changes nothing.
    params = effective_params(request)
    driver = get_driver()
    plan = driver.plan(request.action, params)
    resumed = _resumed_steps(request, plan)
    refusal, site_names = None, None
    try:
        if not resumed[1]:  # steps already taken effect: the cloud would refuse the whole action again
            site_names = driver.validate(request.action, params)
    except DriverRefusal as exc:
        refusal = exc
    try:
        with transaction.atomic():
            wf, celery_task_id, rows = _create(request, params, plan, refusal, resumed, site_names)
            if refusal is None and request.mode == WorkflowMode.ASYNC:
                send_run_workflow(wf.pk, celery_task_id, request.pri)
    except IntegrityError:
        existing = _find(idempotency_key=request.idempotency_key)
        if existing is None:
            raise
        return _answer_existing(existing, request.mode)
    if refusal is not None or request.mode == WorkflowMode.ASYNC:
        return answer(wf)  # as inserted: ERROR (refused) or ACCEPTED (queued); no need to read it back
    ended = run_inline(wf.pk, KnownPlan(wf.pk, request.action, params, rows))
    if isinstance(ended, CoreAnswer):
        return ended
    return answer(_find(pk=wf.pk))
