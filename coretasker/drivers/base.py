"""The driver interface: the only way coreTasker touches a cloud.

A driver turns one action with its parameters into a change in a cloud and
answers with a JSON-serialisable result. A cloud that will not do what it is
asked (no capacity, unknown CPU type, resizing a running VM, deleting what does
not exist) raises :class:`DriverRefusal` with a machine-readable ``code``; the
execution layer records it and the tasker shows it in its error log.

The driver in use is named by ``settings.CORETASKER_DRIVER`` (a dotted path to a
:class:`Driver` subclass); a new driver needs no change outside its own module.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
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


class Driver:
    """Base class of drivers. Subclasses implement one method per action in :data:`ACTIONS`."""

    #: Shown to users; a simulation says so in its name.
    name: str = "driver"
    is_simulation: bool = False

    def execute(self, action: str, params: dict) -> dict:
        """Run ``action`` with ``params`` and return its result, or raise :class:`DriverRefusal`."""
        if action not in ACTIONS:
            raise DriverRefusal("unknown_action", f"the driver has no action {action!r}")
        method = getattr(self, action)
        return method(**{key: params[key] for key in ACTIONS[action] if key in params})


@cache
def get_driver() -> Driver:
    """The driver named in settings, built once per process."""
    return import_string(settings.CORETASKER_DRIVER)()
