"""How the tasker tells the layers above it what happened, without importing them.

Dependencies point down (orders -> tasks), so the orders app registers its
callbacks here from its ``AppConfig.ready()``:

- an *order expander*: ``fn(order_id) -> list[dict]``, called by
  ``process_order_task``; each dict holds the keyword arguments of one operation
  to place (``customer_id``, ``task_type``, ``resource_type``, ``resource_id``,
  ``site_id``, ``params``, ``suborder_id``) for that order;
- *task-finished listeners*: ``fn(task_id, status)``, called after the commit
  that moved a task to a final state (DONE, ERROR or CANCELLED).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

OrderExpander = Callable[[int], list[dict]]
TaskFinishedListener = Callable[[int, str], None]

_order_expander: OrderExpander | None = None
_task_finished: list[TaskFinishedListener] = []


def register_order_expander(fn: OrderExpander) -> None:
    global _order_expander
    _order_expander = fn


def get_order_expander() -> OrderExpander | None:
    return _order_expander


def register_task_finished(fn: TaskFinishedListener) -> None:
    if fn not in _task_finished:
        _task_finished.append(fn)


def notify_task_finished(task_id: int, status: str) -> None:
    """Call every listener; one listener's failure is logged and does not stop the others."""
    for listener in list(_task_finished):
        try:
            listener(task_id, status)
        except Exception:
            logger.exception("task-finished listener %r failed for task %s", listener, task_id)
