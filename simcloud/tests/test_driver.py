"""The simulated cloud on its own: inventory bookkeeping, refusals, seeded sites."""

import time

import pytest
from django.test import override_settings

from coretasker.drivers.base import DriverRefusal
from simcloud import inventory
from simcloud.driver import SimulatedCloudDriver
from simcloud.models import SimBandwidth, SimHost, SimNic, SimPipe, SimSite, SimVm

pytestmark = pytest.mark.django_db

SPEC = {"site_id": "cn-north-1", "customer_id": "c1", "cpu_type": "kunpeng_920", "cpu": 4, "memory_gb": 16}


@pytest.fixture
def driver():
    return SimulatedCloudDriver()


def test_sites_and_hosts_are_seeded_by_migration():
    assert dict(SimSite.objects.values_list("site_id", "name")) == {
        "cn-east-1": "East China 1",
        "cn-north-1": "North China 1",
    }
    assert SimHost.objects.filter(site__site_id="cn-east-1").count() >= 2
    assert SimHost.objects.filter(site__site_id="cn-north-1").count() >= 2


def test_create_then_delete_gives_the_capacity_back(driver):
    before = {h.hostname: (h.cpu_used, h.memory_gb_used) for h in SimHost.objects.all()}
    created = driver.execute("create_vm", {**SPEC, "vm_id": "vm-c"})
    host = SimHost.objects.get(hostname=created["host"])
    assert (host.cpu_used, host.memory_gb_used) == (before[host.hostname][0] + 4, before[host.hostname][1] + 16)
    driver.execute("delete_vm", {"vm_id": "vm-c"})
    assert {h.hostname: (h.cpu_used, h.memory_gb_used) for h in SimHost.objects.all()} == before
    with pytest.raises(DriverRefusal) as gone:
        driver.execute("delete_vm", {"vm_id": "vm-c"})
    assert gone.value.code == "not_found"


def test_hosts_fill_up_then_refuse(driver):
    free = sum(h.cpu_free // 4 for h in SimHost.objects.filter(site__site_id="cn-north-1"))
    memory_free = sum(h.memory_gb_free // 16 for h in SimHost.objects.filter(site__site_id="cn-north-1"))
    fits = min(free, memory_free)
    assert 0 < fits < 20
    for number in range(fits):
        driver.execute("create_vm", {**SPEC, "vm_id": f"vm-fill-{number}"})
    with pytest.raises(DriverRefusal) as full:
        driver.execute("create_vm", {**SPEC, "vm_id": "vm-one-too-many"})
    assert full.value.code == "no_capacity"
    for host in SimHost.objects.all():
        assert host.cpu_used <= host.cpu_total and host.memory_gb_used <= host.memory_gb_total


def test_resize_only_when_stopped_and_within_the_host(driver):
    driver.execute("create_vm", {**SPEC, "site_id": "cn-east-1", "vm_id": "vm-z"})
    with pytest.raises(DriverRefusal) as running:
        driver.execute("resize_vm", {"vm_id": "vm-z", "cpu": 8, "memory_gb": 32})
    assert running.value.code == "vm_not_stopped"
    driver.execute("stop_vm", {"vm_id": "vm-z"})
    with pytest.raises(DriverRefusal) as too_big:
        driver.execute("resize_vm", {"vm_id": "vm-z", "cpu": 400, "memory_gb": 32})
    assert too_big.value.code == "no_capacity"
    assert driver.execute("resize_vm", {"vm_id": "vm-z", "cpu": 8, "memory_gb": 32})["cpu"] == 8
    vm = SimVm.objects.select_related("host").get(vm_id="vm-z")
    assert (vm.cpu, vm.memory_gb) == (8, 32)


def test_nics_pipes_and_bandwidth(driver):
    driver.execute("create_vm", {**SPEC, "vm_id": "vm-n"})
    nic = driver.execute("create_nic", {"nic_id": "nic-n", "vm_id": "vm-n", "site_id": "cn-north-1"})
    other = driver.execute("create_nic", {"nic_id": "nic-m", "vm_id": "vm-n", "site_id": "cn-north-1"})
    assert nic["ip"] != other["ip"] and SimNic.objects.get(nic_id="nic-n").state == "attached"
    driver.execute("create_pipe", {"pipe_id": "pipe-n", "site_id": "cn-north-1", "bandwidth_mbps": 50})
    driver.execute("set_bandwidth", {"resource_type": "pipe", "resource_id": "pipe-n", "bandwidth_mbps": 80})
    assert SimPipe.objects.get(pipe_id="pipe-n").bandwidth_mbps == 80
    assert SimBandwidth.objects.get(resource_type="pipe", resource_id="pipe-n").bandwidth_mbps == 80
    with pytest.raises(DriverRefusal) as bad_type:
        driver.execute("set_bandwidth", {"resource_type": "disk", "resource_id": "x", "bandwidth_mbps": 1})
    assert bad_type.value.code == "invalid_params"
    driver.execute("delete_nic", {"nic_id": "nic-n"})
    with pytest.raises(DriverRefusal) as gone:
        driver.execute("query_state", {"resource_type": "nic", "resource_id": "nic-n"})
    assert gone.value.code == "not_found"


@override_settings(SIMCLOUD_ACTION_SECONDS=0.02)
def test_each_step_takes_the_configured_time(driver):
    started = time.monotonic()
    driver.execute("create_vm", {**SPEC, "vm_id": "vm-t"})
    assert time.monotonic() - started >= 3 * 0.02  # three steps, each sleeps at least that long


def test_start_and_stop_are_safe_to_retry(driver):
    driver.execute("create_vm", {**SPEC, "site_id": "cn-east-1", "vm_id": "vm-i"})
    assert driver.execute("start_vm", {"vm_id": "vm-i"})["already"] is True
    assert "already" not in driver.execute("stop_vm", {"vm_id": "vm-i"})
    assert driver.execute("stop_vm", {"vm_id": "vm-i"})["already"] is True
    with pytest.raises(DriverRefusal) as stopped:
        driver.execute("reboot_vm", {"vm_id": "vm-i"})
    assert stopped.value.code == "vm_not_running"
    assert SimVm.objects.get(vm_id="vm-i").state == "stopped"


def test_set_bandwidth_without_a_bandwidth_leaves_it_as_it_is(driver):
    driver.execute("create_pipe", {"pipe_id": "pipe-k", "site_id": "cn-east-1", "bandwidth_mbps": 30})
    driver.execute("set_bandwidth", {"resource_type": "pipe", "resource_id": "pipe-k", "bandwidth_mbps": 40})
    kept = driver.execute("set_bandwidth", {"resource_type": "pipe", "resource_id": "pipe-k"})
    assert (kept["bandwidth_mbps"], kept["changed"]) == (40, False)
    assert SimPipe.objects.get(pipe_id="pipe-k").bandwidth_mbps == 40
    with pytest.raises(DriverRefusal) as zero:
        driver.execute("set_bandwidth", {"resource_type": "pipe", "resource_id": "pipe-k", "bandwidth_mbps": 0})
    assert zero.value.code == "invalid_spec"


def test_validation_reads_once_and_names_the_sites_it_read(driver, django_assert_num_queries):
    with django_assert_num_queries(1):  # site, CPU type and VM in one read
        assert driver.validate("create_vm", {**SPEC, "vm_id": "vm-v"}) == {"cn-north-1": "North China 1"}
    assert driver.site_name("cn-north-1") == "North China 1"

    driver.execute("create_vm", {**SPEC, "vm_id": "vm-v"})
    with django_assert_num_queries(1):  # the VM with its site
        assert driver.validate("stop_vm", {"vm_id": "vm-v"}) == {"cn-north-1": "North China 1"}
    assert driver.validate("query_state", {"resource_type": "vm", "resource_id": "vm-v"}) == {
        "cn-north-1": "North China 1"
    }
    assert driver.validate("create_pipe", {**SPEC, "pipe_id": "pipe-v", "bandwidth_mbps": 5}) == {
        "cn-north-1": "North China 1"
    }
    SimSite.objects.filter(site_id="cn-north-1").update(name="North China One")
    assert driver.validate("start_vm", {"vm_id": "vm-v"}) == {"cn-north-1": "North China One"}  # as it is now
    assert driver.site_name("cn-north-1") == "North China One"


def test_create_vm_refusals_keep_their_order(driver):
    cases = [
        ({"site_id": "mars-1", "cpu_type": "pentium_iii", "cpu": 0}, "unknown_site"),
        ({"cpu_type": "pentium_iii", "cpu": 0}, "unknown_cpu_type"),
        ({"cpu": 0, "vm_id": "vm-o"}, "invalid_spec"),
        ({"vm_id": "vm-o"}, "already_exists"),
    ]
    driver.execute("create_vm", {**SPEC, "vm_id": "vm-o"})
    for change, code in cases:
        with pytest.raises(DriverRefusal) as refused:
            driver.validate("create_vm", {**SPEC, "vm_id": "vm-new", **change})
        assert refused.value.code == code, change


def test_placement_refuses_in_order_even_when_a_site_has_no_enabled_host():
    def place(**change):
        with pytest.raises(DriverRefusal) as refused:
            inventory.run("allocate_host", {**SPEC, "vm_id": "vm-p", **change}, {})
        return refused.value.code

    SimHost.objects.filter(site__site_id="cn-north-1").update(enabled=False)
    assert place() == "no_capacity"
    assert place(cpu_type="pentium_iii") == "unknown_cpu_type"
    assert place(site_id="mars-1") == "unknown_site"
    SimHost.objects.filter(site__site_id="cn-north-1").update(enabled=True)
    assert place(cpu_type="pentium_iii") == "unknown_cpu_type"
    assert place(cpu=100000) == "no_capacity"
    assert not SimVm.objects.filter(vm_id="vm-p").exists()
