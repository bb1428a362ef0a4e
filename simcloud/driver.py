"""The simulated cloud: the default driver, for development, demos and tests.

It keeps its inventory in the database (:mod:`simcloud.models`), refuses what a
real cloud refuses (:mod:`simcloud.inventory`), takes ``SIMCLOUD_ACTION_SECONDS``
per step and fails at the rate ``SIMCLOUD_FAILURE_RATE``, or on request:

``fail_at`` (a request parameter, a step name, an action name or a list of
them) makes that step refuse with ``simulated_failure`` on the first run. An
action name stands for the last step of its plan, so the steps before it take
effect first (``{"fail_at": "create_vm"}`` fails ``boot_vm`` after the host and
the disk are allocated). A restarted workflow runs without it, so a restart
shows the recovery.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.utils.translation import gettext as _

from coretasker.drivers.base import ACTIONS, Driver, DriverRefusal, PlanStep, StepContext

from . import inventory
from .models import SimSite

SCHEDULER, STORAGE, HYPERVISOR, NETWORK, API = (
    "sim-scheduler",
    "sim-storage",
    "sim-hypervisor",
    "sim-network",
    "sim-api",
)

#: Actions that run in several steps. Each: (step name, group, consumed step, agent).
PLANS: dict[str, list[PlanStep]] = {
    "create_vm": [
        PlanStep("allocate_host", 1, None, SCHEDULER),
        PlanStep("create_disk", 2, "allocate_host", STORAGE),
        PlanStep("boot_vm", 3, "create_disk", HYPERVISOR),
    ],
    "delete_vm": [
        # NICs and disk are independent: they go in parallel, then the host is released.
        PlanStep("detach_nics", 1, None, NETWORK),
        PlanStep("delete_disk", 1, None, STORAGE),
        PlanStep("release_host", 2, "delete_disk", SCHEDULER),
    ],
    "create_nic": [
        PlanStep("allocate_address", 1, None, NETWORK),
        PlanStep("attach_nic", 2, "allocate_address", HYPERVISOR),
    ],
}
SINGLE_STEP_AGENTS = {
    "start_vm": HYPERVISOR,
    "stop_vm": HYPERVISOR,
    "reboot_vm": HYPERVISOR,
    "resize_vm": HYPERVISOR,
    "delete_nic": NETWORK,
    "create_pipe": NETWORK,
    "set_bandwidth": NETWORK,
    "query_state": API,
}
#: Parameters an action may go without: ``set_bandwidth`` without a bandwidth leaves the
#: bandwidth as it is (flows run it with an optional bandwidth, e.g. after create_vm).
OPTIONAL_PARAMS = {"customer_id", "disk_gb"}
OPTIONAL_BY_ACTION = {"set_bandwidth": {"bandwidth_mbps"}}


class SimulatedCloudDriver(Driver):
    """The simulated cloud (a simulation: nothing real is provisioned)."""

    name = "Simulated cloud (simulation)"
    is_simulation = True
    agent = "simcloud"

    def plan(self, action: str, params: dict) -> list[PlanStep]:
        if action in PLANS:
            return list(PLANS[action])
        return [PlanStep(action, 1, None, SINGLE_STEP_AGENTS.get(action, self.agent))]

    def validate(self, action: str, params: dict) -> dict[str, str]:
        missing = [
            key
            for key in ACTIONS.get(action, ())
            if key not in OPTIONAL_PARAMS | OPTIONAL_BY_ACTION.get(action, set()) and params.get(key) in (None, "")
        ]
        if missing:
            raise DriverRefusal(
                "invalid_params", _("%(action)s needs %(keys)s") % {"action": action, "keys": ", ".join(missing)}
            )
        return inventory.check(action, params)

    def run_step(self, step: PlanStep, context: StepContext) -> dict:
        self._maybe_fail(step, context)
        seconds = float(getattr(settings, "SIMCLOUD_ACTION_SECONDS", 0) or 0)
        if seconds > 0:
            time.sleep(seconds)
        # coreTasker rolls back the transaction it runs the step in if the step refuses: no savepoint needed.
        return inventory.run(step.name, context.params, context.inputs, savepoint=False)

    def site_name(self, site_id: str) -> str:
        return SimSite.objects.filter(site_id=site_id).values_list("name", flat=True).first() or ""

    def _maybe_fail(self, step: PlanStep, context: StepContext) -> None:
        fail_at = context.params.get("fail_at") or []
        if isinstance(fail_at, str):
            fail_at = [fail_at]
        last = self.plan(context.action, context.params)[-1].name
        named = {last if name == context.action else name for name in fail_at}
        if context.restart == 0 and step.name in named:
            raise DriverRefusal(
                "simulated_failure", _("failure requested at step %(step)s (fail_at)") % {"step": step.name}
            )
        rate = float(getattr(settings, "SIMCLOUD_FAILURE_RATE", 0) or 0)
        if rate > 0 and random.random() < rate:
            raise DriverRefusal(
                "simulated_failure",
                _("random failure at step %(step)s (SIMCLOUD_FAILURE_RATE=%(rate)s)")
                % {"step": step.name, "rate": rate},
            )
