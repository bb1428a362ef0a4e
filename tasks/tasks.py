"""Celery entry points of the three tasker queues: thin callers of the services.

Names route by prefix (settings ``CELERY_TASK_ROUTES``): ``taskercenter.*`` ->
queue_operation_task_V3, ``taskconsumer.*`` -> queue_subtask_V3, ``taskdone.*``
-> queue_taskdone_V3. Each takes the message body (ids, never model instances).
Every entry first checks the bounded redelivery count (see
:mod:`tasks.services.delivery`).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from common.transient import retry_transient_errors

from .services import delivery, sweeper
from .services.taskconsumer import do_prepare_subtask
from .services.taskdone import taskdone_consume
from .services.taskercenter import OrderExpanderMissing, process_operation_task, process_order_task

logger = logging.getLogger(__name__)


def _delivered_too_often(request, name: str, body: dict) -> bool:
    info = request.delivery_info or {}
    count = delivery.delivery_count(
        message_id=request.id or "", redelivered=bool(info.get("redelivered")), task_name=name, body=body
    )
    if count > delivery.max_deliveries():
        delivery.delivery_give_up(body=body, deliveries=count)
        return True
    return False


@shared_task(name="taskercenter.consume", bind=True, max_retries=None)
@retry_transient_errors
def taskercenter_consume(self, body: dict) -> None:
    """queue_operation_task_V3: ``{"operation_id": N, "type": "operation"}`` or ``{"order_id": N, "type": "order"}``."""
    if _delivered_too_often(self.request, self.name, body):
        return
    kind = body.get("type")
    if kind == "operation":
        process_operation_task(operation_id=int(body["operation_id"]))
    elif kind == "order":
        try:
            process_order_task(order_id=int(body["order_id"]))
        except OrderExpanderMissing as missing:
            # Kept, not lost: the message comes back until the orders app registers
            # its expander, up to TASKER_ORDER_RETRIES times, then it fails loudly.
            retries = getattr(settings, "TASKER_ORDER_RETRIES", 60)
            if self.request.retries >= retries:
                logger.error("order %s dropped after %d retries: %s", body["order_id"], retries, missing.message)
                raise
            logger.error("%s (retry %d of %d)", missing.message, self.request.retries + 1, retries)
            countdown = getattr(settings, "TASKER_ORDER_RETRY_SECONDS", 60)
            raise self.retry(countdown=countdown, max_retries=retries) from missing
    else:
        logger.error("taskercenter: message of unknown type dropped: %r", body)


@shared_task(name="taskconsumer.consume", bind=True)
@retry_transient_errors
def taskconsumer_consume(self, body: dict) -> None:
    """queue_subtask_V3: ``{"subtask_id": N, "type": "subtask"}``."""
    if _delivered_too_often(self.request, self.name, body):
        return
    do_prepare_subtask(subtask_id=int(body["subtask_id"]))


@shared_task(name="taskdone.consume", bind=True)
@retry_transient_errors
def taskdone_consume_entry(self, body: dict) -> None:
    """queue_taskdone_V3: a finished subtask, a coreTasker report, or a sweeper nudge."""
    if _delivered_too_often(self.request, self.name, body):
        return
    taskdone_consume(body=body)


@shared_task(name="taskdone.sweep_deadlines")
def sweep_deadlines() -> int:
    """celery-beat: running subtasks past their deadline become ERROR."""
    return sweeper.subtask_sweep_deadlines()


@shared_task(name="taskercenter.sweep_lost_messages")
def sweep_lost_messages() -> dict:
    """celery-beat: re-send messages for rows left waiting."""
    return sweeper.pipeline_sweep_lost_messages()
