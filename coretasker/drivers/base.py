"""The driver interface: the only way coreTasker touches a cloud.

A driver turns one action with its parameters into a change in a cloud and
answers with a JSON-serialisable result. A cloud that will not do what it is
asked (no capacity, unknown CPU type, resizing a running VM, deleting what does
not exist) raises :class:`DriverRefusal` with a machine-readable ``code``; the
execution layer records it and the tasker shows it in its error log.

An action runs as a *plan* of steps (:meth:`Driver.plan`), one
``workflow_subtask`` row each. A driver that does an action in one call needs
nothing but one method per action: the default plan is a single step named after
the action. A driver whose cloud works in stages (allocate a host, create the
disk, boot) returns several steps and implements :meth:`Driver.run_step`.

The driver in use is named by ``settings.CORETASKER_DRIVER`` (a dotted path to a
:class:`Driver` subclass); a new driver needs no change outside its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

#: Every action a driver offers, with the keyword parameters each one takes.
ACTIONS: dict[str, tuple[str, ...]] = {
    "create_vm": ("vm_id", "site_id", "customer_id", "cpu_type", "cpu", "memory_gb", "disk_gb"),
    "delete_vm": ("vm_id",),
    "start_vm": ("vm_id",),
    "stop_vm": ("vm_id",),
    "reboot_vm": ("vm_id",),
    "resize_vm": ("vm_id", "cpu", "memory_gb"),
    "create_nic": ("nic_id", "vm_id", "site_id", "customer_id"),
    "delete_nic": ("nic_id",),
    "create_pipe": ("pipe_id", "site_id", "customer_id", "bandwidth_mbps"),
    "set_bandwidth": ("resource_type", "resource_id", "bandwidth_mbps"),
    "query_state": ("resource_type", "resource_id"),
}


class DriverRefusal(Exception):
    """The cloud refused the action; ``code`` says why (e.g. ``no_capacity``)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class PlanStep:
    """One step of an action's plan; coreTasker stores it as one ``workflow_subtask``.

    ``group``: steps of the same group do not depend on each other and run in
    parallel; groups run in ascending order. ``consumes``: the name of an earlier
    step whose result this step takes as its input (``result_key``). ``agent``:
    the part of the cloud that carries the step out.
    """

    name: str
    group: int = 1
    consumes: str | None = None
    agent: str = ""


@dataclass(frozen=True)
class StepContext:
    """What a step is given: the action, the request's parameters, the consumed step's result."""

    action: str
    params: dict
    inputs: dict = field(default_factory=dict)
    restart: int = 0  # how many times the workflow_task was restarted before this run


class Driver:
    """Base class of drivers. Subclasses implement one method per action in :data:`ACTIONS`."""

    #: Shown to users; a simulation says so in its name.
    name: str = "driver"
    is_simulation: bool = False
    #: The agent recorded on single-step plans.
    agent: str = "driver"

    def plan(self, action: str, params: dict) -> list[PlanStep]:
        """The steps ``action`` runs as, in order. Default: one step, the action itself."""
        return [PlanStep(name=action, group=1, agent=self.agent)]

    def validate(self, action: str, params: dict) -> dict[str, str] | None:
        """Refuse (raise :class:`DriverRefusal`) what cannot run, before anything runs. Default: accept.

        It may return the names of the sites the check read, by site id:
        coreTasker names the request's site from them rather than asking
        :meth:`site_name` again.
        """

    def run_step(self, step: PlanStep, context: StepContext) -> dict:
        """Run one step of a plan. Default: the single step of :meth:`plan` calls the action's method.

        coreTasker calls it inside the transaction that records the step's
        outcome: what a driver writes to this database commits with that record,
        and a step that raises has the whole transaction rolled back (the
        failure is recorded after). A driver needs no transaction of its own.
        """
        if step.name != context.action:
            raise DriverRefusal("unknown_step", f"{self.name} has no step {step.name!r} in {context.action}")
        return self.call_action(context.action, context.params)

    def call_action(self, action: str, params: dict) -> dict:
        if action not in ACTIONS:
            raise DriverRefusal("unknown_action", f"the driver has no action {action!r}")
        method = getattr(self, action)
        return method(**{key: params[key] for key in ACTIONS[action] if key in params})

    def execute(self, action: str, params: dict) -> dict:
        """Run ``action`` with ``params`` whole (every step in order) and return its merged result.

        coreTasker runs plans step by step (to record, parallelise and restart
        them); this is for callers who just want the action done.
        """
        if action not in ACTIONS:
            raise DriverRefusal("unknown_action", f"the driver has no action {action!r}")
        self.validate(action, params)
        results: dict[str, dict] = {}
        merged: dict = {}
        for step in sorted(self.plan(action, params), key=lambda s: s.group):
            inputs = results.get(step.consumes, {}) if step.consumes else {}
            with transaction.atomic():  # each step whole, as coreTasker runs it (a savepoint within a transaction)
                results[step.name] = self.run_step(step, StepContext(action=action, params=params, inputs=inputs))
            merged.update(results[step.name])
        return merged

    def site_name(self, site_id: str) -> str:
        """The human name of a site; default from ``settings.CORETASKER_SITE_NAMES``."""
        return getattr(settings, "CORETASKER_SITE_NAMES", {}).get(site_id, "")


def get_driver() -> Driver:
    """The driver named in settings, built once per process and path (so a settings override takes effect)."""
    return _build(settings.CORETASKER_DRIVER)


@cache
def _build(path: str) -> Driver:
    return import_string(path)()
