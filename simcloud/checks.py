"""What the simulated cloud refuses before anything runs, and the lookups its steps share.

:func:`check` refuses a request up front (unknown site or CPU type, a VM that does
not exist, a resize of a running VM, ...); every step checks again under its row
locks (:mod:`simcloud.inventory`), since the inventory may change in between.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from coretasker.drivers.base import DriverRefusal
from coretasker.models import CpuTypeTpl

from .models import NicState, SimNic, SimPipe, SimSite, SimVm, VmState

RESOURCE_TYPES = ("vm", "nic", "pipe")


def refuse(refusal_code: str, message: str, /, **values) -> DriverRefusal:
    return DriverRefusal(refusal_code, message % values if values else message)


def get_site(site_id: str, *, lock: bool = False) -> SimSite:
    query = SimSite.objects.select_for_update() if lock else SimSite.objects
    site = query.filter(site_id=site_id).first()
    if site is None:
        raise refuse("unknown_site", _("the simulated cloud has no site %(site)s"), site=site_id)
    return site


def get_vm(vm_id: str, *, lock: bool = False) -> SimVm:
    query = SimVm.objects.select_for_update() if lock else SimVm.objects
    vm = query.filter(vm_id=vm_id).exclude(state=VmState.DELETED).first()
    if vm is None:
        raise refuse("not_found", _("VM %(vm)s does not exist"), vm=vm_id)
    return vm


def positive(params: dict, *keys: str) -> dict[str, int]:
    values = {}
    for key in keys:
        try:
            values[key] = int(params[key])
        except (KeyError, TypeError, ValueError):
            raise refuse("invalid_spec", _("%(key)s must be a whole number"), key=key) from None
        if values[key] <= 0:
            raise refuse("invalid_spec", _("%(key)s must be greater than zero"), key=key)
    return values


def resource_exists(resource_type: str, resource_id: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise refuse(
            "invalid_params",
            _("resource_type must be one of %(types)s, not %(given)s"),
            types=", ".join(RESOURCE_TYPES),
            given=resource_type,
        )
    if resource_type == "vm":
        get_vm(resource_id)
    elif resource_type == "nic":
        if not SimNic.objects.filter(nic_id=resource_id).exclude(state=NicState.DELETED).exists():
            raise refuse("not_found", _("NIC %(nic)s does not exist"), nic=resource_id)
    elif not SimPipe.objects.filter(pipe_id=resource_id).exists():
        raise refuse("not_found", _("pipe %(pipe)s does not exist"), pipe=resource_id)


def check(action: str, params: dict) -> None:
    """Refuse what cannot run, before anything runs. Re-checked under locks by each step."""
    if action == "create_vm":
        get_site(params["site_id"])
        if not CpuTypeTpl.objects.filter(code=params["cpu_type"]).exists():
            raise refuse("unknown_cpu_type", _("unknown CPU type %(cpu_type)s"), cpu_type=params["cpu_type"])
        positive(params, "cpu", "memory_gb")
        if SimVm.objects.filter(vm_id=params["vm_id"]).exists():
            raise refuse("already_exists", _("VM %(vm)s already exists"), vm=params["vm_id"])
    elif action in ("delete_vm", "start_vm", "stop_vm", "reboot_vm"):
        get_vm(params["vm_id"])
    elif action == "resize_vm":
        positive(params, "cpu", "memory_gb")
        found = get_vm(params["vm_id"])
        if found.state != VmState.STOPPED:
            raise refuse(
                "vm_not_stopped",
                _("VM %(vm)s must be stopped to resize (it is %(state)s)"),
                vm=found.vm_id,
                state=found.state,
            )
    elif action == "create_nic":
        get_site(params["site_id"])
        get_vm(params["vm_id"])
        if SimNic.objects.filter(nic_id=params["nic_id"]).exists():
            raise refuse("already_exists", _("NIC %(nic)s already exists"), nic=params["nic_id"])
    elif action == "delete_nic":
        resource_exists("nic", params["nic_id"])
    elif action == "create_pipe":
        get_site(params["site_id"])
        positive(params, "bandwidth_mbps")
        if SimPipe.objects.filter(pipe_id=params["pipe_id"]).exists():
            raise refuse("already_exists", _("pipe %(pipe)s already exists"), pipe=params["pipe_id"])
    elif action == "set_bandwidth":
        if params.get("bandwidth_mbps") not in (None, ""):
            positive(params, "bandwidth_mbps")
        resource_exists(params["resource_type"], params["resource_id"])
    elif action == "query_state":
        resource_exists(params["resource_type"], params["resource_id"])
