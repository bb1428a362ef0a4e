"""taskercenter: from an operation (or an order) to a task split into subtasks.

The consumer of ``queue_operation_task_V3``. Each step keeps the notes' name:
``process_operation_task`` -> ``save_task`` -> ``process_task_func`` ->
``split_task`` / ``add_subtask`` -> ``pre_produce_subtasks`` /
``get_product_subtasks``. A message delivered twice, or two workers on one
message, run each step once: every status change is a guarded transition, a
task is unique per operation and a subtask per (task, step).
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError
from common.sql import insert

from .. import hooks
from ..flows import Step, get_flow
from ..models import (
    CloudTask,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskStatus,
    TaskStatus,
)
from .failures import describe, task_fail
from .locks import lock_acquire
from .messages import send_subtask
from .moves import operation_move, task_move
from .operations import FAIL_AT, fail_at_names, operation_create
from .rows import operation_for_task, task_advance_group

logger = logging.getLogger(__name__)


class OrderExpanderMissing(DomainError):
    """No order expander is registered (the orders app registers it in its ready())."""

    code = "order_expander_missing"


def process_operation_task(*, operation_id: int) -> CloudTask | None:
    """Consume ``{"operation_id": N, "type": "operation"}``.

    In one transaction: the operation moves NEW -> LOCK -> DOING (one guarded
    UPDATE: both moves commit together with the task, so nobody sees LOCK), its
    task is saved and :func:`process_task_func` starts it (so a crash half-way
    leaves nothing behind and the redelivered message starts over). An operation
    found in LOCK is resumed idempotently; one further on is left alone. An
    exception rolls the step back and is then written to the error log of the
    operation's task, which ends as ERROR with its operation (as does a task whose
    resource is locked by another).
    """
    try:
        with transaction.atomic():
            moved = operation_move(
                operation_id,
                to=OperationStatus.DOING,
                through=[OperationStatus.LOCK],
                from_states=[OperationStatus.NEW],
            )
            operation = operation_for_task(operation_id)
            if operation is None:
                logger.warning("operation %s does not exist; message dropped", operation_id)
                return None
            if not moved and operation.task_status != OperationStatus.LOCK:
                logger.info(
                    "operation %s is already %s; redelivered message ignored", operation_id, operation.task_status
                )
                return None
            # A NEW operation has no task yet: the UPDATE above holds its row, so a
            # duplicate message waits for this commit and then finds the operation past NEW.
            task = save_task(operation=operation, fresh=moved)
            status = process_task_func(task_id=task.pk, task=task if moved else None, operation_started=moved)
            task.status = status
            return task
    except Exception as exc:
        error_class, message, text = describe(exc)
        logger.exception("operation %s failed in process_operation_task", operation_id)
        return _record_failure(operation_id, error_class, message, text)


def _record_failure(operation_id: int, error_class: str, message: str, text: str) -> CloudTask | None:
    """After a rolled-back step: give the error a task to be logged on, and end both as ERROR."""
    try:
        with transaction.atomic():
            operation = ResUserOperation.objects.select_for_update().get(pk=operation_id)
            task = save_task(operation=operation)
        task_fail(
            task_id=task.pk,
            step_name="process_operation_task",
            error_class=error_class,
            message=message,
            traceback=text,
        )
    except Exception:
        logger.exception("operation %s: the failure could not be written to the error log", operation_id)
        _operation_fail(operation_id, f"{error_class}: {message}")
        return None
    task.refresh_from_db()
    return task


def _operation_fail(operation_id: int, message: str) -> None:
    operation_move(operation_id, to=OperationStatus.ERROR, error_msg=message)


def save_task(*, operation: ResUserOperation, fresh: bool = False) -> CloudTask:
    """The operation's ``cloud_task`` (status NEW), created once whatever the deliveries.

    ``fresh`` says the caller knows there is none yet (it just moved the operation
    out of NEW in the same transaction), which saves a query.
    """
    fields = {
        "operation": operation,
        "task_type": operation.task_type,
        "customer_id": operation.customer_id,
        "resource_type": operation.resource_type,
        "resource_id": operation.resource_id,
        "site_id": operation.site_id,
        "params": operation.params,
        "order_id": operation.order_id,
        "suborder_id": operation.suborder_id,
        "status": TaskStatus.NEW,
    }
    if fresh:
        task = CloudTask(**fields)
        insert([task])
        return task
    existing = CloudTask.objects.filter(operation_id=operation.pk).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CloudTask.objects.create(**fields)
    except IntegrityError:
        return CloudTask.objects.select_for_update().get(operation_id=operation.pk)


def process_task_func(*, task_id: int, task: CloudTask | None = None, operation_started: bool = False) -> str:
    """Start a NEW task: take its resource lock, split it, move it (and its operation) to DOING, send its
    first group.

    A lock held by another task makes this task ERROR with an error log naming
    the holder (``blocked_by`` set). A task that is no longer NEW is left alone.
    ``task`` may be passed by a caller that created it in the open transaction
    (nobody else can see it yet); ``operation_started`` by one that moved the
    operation to DOING in it already (else it moves LOCK -> DOING here). Returns
    the task's status.
    """
    # No savepoint: a failure rolls back the caller's whole step (it logs it afterwards).
    with transaction.atomic(savepoint=False):
        fresh = task is not None
        if not fresh:
            task = CloudTask.objects.select_for_update().get(pk=task_id)
        if task.status != TaskStatus.NEW:
            return task.status
        holder = lock_acquire(task=task)
        if holder is not None:
            message = _("Resource %(type)s:%(id)s is locked by task #%(holder)s, which has not finished.") % {
                "type": task.resource_type,
                "id": task.resource_id,
                "holder": holder,
            }
            task_fail(
                task_id=task.pk,
                step_name="process_task_func",
                error_class="ResourceLocked",
                message=message,
                blocked_by=holder,
            )
            return TaskStatus.ERROR
        rows = split_task(task=task, fresh=fresh)
        first_group = min(row.group for row in rows)
        task_move(
            task.pk,
            to=TaskStatus.DOING,
            started_at=timezone.now(),
            current_group=first_group,
        )
        if task.operation_id and not operation_started:
            operation_move(task.operation_id, to=OperationStatus.DOING, from_states=[OperationStatus.LOCK], quiet=False)
        # The first group's turn has come (current_group moved with DOING above).
        for row in rows:
            if row.group == first_group:
                send_subtask(row.pk)
    return TaskStatus.DOING


def split_task(*, task: CloudTask, fresh: bool = False) -> list[CloudTaskSubtask]:
    """Create every subtask of ``task``'s flow at once, status NEW (once: existing rows are kept).

    One INSERT for all rows; ``fresh`` (the task was created in this transaction)
    skips looking for existing ones.
    """
    if not fresh:
        existing = list(task.subtasks.order_by("step"))
        if existing:
            return existing
    flow = get_flow(task.task_type)
    rows = [add_subtask(task=task, number=number, step=step, save=False) for number, step in enumerate(flow.steps, 1)]
    insert(rows)
    return rows


def subtask_params(*, task: CloudTask, action: str) -> dict:
    """The parameters coreTasker's action gets: the task's, plus its resource, site and customer.

    ``fail_at`` keeps only the names that reach this action (its own, its steps').
    """
    params = {
        **task.params,
        "site_id": task.site_id,
        "customer_id": task.customer_id,
        f"{task.resource_type}_id": task.resource_id,
    }
    if action == "set_bandwidth":
        params.update(resource_type=task.resource_type, resource_id=task.resource_id)
    if FAIL_AT in params:
        reach = fail_at_names(task.task_type).get(action, (action,))
        names = [name for name in params.pop(FAIL_AT) if name in reach]
        if names:
            params[FAIL_AT] = names
    return params


def add_subtask(*, task: CloudTask, number: int, step: Step, save: bool = True) -> CloudTaskSubtask:
    """One ``cloud_task_subtask`` row for flow step ``number`` of ``task``, status NEW (unsaved if not ``save``)."""
    row = CloudTaskSubtask(
        task=task,
        step=number,
        group=step.group,
        action=step.action,
        mode=step.mode,
        status=SubtaskStatus.NEW,
        max_attempts=step.attempts,
        timeout=step.timeout,
        backoff=step.backoff,
        params=subtask_params(task=task, action=step.action),
    )
    if save:
        row.save()
    return row


def get_product_subtasks(
    *, task_id: int, resend: bool = False, rows: list | None = None, current_group: int | None = None
) -> list[int]:
    """The NEW subtasks whose turn has come: those of the first group not yet all DONE.

    Nothing while any subtask is ERROR or CANCELLED. The task's ``current_group``
    moves forward in a guarded UPDATE, so when two finishing subtasks race, only
    one of them produces the next group; ``resend`` returns the group's NEW
    subtasks even if they were produced before (the sweeper, a retry).
    ``rows`` (``(id, group, status)`` of every subtask, read in the caller's
    transaction) saves reading them again; ``current_group``, read with them,
    saves the UPDATE when it cannot move (the group was produced already:
    ``current_group`` never goes back).
    """
    if rows is None:
        rows = list(CloudTaskSubtask.objects.filter(task_id=task_id).values_list("id", "group", "status"))
    if any(status in (SubtaskStatus.ERROR, SubtaskStatus.CANCELLED) for _, _, status in rows):
        return []
    pending = [group for _, group, status in rows if status != SubtaskStatus.DONE]
    if not pending:
        return []
    group = min(pending)
    if current_group is not None and current_group >= group and not resend:
        return []
    advanced = task_advance_group(task_id, group)
    if not advanced and not resend:
        return []
    return [pk for pk, g, status in rows if g == group and status == SubtaskStatus.NEW]


def pre_produce_subtasks(
    *, task_id: int, resend: bool = False, rows: list | None = None, current_group: int | None = None
) -> list[int]:
    """Send every subtask whose turn has come to queue_subtask_V3, after commit."""
    ids = get_product_subtasks(task_id=task_id, resend=resend, rows=rows, current_group=current_group)
    for pk in ids:
        send_subtask(pk)
    return ids


def process_order_task(*, order_id: int) -> list[ResUserOperation]:
    """Consume ``{"order_id": N, "type": "order"}``: one operation per dict the order expander returns.

    Idempotent: each operation carries the key ``order:<id>:<index>``, so a
    redelivered order message creates nothing twice. Without a registered
    expander it raises :class:`OrderExpanderMissing` (the entry point logs it and
    retries the message later, bounded). Invalid expander output raises
    InvalidInput and creates nothing.
    """
    expander = hooks.get_order_expander()
    if expander is None:
        raise OrderExpanderMissing(
            _("No order expander is registered: order %(id)s cannot be turned into operations yet.") % {"id": order_id}
        )
    specs = expander(order_id)
    operations = []
    with transaction.atomic():
        for index, spec in enumerate(specs):
            operation, _created = operation_create(
                customer_id=spec["customer_id"],
                task_type=spec["task_type"],
                resource_type=spec["resource_type"],
                resource_id=spec["resource_id"],
                site_id=spec.get("site_id", ""),
                params=spec.get("params"),
                order_id=order_id,
                suborder_id=spec.get("suborder_id"),
                request_key=f"order:{order_id}:{index}",
            )
            operations.append(operation)
    return operations


__all__ = [
    "OrderExpanderMissing",
    "add_subtask",
    "get_product_subtasks",
    "pre_produce_subtasks",
    "process_operation_task",
    "process_order_task",
    "process_task_func",
    "save_task",
    "split_task",
]
