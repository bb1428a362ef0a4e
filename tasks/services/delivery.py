"""A bounded redelivery count: a message that kills its worker every time ends as ERROR.

With ``acks_late`` a worker that dies mid-message leaves the message to be
delivered again; the broker marks it ``redelivered``. Only then do we count, in
``cloud_task_message_delivery`` keyed by the message id, so the normal path
costs nothing. Past ``TASKER_MAX_DELIVERIES`` the message's operation, subtask
or task becomes ERROR with an error log, and the message is acknowledged.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F

from ..models import CloudTask, CloudTaskSubtask, MessageDelivery
from .failures import task_fail
from .moves import operation_move

logger = logging.getLogger(__name__)


def max_deliveries() -> int:
    return getattr(settings, "TASKER_MAX_DELIVERIES", 3)


def delivery_count(*, message_id: str, redelivered: bool, task_name: str, body: dict) -> int:
    """How many times this message has been delivered, counting this time (1 if never redelivered)."""
    if not redelivered or not message_id:
        return 1
    with transaction.atomic():
        row, created = MessageDelivery.objects.get_or_create(
            message_id=message_id, defaults={"task_name": task_name, "body": body, "deliveries": 2}
        )
        if not created:
            MessageDelivery.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1)
            row.refresh_from_db()
    return row.deliveries


def delivery_give_up(*, body: dict, deliveries: int) -> None:
    """Mark what the message is about as ERROR: it was delivered too often without finishing."""
    from ..models import OperationStatus

    message = f"message delivered {deliveries} times without finishing (its worker died each time): {body}"
    task_id, subtask_id = None, None
    if body.get("type") == "operation":
        task_id = CloudTask.objects.filter(operation_id=body.get("operation_id")).values_list("id", flat=True).first()
        if task_id is None:
            operation_move(
                body.get("operation_id"),
                to=OperationStatus.ERROR,
                from_states=[OperationStatus.NEW, OperationStatus.LOCK],
                error_msg=message,
            )
    elif body.get("type") == "subtask":
        subtask_id = body.get("subtask_id")
        task_id = CloudTaskSubtask.objects.filter(pk=subtask_id).values_list("task_id", flat=True).first()
    elif body.get("type") == "task":
        task_id = body.get("task_id")
    elif body.get("type") == "report":
        key = str(body.get("idempotency_key", ""))
        subtask_id = int(key.split(":")[0]) if key.split(":")[0].isdigit() else None
        task_id = CloudTaskSubtask.objects.filter(pk=subtask_id).values_list("task_id", flat=True).first()
    if task_id is not None:
        task_fail(
            task_id=task_id,
            subtask_id=subtask_id,
            step_name="redelivery",
            error_class="TooManyDeliveries",
            message=message,
        )
    logger.error("%s", message)
