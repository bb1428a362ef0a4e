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
from common.transitions import transition

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
from ..states import OPERATION_TRANSITIONS, TASK_TRANSITIONS
from .failures import describe, task_fail
from .locks import lock_acquire
from .messages import send_subtask
from .operations import operation_create

logger = logging.getLogger(__name__)


class OrderExpanderMissing(DomainError):
    """No order expander is registered (the orders app registers it in its ready())."""

    code = "order_expander_missing"


def process_operation_task(*, operation_id: int) -> CloudTask | None:
    """Consume ``{"operation_id": N, "type": "operation"}``.

    Moves the operation NEW -> LOCK, saves its task and runs
    :func:`process_task_func`. An operation found in LOCK (a delivery stopped
    half-way, or a duplicate) is resumed idempotently; one further on is left
    alone. Any exception is written to the error log and ends as ERROR.
    """
    moved = transition(
        ResUserOperation,
        operation_id,
        table=OPERATION_TRANSITIONS,
        field_name="task_status",
        to=OperationStatus.LOCK,
        from_states=[OperationStatus.NEW],
        quiet=True,
    )
    operation = ResUserOperation.objects.filter(pk=operation_id).first()
    if operation is None:
        logger.warning("operation %s does not exist; message dropped", operation_id)
        return None
    if not moved and operation.task_status != OperationStatus.LOCK:
        logger.info("operation %s is already %s; redelivered message ignored", operation_id, operation.task_status)
        return None
    task = None
    try:
        task = save_task(operation=operation)
        process_task_func(task_id=task.pk)
    except Exception as exc:
        error_class, message, text = describe(exc)
        if task is None:
            _operation_fail(operation_id, f"save_task: {error_class}: {message}")
            logger.exception("operation %s failed before its task was saved", operation_id)
        else:
            task_fail(
                task_id=task.pk, step_name="process_task_func", error_class=error_class, message=message, traceback=text
            )
    if task is not None:
        task.refresh_from_db()
    return task


def _operation_fail(operation_id: int, message: str) -> None:
    transition(
        ResUserOperation,
        operation_id,
        table=OPERATION_TRANSITIONS,
        field_name="task_status",
        to=OperationStatus.ERROR,
        quiet=True,
        error_msg=message,
    )


def save_task(*, operation: ResUserOperation) -> CloudTask:
    """The operation's ``cloud_task`` (status NEW), created once whatever the deliveries."""
    existing = CloudTask.objects.filter(operation_id=operation.pk).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CloudTask.objects.create(
                operation=operation,
                task_type=operation.task_type,
                customer_id=operation.customer_id,
                resource_type=operation.resource_type,
                resource_id=operation.resource_id,
                site_id=operation.site_id,
                params=operation.params,
                order_id=operation.order_id,
                suborder_id=operation.suborder_id,
                status=TaskStatus.NEW,
            )
    except IntegrityError:
        return CloudTask.objects.select_for_update().get(operation_id=operation.pk)


def process_task_func(*, task_id: int) -> str:
    """Start a NEW task: take its resource lock, split it, move it to DOING, send its first group.

    A lock held by another task makes this task ERROR with an error log naming
    the holder (``blocked_by`` set). A task that is no longer NEW is left alone.
    Returns the task's status.
    """
    with transaction.atomic():
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
        split_task(task=task)
        transition(CloudTask, task.pk, table=TASK_TRANSITIONS, to=TaskStatus.DOING, started_at=timezone.now())
        if task.operation_id:
            transition(
                ResUserOperation,
                task.operation_id,
                table=OPERATION_TRANSITIONS,
                field_name="task_status",
                to=OperationStatus.DOING,
                from_states=[OperationStatus.LOCK],
            )
        pre_produce_subtasks(task_id=task.pk)
    return TaskStatus.DOING


def split_task(*, task: CloudTask) -> list[CloudTaskSubtask]:
    """Create every subtask of ``task``'s flow at once, status NEW (once: existing rows are kept)."""
    existing = list(task.subtasks.order_by("step"))
    if existing:
        return existing
    flow = get_flow(task.task_type)
    return [add_subtask(task=task, number=number, step=step) for number, step in enumerate(flow.steps, start=1)]


def subtask_params(*, task: CloudTask, action: str) -> dict:
    """The parameters coreTasker's action gets: the task's, plus its resource, site and customer."""
    params = {
        **task.params,
        "site_id": task.site_id,
        "customer_id": task.customer_id,
        f"{task.resource_type}_id": task.resource_id,
    }
    if action == "set_bandwidth":
        params.update(resource_type=task.resource_type, resource_id=task.resource_id)
    return params


def add_subtask(*, task: CloudTask, number: int, step: Step) -> CloudTaskSubtask:
    """One ``cloud_task_subtask`` row for flow step ``number`` of ``task``, status NEW."""
    return CloudTaskSubtask.objects.create(
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


def get_product_subtasks(*, task_id: int, resend: bool = False) -> list[int]:
    """The NEW subtasks whose turn has come: those of the first group not yet all DONE.

    Nothing while any subtask is ERROR or CANCELLED. The task's ``current_group``
    moves forward in a guarded UPDATE, so when two finishing subtasks race, only
    one of them produces the next group; ``resend`` returns the group's NEW
    subtasks even if they were produced before (the sweeper, a retry).
    """
    rows = list(CloudTaskSubtask.objects.filter(task_id=task_id).values_list("id", "group", "status"))
    if any(status in (SubtaskStatus.ERROR, SubtaskStatus.CANCELLED) for _, _, status in rows):
        return []
    pending = [group for _, group, status in rows if status != SubtaskStatus.DONE]
    if not pending:
        return []
    group = min(pending)
    advanced = CloudTask.objects.filter(pk=task_id, status=TaskStatus.DOING, current_group__lt=group).update(
        current_group=group, updated_at=timezone.now()
    )
    if not advanced and not resend:
        return []
    return [pk for pk, g, status in rows if g == group and status == SubtaskStatus.NEW]


def pre_produce_subtasks(*, task_id: int, resend: bool = False) -> list[int]:
    """Send every subtask whose turn has come to queue_subtask_V3, after commit."""
    ids = get_product_subtasks(task_id=task_id, resend=resend)
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
