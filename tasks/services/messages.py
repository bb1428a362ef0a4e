"""Sending the pipeline's messages, always after the surrounding commit.

Messages are sent by entry-point name (``taskercenter.*``, ``taskconsumer.*``,
``taskdone.*``) so the routes in settings put each on its queue, and so that
services never import the Celery entry points that call them.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.db import transaction

OPERATION_ENTRY = "taskercenter.consume"
SUBTASK_ENTRY = "taskconsumer.consume"
TASKDONE_ENTRY = "taskdone.consume"


def _publish(name: str, body: dict, countdown: float | None = None) -> None:
    args = [body]
    # argsrepr given: Celery's default builds it with saferepr, a fifth of a publish's CPU.
    current_app.send_task(name, args=args, countdown=countdown or None, argsrepr=repr(args), kwargsrepr="{}")


def send_on_commit(name: str, body: dict, *, countdown: float | None = None) -> None:
    """Send ``body`` to entry point ``name`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(_publish, name, body, countdown))


def send_operation(operation_id: int) -> None:
    send_on_commit(OPERATION_ENTRY, {"operation_id": operation_id, "type": "operation"})


def send_order(order_id: int) -> None:
    send_on_commit(OPERATION_ENTRY, {"order_id": order_id, "type": "order"})


def send_subtask(subtask_id: int, *, countdown: float | None = None) -> None:
    send_on_commit(SUBTASK_ENTRY, {"subtask_id": subtask_id, "type": "subtask"}, countdown=countdown)


def send_subtask_done(subtask_id: int) -> None:
    send_on_commit(TASKDONE_ENTRY, {"subtask_id": subtask_id, "type": "subtask"})


def send_task_advance(task_id: int) -> None:
    send_on_commit(TASKDONE_ENTRY, {"task_id": task_id, "type": "task"})


def send_report(body: dict) -> None:
    send_on_commit(TASKDONE_ENTRY, {**body, "type": "report"})
