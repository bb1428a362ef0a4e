"""How the tasker tells the layers above it what happened, without importing them.

Dependencies point down (orders -> tasks), so the orders app registers its
callbacks here from its ``AppConfig.ready()``:

- an *order expander*: ``fn(order_id) -> list[dict]``, called by
  ``process_order_task``; each dict holds the keyword arguments of one operation
  to place (``customer_id``, ``task_type``, ``resource_type``, ``resource_id``,
  ``site_id``, ``params``, ``suborder_id``) for that order;
- *task-finished listeners*: ``fn(task_id, status)``, called after the commit
  that moved a task to a final state (DONE, ERROR or CANCELLED); one registered
  with ``suborders_only=True`` only for the tasks of a sub-order (the tasker says
  whether the task has one, so the listener need not read the task to find out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

OrderExpander = Callable[[int], list[dict]]
TaskFinishedListener = Callable[[int, str], None]

_order_expander: OrderExpander | None = None
_task_finished: list[TaskFinishedListener] = []
_suborders_only: set[TaskFinishedListener] = set()

#: ``suborder_id`` of :func:`notify_task_finished` when the caller does not know it.
UNKNOWN = object()


def register_order_expander(fn: OrderExpander) -> None:
    global _order_expander
    _order_expander = fn


def get_order_expander() -> OrderExpander | None:
    return _order_expander


def register_task_finished(fn: TaskFinishedListener, *, suborders_only: bool = False) -> None:
    """Add a listener; ``suborders_only``: call it only for tasks with a ``suborder_id``."""
    if fn not in _task_finished:
        _task_finished.append(fn)
    if suborders_only:
        _suborders_only.add(fn)
    else:
        _suborders_only.discard(fn)


def notify_task_finished(task_id: int, status: str, *, suborder_id=UNKNOWN) -> None:
    """Call every listener; one listener's failure is logged and does not stop the others.

    ``suborder_id`` (the task's, ``None`` for none) skips the ``suborders_only``
    listeners for a task without one; left :data:`UNKNOWN`, every listener is called.
    """
    for listener in list(_task_finished):
        if suborder_id is None and listener in _suborders_only:
            continue
        try:
            listener(task_id, status)
        except Exception:
            logger.exception("task-finished listener %r failed for task %s", listener, task_id)
