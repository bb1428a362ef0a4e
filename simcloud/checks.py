"""What the simulated cloud refuses before anything runs, and the lookups its steps share.

:func:`check` refuses a request up front (unknown site or CPU type, a VM that does
not exist, a resize of a running VM, ...); every step checks again under its row
locks (:mod:`simcloud.inventory`), since the inventory may change in between.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection
from django.utils.translation import gettext as _

from coretasker.drivers.base import DriverRefusal

from .models import NicState, SimNic, SimPipe, SimSite, SimVm, VmState

RESOURCE_TYPES = ("vm", "nic", "pipe")


def fetch(sql: str, params=()) -> list[tuple]:
    """Rows of one statement. The lookups every pipeline message makes are written out: through
    the ORM each would cost several times what the database spends on it."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class VmRow(NamedTuple):
    """A VM (not deleted) as the checks and steps read it: its row, its host's name and its site."""

    pk: int
    vm_id: str
    state: str
    disk_id: str
    host_id: int | None
    hostname: str | None
    site_id: str
    site_name: str


# Host and site come from scalar subqueries: a locking read of the VM does not lock them.
_VM_SQL = (
    "SELECT v.id, v.vm_id, v.state, v.disk_id, v.host_id, (SELECT h.hostname FROM sim_host h WHERE h.id = v.host_id), "
    "(SELECT s.site_id FROM sim_site s WHERE s.id = v.site_id), (SELECT s.name FROM sim_site s WHERE s.id = v.site_id) "
    "FROM sim_vm v WHERE v.vm_id = %s AND v.state <> %s"
)
# create_vm's refusals in one read: the site (id, name), whether the CPU type is known, whether the VM exists.
_CREATE_VM_SQL = (
    "SELECT s.id, s.name, EXISTS(SELECT 1 FROM api_cputypetpl c WHERE c.code = %s), "
    "EXISTS(SELECT 1 FROM sim_vm v WHERE v.vm_id = %s) FROM sim_site s WHERE s.site_id = %s"
)


def vm_row(vm_id: str, *, lock: bool = False) -> VmRow:
    """The VM ``vm_id`` unless it does not exist or is deleted (refused ``not_found``); ``lock``: lock its row."""
    suffix = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    for row in fetch(_VM_SQL + suffix, [str(vm_id), VmState.DELETED]):
        return VmRow(*row)
    raise refuse("not_found", _("VM %(vm)s does not exist"), vm=vm_id)


def create_vm_facts(params: dict) -> tuple[int, str, bool, bool]:
    """The site's id and name, whether the CPU type is known and whether the VM exists (unknown site refused)."""
    for site_pk, name, cpu_known, vm_taken in fetch(
        _CREATE_VM_SQL, [str(params["cpu_type"]), str(params["vm_id"]), str(params["site_id"])]
    ):
        return site_pk, name, bool(cpu_known), bool(vm_taken)
    raise refuse("unknown_site", _("the simulated cloud has no site %(site)s"), site=params["site_id"])


def refuse_unknown_cpu_type(params: dict) -> DriverRefusal:
    return refuse("unknown_cpu_type", _("unknown CPU type %(cpu_type)s"), cpu_type=params["cpu_type"])


def refuse_vm_exists(params: dict) -> DriverRefusal:
    return refuse("already_exists", _("VM %(vm)s already exists"), vm=params["vm_id"])


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


def resource_exists(resource_type: str, resource_id: str) -> dict[str, str]:
    """Refuse a resource that does not exist; the names of the sites read, by site_id."""
    if resource_type not in RESOURCE_TYPES:
        raise refuse(
            "invalid_params",
            _("resource_type must be one of %(types)s, not %(given)s"),
            types=", ".join(RESOURCE_TYPES),
            given=resource_type,
        )
    if resource_type == "vm":
        vm = vm_row(resource_id)
        return {vm.site_id: vm.site_name}
    if resource_type == "nic":
        if not SimNic.objects.filter(nic_id=resource_id).exclude(state=NicState.DELETED).exists():
            raise refuse("not_found", _("NIC %(nic)s does not exist"), nic=resource_id)
    elif not SimPipe.objects.filter(pipe_id=resource_id).exists():
        raise refuse("not_found", _("pipe %(pipe)s does not exist"), pipe=resource_id)
    return {}


def check(action: str, params: dict) -> dict[str, str]:
    """Refuse what cannot run, before anything runs. Re-checked under locks by each step.

    Returns the names of the sites it read, by site_id (coreTasker names the
    workflow's site from them instead of reading the site again).
    """
    if action == "create_vm":
        _site_pk, name, cpu_known, vm_taken = create_vm_facts(params)
        if not cpu_known:
            raise refuse_unknown_cpu_type(params)
        positive(params, "cpu", "memory_gb")
        if vm_taken:
            raise refuse_vm_exists(params)
        return {params["site_id"]: name}
    if action in ("delete_vm", "start_vm", "stop_vm", "reboot_vm"):
        vm = vm_row(params["vm_id"])
        return {vm.site_id: vm.site_name}
    if action == "resize_vm":
        positive(params, "cpu", "memory_gb")
        vm = vm_row(params["vm_id"])
        if vm.state != VmState.STOPPED:
            raise refuse(
                "vm_not_stopped",
                _("VM %(vm)s must be stopped to resize (it is %(state)s)"),
                vm=vm.vm_id,
                state=vm.state,
            )
        return {vm.site_id: vm.site_name}
    if action == "create_nic":
        site = get_site(params["site_id"])
        get_vm(params["vm_id"])
        if SimNic.objects.filter(nic_id=params["nic_id"]).exists():
            raise refuse("already_exists", _("NIC %(nic)s already exists"), nic=params["nic_id"])
        return {site.site_id: site.name}
    if action == "delete_nic":
        return resource_exists("nic", params["nic_id"])
    if action == "create_pipe":
        site = get_site(params["site_id"])
        positive(params, "bandwidth_mbps")
        if SimPipe.objects.filter(pipe_id=params["pipe_id"]).exists():
            raise refuse("already_exists", _("pipe %(pipe)s already exists"), pipe=params["pipe_id"])
        return {site.site_id: site.name}
    if action == "set_bandwidth":
        if params.get("bandwidth_mbps") not in (None, ""):
            positive(params, "bandwidth_mbps")
        return resource_exists(params["resource_type"], params["resource_id"])
    if action == "query_state":
        return resource_exists(params["resource_type"], params["resource_id"])
    return {}
