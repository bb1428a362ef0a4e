"""What the simulated cloud does, step by step.

:func:`run` carries out one plan step in one transaction, re-checking under row
locks, so a step either happens whole or not at all and two racing steps cannot
both take the last free capacity of a host (MariaDB row locks; SQLite serialises
writers).
"""

from __future__ import annotations

import hashlib

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .checks import (
    VmRow,
    check,
    create_vm_facts,
    execute,
    fetch,
    get_site,
    get_vm,
    positive,
    refuse,
    refuse_unknown_cpu_type,
    refuse_vm_exists,
    resource_exists,
    vm_row,
)
from .models import NicState, SimBandwidth, SimHost, SimNic, SimPipe, SimVm, VmState

__all__ = ["STEPS", "check", "run"]


def run(step: str, params: dict, inputs: dict, *, savepoint: bool = True) -> dict:
    """Carry out ``step`` whole, in one transaction, or refuse it.

    Within a caller's transaction the step gets a savepoint of its own, unless
    ``savepoint=False``: the caller then rolls its whole transaction back when
    the step refuses (coreTasker does: it runs each step in the transaction that
    records its outcome).
    """
    function = STEPS.get(step)
    if function is None:
        raise refuse("unknown_step", _("the simulated cloud has no step %(step)s"), step=step)
    with transaction.atomic(savepoint=savepoint):
        return function(params, inputs)


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _now():
    """The current time as a DateTimeField column takes it."""
    return connection.ops.adapt_datetimefield_value(timezone.now())


def allocate_host(params: dict, inputs: dict) -> dict:
    """Place the VM on the first enabled host of its site with room for it, and reserve that room."""
    spec = positive(params, "cpu", "memory_gb")
    # Lock the site's hosts in primary-key order: two placements never deadlock and
    # never both take the last free room of a host. The same read tells whether the
    # CPU type is known and the VM exists (subqueries: they lock nothing).
    hosts = fetch(
        "SELECT h.id, h.hostname, h.cpu_total, h.cpu_used, h.memory_gb_total, h.memory_gb_used, h.site_id, "
        "EXISTS(SELECT 1 FROM api_cputypetpl c WHERE c.code = %s), EXISTS(SELECT 1 FROM sim_vm v WHERE v.vm_id = %s) "
        "FROM sim_host h WHERE h.site_id = (SELECT s.id FROM sim_site s WHERE s.site_id = %s) AND h.enabled = %s "
        "ORDER BY h.id" + _for_update(),
        [str(params["cpu_type"]), str(params["vm_id"]), str(params["site_id"]), True],
    )
    if hosts:
        site_pk, cpu_known, vm_taken = hosts[0][6], bool(hosts[0][7]), bool(hosts[0][8])
    else:  # no enabled host: is there such a site at all, and would it refuse for another reason first?
        site_pk, _name, cpu_known, vm_taken = create_vm_facts(params)
    if not cpu_known:
        raise refuse_unknown_cpu_type(params)
    if vm_taken:
        raise refuse_vm_exists(params)
    host = next(
        (h for h in hosts if h[2] - h[3] >= spec["cpu"] and h[4] - h[5] >= spec["memory_gb"]),
        None,
    )
    if host is None:
        raise refuse(
            "no_capacity",
            _("no host in %(site)s has %(cpu)s vCPUs and %(mem)s GB free"),
            site=params["site_id"],
            cpu=spec["cpu"],
            mem=spec["memory_gb"],
        )
    host_pk, hostname, _cpu_total, cpu_used, _memory_total, memory_used = host[:6]
    execute(
        "UPDATE sim_host SET cpu_used = %s, memory_gb_used = %s WHERE id = %s",
        [cpu_used + spec["cpu"], memory_used + spec["memory_gb"], host_pk],
    )
    now = _now()
    execute(
        "INSERT INTO sim_vm (vm_id, site_id, host_id, customer_id, cpu_type, cpu, memory_gb, disk_gb, disk_id, state, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            str(params["vm_id"]),
            site_pk,
            host_pk,
            params.get("customer_id", ""),
            str(params["cpu_type"]),
            spec["cpu"],
            spec["memory_gb"],
            0,
            "",
            VmState.ALLOCATED,
            now,
            now,
        ],
    )
    return {"vm_id": params["vm_id"], "host": hostname, "device": hostname}


def create_disk(params: dict, inputs: dict) -> dict:
    vm = vm_row(params["vm_id"], lock=True)
    disk_gb = int(params.get("disk_gb") or 20)
    disk_id = f"disk-{vm.vm_id}"
    execute(
        "UPDATE sim_vm SET disk_id = %s, disk_gb = %s, state = %s, updated_at = %s WHERE id = %s",
        [disk_id, disk_gb, VmState.STOPPED, _now(), vm.pk],
    )
    host = inputs.get("host") or vm.hostname or ""
    return {"disk_id": disk_id, "disk_gb": disk_gb, "host": host, "device": host}


def boot_vm(params: dict, inputs: dict) -> dict:
    vm = vm_row(params["vm_id"], lock=True)
    if not vm.disk_id:
        raise refuse("no_disk", _("VM %(vm)s has no disk to boot from"), vm=vm.vm_id)
    return _set_state(vm, VmState.RUNNING, from_states=(VmState.STOPPED,), refusal="vm_not_stopped")


def _set_state(vm: VmRow, state: str, *, from_states, refusal: str, write: bool = True) -> dict:
    """Move a locked VM to ``state`` (refused unless it is in ``from_states``); ``write=False``: it is there."""
    if vm.state not in from_states:
        raise refuse(refusal, _("VM %(vm)s is %(state)s"), vm=vm.vm_id, state=vm.state)
    if write:
        execute("UPDATE sim_vm SET state = %s, updated_at = %s WHERE id = %s", [state, _now(), vm.pk])
    host = vm.hostname or ""
    return {"vm_id": vm.vm_id, "state": state, "host": host, "device": host}


def start_vm(params: dict, inputs: dict) -> dict:
    """Start a stopped VM; starting a running one changes nothing (retries are safe), as in real clouds."""
    vm = vm_row(params["vm_id"], lock=True)
    if vm.state == VmState.RUNNING:
        return {
            **_set_state(vm, VmState.RUNNING, from_states=(VmState.RUNNING,), refusal="vm_not_ready", write=False),
            "already": True,
        }
    return _set_state(vm, VmState.RUNNING, from_states=(VmState.STOPPED,), refusal="vm_not_ready")


def stop_vm(params: dict, inputs: dict) -> dict:
    """Stop a running VM; stopping a stopped one changes nothing (retries are safe)."""
    vm = vm_row(params["vm_id"], lock=True)
    if vm.state == VmState.STOPPED:
        return {
            **_set_state(vm, VmState.STOPPED, from_states=(VmState.STOPPED,), refusal="vm_not_ready", write=False),
            "already": True,
        }
    return _set_state(vm, VmState.STOPPED, from_states=(VmState.RUNNING,), refusal="vm_not_ready")


def reboot_vm(params: dict, inputs: dict) -> dict:
    result = _set_state(
        vm_row(params["vm_id"], lock=True), VmState.RUNNING, from_states=(VmState.RUNNING,), refusal="vm_not_running"
    )
    return {**result, "rebooted": True}


def resize_vm(params: dict, inputs: dict) -> dict:
    spec = positive(params, "cpu", "memory_gb")
    vm = get_vm(params["vm_id"], lock=True)
    if vm.state != VmState.STOPPED:
        raise refuse(
            "vm_not_stopped", _("VM %(vm)s must be stopped to resize (it is %(state)s)"), vm=vm.vm_id, state=vm.state
        )
    host = SimHost.objects.select_for_update().get(pk=vm.host_id)
    cpu_delta, mem_delta = spec["cpu"] - vm.cpu, spec["memory_gb"] - vm.memory_gb
    if cpu_delta > host.cpu_free or mem_delta > host.memory_gb_free:
        raise refuse(
            "no_capacity", _("host %(host)s cannot grow VM %(vm)s to that size"), host=host.hostname, vm=vm.vm_id
        )
    host.cpu_used += cpu_delta
    host.memory_gb_used += mem_delta
    host.save(update_fields=["cpu_used", "memory_gb_used"])
    vm.cpu, vm.memory_gb = spec["cpu"], spec["memory_gb"]
    vm.save(update_fields=["cpu", "memory_gb", "updated_at"])
    return {"vm_id": vm.vm_id, "cpu": vm.cpu, "memory_gb": vm.memory_gb, "host": host.hostname, "device": host.hostname}


def detach_nics(params: dict, inputs: dict) -> dict:
    vm = get_vm(params["vm_id"], lock=True)
    nics = list(vm.nics.exclude(state=NicState.DELETED).values_list("nic_id", flat=True))
    vm.nics.filter(nic_id__in=nics).update(state=NicState.DELETED)
    host = vm.host.hostname if vm.host else ""
    return {"detached_nics": nics, "device": host}


def delete_disk(params: dict, inputs: dict) -> dict:
    vm = get_vm(params["vm_id"], lock=True)
    disk_id = vm.disk_id
    vm.disk_id, vm.disk_gb = "", 0
    vm.save(update_fields=["disk_id", "disk_gb", "updated_at"])
    return {"deleted_disk": disk_id, "device": vm.host.hostname if vm.host else ""}


def release_host(params: dict, inputs: dict) -> dict:
    vm = get_vm(params["vm_id"], lock=True)
    host = SimHost.objects.select_for_update().get(pk=vm.host_id) if vm.host_id else None
    if host is not None:
        host.cpu_used -= vm.cpu
        host.memory_gb_used -= vm.memory_gb
        host.save(update_fields=["cpu_used", "memory_gb_used"])
    vm.state = VmState.DELETED
    vm.save(update_fields=["state", "updated_at"])
    name = host.hostname if host else ""
    return {"vm_id": vm.vm_id, "state": VmState.DELETED, "released_host": name, "device": name}


def allocate_address(params: dict, inputs: dict) -> dict:
    site = get_site(params["site_id"], lock=True)  # the site lock serialises address allocation
    vm = get_vm(params["vm_id"])
    if SimNic.objects.filter(nic_id=params["nic_id"]).exists():
        raise refuse("already_exists", _("NIC %(nic)s already exists"), nic=params["nic_id"])
    number = SimNic.objects.filter(site=site).count()
    ip = f"10.{site.pk % 250}.{number // 250}.{number % 250 + 2}"
    digest = hashlib.sha1(params["nic_id"].encode()).hexdigest()
    mac = "02:00:" + ":".join(digest[i : i + 2] for i in range(0, 8, 2))
    SimNic.objects.create(
        nic_id=params["nic_id"],
        vm=vm,
        site=site,
        customer_id=params.get("customer_id", ""),
        mac=mac,
        ip=ip,
        state=NicState.ALLOCATED,
    )
    return {"nic_id": params["nic_id"], "ip": ip, "mac": mac, "device": f"{site.site_id}-net"}


def attach_nic(params: dict, inputs: dict) -> dict:
    nic = SimNic.objects.select_for_update().select_related("vm__host").filter(nic_id=params["nic_id"]).first()
    if nic is None or nic.state == NicState.DELETED:
        raise refuse("not_found", _("NIC %(nic)s does not exist"), nic=params["nic_id"])
    nic.state = NicState.ATTACHED
    nic.save(update_fields=["state"])
    host = nic.vm.host.hostname if nic.vm.host else ""
    return {"nic_id": nic.nic_id, "vm_id": nic.vm.vm_id, "ip": nic.ip, "mac": nic.mac, "device": host}


def delete_nic(params: dict, inputs: dict) -> dict:
    nic = SimNic.objects.select_for_update().filter(nic_id=params["nic_id"]).exclude(state=NicState.DELETED).first()
    if nic is None:
        raise refuse("not_found", _("NIC %(nic)s does not exist"), nic=params["nic_id"])
    nic.state = NicState.DELETED
    nic.save(update_fields=["state"])
    return {"nic_id": nic.nic_id, "state": NicState.DELETED, "device": f"{params.get('site_id') or nic.site_id}-net"}


def create_pipe(params: dict, inputs: dict) -> dict:
    spec = positive(params, "bandwidth_mbps")
    site = get_site(params["site_id"])
    if SimPipe.objects.filter(pipe_id=params["pipe_id"]).exists():
        raise refuse("already_exists", _("pipe %(pipe)s already exists"), pipe=params["pipe_id"])
    pipe = SimPipe.objects.create(
        pipe_id=params["pipe_id"],
        site=site,
        customer_id=params.get("customer_id", ""),
        bandwidth_mbps=spec["bandwidth_mbps"],
    )
    return {"pipe_id": pipe.pipe_id, "bandwidth_mbps": pipe.bandwidth_mbps, "device": f"{site.site_id}-net"}


def set_bandwidth(params: dict, inputs: dict) -> dict:
    """Set a resource's bandwidth; without ``bandwidth_mbps`` it stays as it is (and the answer says so)."""
    resource_type, resource_id = params["resource_type"], params["resource_id"]
    resource_exists(resource_type, resource_id)
    if params.get("bandwidth_mbps") in (None, ""):
        current = (
            SimBandwidth.objects.filter(resource_type=resource_type, resource_id=resource_id)
            .values_list("bandwidth_mbps", flat=True)
            .first()
        )
        return {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "bandwidth_mbps": current,
            "changed": False,
            "device": "sim-net",
        }
    spec = positive(params, "bandwidth_mbps")
    # One row per resource, whoever writes first: the unique key settles a race in one statement.
    if connection.vendor == "mysql":
        upsert = "ON DUPLICATE KEY UPDATE bandwidth_mbps = VALUES(bandwidth_mbps), updated_at = VALUES(updated_at)"
    else:
        upsert = (
            "ON CONFLICT (resource_type, resource_id) DO UPDATE SET bandwidth_mbps = excluded.bandwidth_mbps, "
            "updated_at = excluded.updated_at"
        )
    execute(
        "INSERT INTO sim_bandwidth (resource_type, resource_id, bandwidth_mbps, updated_at) "
        f"VALUES (%s, %s, %s, %s) {upsert}",
        [str(resource_type), str(resource_id), spec["bandwidth_mbps"], _now()],
    )
    if resource_type == "pipe":
        SimPipe.objects.filter(pipe_id=resource_id).update(bandwidth_mbps=spec["bandwidth_mbps"])
    return {
        "resource_type": resource_type,
        "resource_id": resource_id,
        "bandwidth_mbps": spec["bandwidth_mbps"],
        "changed": True,
        "device": "sim-net",
    }


def query_state(params: dict, inputs: dict) -> dict:
    resource_type, resource_id = params["resource_type"], params["resource_id"]
    resource_exists(resource_type, resource_id)
    if resource_type == "vm":
        vm = SimVm.objects.select_related("host").get(vm_id=resource_id)
        state = {
            "state": vm.state,
            "cpu": vm.cpu,
            "memory_gb": vm.memory_gb,
            "host": vm.host.hostname if vm.host else "",
        }
    elif resource_type == "nic":
        nic = SimNic.objects.get(nic_id=resource_id)
        state = {"state": nic.state, "ip": nic.ip, "mac": nic.mac}
    else:
        pipe = SimPipe.objects.get(pipe_id=resource_id)
        state = {"state": "active", "bandwidth_mbps": pipe.bandwidth_mbps}
    return {"resource_type": resource_type, "resource_id": resource_id, **state, "device": "sim-api"}


STEPS = {
    "allocate_host": allocate_host,
    "create_disk": create_disk,
    "boot_vm": boot_vm,
    "start_vm": start_vm,
    "stop_vm": stop_vm,
    "reboot_vm": reboot_vm,
    "resize_vm": resize_vm,
    "detach_nics": detach_nics,
    "delete_disk": delete_disk,
    "release_host": release_host,
    "allocate_address": allocate_address,
    "attach_nic": attach_nic,
    "delete_nic": delete_nic,
    "create_pipe": create_pipe,
    "set_bandwidth": set_bandwidth,
    "query_state": query_state,
}
