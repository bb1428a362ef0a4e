"""The interface the tasker calls: one request in, one answer out, reports later.

The tasker's ``do_subtask`` builds a :class:`CoreRequest` and calls :func:`submit`.
coreTasker records a ``workflow_task`` for it (or finds the existing one: the
``idempotency_key`` is the tasker subtask's id and attempt, so a redelivered
message never provisions twice) and answers:

- a synchronous request (``mode="sync"``): at once, ``DONE`` with the result or
  ``ERROR`` with the reason;
- an asynchronous one (``mode="async"``): ``ACCEPTED``; the work then runs on
  coreTasker's own queue and every listener registered with
  :func:`register_reporter` receives :class:`CoreReport` objects (progress, then
  ``done`` or ``error``), each after the commit that recorded it.

Either mode answers ``ERROR`` at once when the driver refuses the request before
anything runs (no report follows). A repeated key answers from the existing row
and runs nothing: ``DONE``/``ERROR`` as recorded, ``ACCEPTED`` while it runs (a
synchronous row found running switches to reporting, so that caller hears the
end too). Reports are only sent for workflows answered ``ACCEPTED`` (and for
restarted ones), in the worker process that ran the step; a listener should be
idempotent (guarded transitions) and cheap (hand the report to a queue).

This module holds only the contract; :mod:`coretasker.services` implements it.
The tasker imports this module, never coreTasker's internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .drivers.base import ACTIONS
from .models import TargetType

logger = logging.getLogger(__name__)

#: The workflow_task.target_type of each action.
ACTION_TARGET_TYPES: dict[str, str] = {
    "create_vm": TargetType.VM,
    "delete_vm": TargetType.DESTROY_VM,
    "start_vm": TargetType.VM,
    "stop_vm": TargetType.VM,
    "reboot_vm": TargetType.VM,
    "resize_vm": TargetType.VM,
    "create_nic": TargetType.NIC,
    "delete_nic": TargetType.NIC,
    "create_pipe": TargetType.PIPE,
    "set_bandwidth": TargetType.TRAFFIC,
    "query_state": TargetType.ACTION,
}
assert set(ACTION_TARGET_TYPES) == set(ACTIONS), "every driver action needs a target type"


def known_actions() -> frozenset[str]:
    """The actions coreTasker can run; a tasker flow naming any other fails at start-up."""
    return frozenset(ACTIONS)


def action_steps(action: str) -> tuple[str, ...]:
    """The names of the steps ``action`` runs as with the configured driver (its plan, in order)."""
    from .drivers.base import get_driver

    return tuple(step.name for step in get_driver().plan(action, {}))


class AnswerStatus:
    DONE = "DONE"
    ERROR = "ERROR"
    ACCEPTED = "ACCEPTED"


@dataclass(frozen=True)
class CoreRequest:
    action: str
    target_type: str
    target_obj: str
    site_id: str
    customer_id: str
    idempotency_key: str
    params: dict = field(default_factory=dict)
    mode: str = "sync"  # "sync" or "async", as the tasker flow's step says
    pri: int = 5  # 0 (lowest) .. 9 (highest)
    #: The key of an earlier, failed request for the same action (the previous attempt of
    #: the same tasker subtask). Its DONE steps are kept (copied with their results) and
    #: the new workflow_task runs from the failed step, so a retry never redoes, nor trips
    #: over, what already took effect. Ignored when that request did not end in ERROR.
    resume_key: str = ""


@dataclass(frozen=True)
class CoreAnswer:
    workflow_task_id: int
    status: str  # AnswerStatus
    result: dict | None = None
    error_code: str = ""
    error_msg: str = ""


@dataclass(frozen=True)
class CoreReport:
    workflow_task_id: int
    idempotency_key: str
    kind: str  # "progress", "done" or "error"
    progress: int = 0
    result: dict | None = None
    error_code: str = ""
    error_msg: str = ""


def submit(request: CoreRequest) -> CoreAnswer:
    """Hand ``request`` to coreTasker. Safe to call twice with the same idempotency key."""
    from . import services

    return services.workflow_submit(request)


def lookup(idempotency_key: str) -> CoreAnswer | None:
    """Where coreTasker is with the request of this key (``None`` if it never saw it)."""
    from . import services

    return services.workflow_lookup(idempotency_key)


Reporter = Callable[[CoreReport], None]
_reporters: list[Reporter] = []


def register_reporter(fn: Reporter) -> None:
    """Register a listener for reports (the tasker does so in its AppConfig.ready)."""
    if fn not in _reporters:
        _reporters.append(fn)


def report(message: CoreReport) -> None:
    """Deliver ``message`` to every listener. coreTasker calls this after commit.

    One listener's failure is logged and does not stop the others (nor undo what
    coreTasker recorded: :func:`lookup` still answers from the database).
    """
    for fn in list(_reporters):
        try:
            fn(message)
        except Exception:
            logger.exception("coreTasker reporter %r failed on %s", fn, message)
