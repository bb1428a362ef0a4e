"""operation_place: validation with a clear field, nothing written on bad input, sent only after commit."""

import pytest
from django.db import transaction

from common.errors import InvalidInput
from tasks.models import OperationStatus, ResUserOperation
from tasks.services import operation_place
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


def place(**overrides):
    kwargs = {
        "customer_id": "c1",
        "task_type": "start_vm",
        "resource_type": "vm",
        "resource_id": "vm-1",
        "site_id": "s1",
        "params": {},
    }
    kwargs.update(overrides)
    return operation_place(**kwargs)


def test_a_valid_operation_is_written_new_and_sent_after_commit(bus, cpu_type, superuser):
    with TestCaseCallbacks() as callbacks:
        operation = place(task_type="create_vm", params=vm_params(cpu_type), user=superuser, order_id=7, suborder_id=8)
        assert bus.sent == []  # nothing leaves before the commit
    callbacks.run()
    assert operation.task_status == OperationStatus.NEW
    assert (operation.order_id, operation.suborder_id, operation.created_by) == (7, 8, superuser)
    assert operation.params == vm_params(cpu_type)
    assert bus.sent == [("taskercenter.consume", {"operation_id": operation.pk, "type": "operation"}, None)]


class TestCaseCallbacks:
    """Capture on-commit callbacks without running them, to show what waits for the commit."""

    def __enter__(self):
        from django.test import TestCase

        self._cm = TestCase.captureOnCommitCallbacks(execute=False)
        self.callbacks = self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)

    def run(self):
        for callback in self.callbacks:
            callback()


def test_nothing_is_sent_when_the_surrounding_transaction_rolls_back(bus, cpu_type):
    with TestCaseCallbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        place()
        raise RuntimeError("caller fails after placing")
    callbacks.run()
    assert bus.sent == []
    assert not ResUserOperation.objects.exists()


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"task_type": "explode_vm"}, "task_type"),
        ({"task_type": None}, "task_type"),
        ({"resource_type": "nic"}, "resource_type"),
        ({"resource_id": ""}, "resource_id"),
        ({"resource_id": "has space"}, "resource_id"),
        ({"resource_id": "x" * 65}, "resource_id"),
        ({"customer_id": ""}, "customer_id"),
        ({"site_id": "bad site"}, "site_id"),
        ({"params": ["not", "a", "dict"]}, "params"),
        ({"params": {"colour": "red"}}, "params.colour"),
        ({"task_type": "create_vm", "params": {"cpu": 2, "memory_gb": 4, "disk_gb": 40}}, "params.cpu_type"),
        ({"task_type": "create_vm", "params": "vm", "cpu_type": "no_such_cpu"}, "params.cpu_type"),
        ({"task_type": "create_vm", "params": "vm", "cpu": 0}, "params.cpu"),
        ({"task_type": "create_vm", "params": "vm", "cpu": "2"}, "params.cpu"),
        ({"task_type": "create_vm", "params": "vm", "cpu": True}, "params.cpu"),
        ({"task_type": "create_vm", "params": "vm", "disk_gb": None}, "params.disk_gb"),
        ({"task_type": "create_vm", "params": "vm", "drop": "memory_gb"}, "params.memory_gb"),
        ({"task_type": "resize_vm", "params": {"cpu": 4, "memory_gb": 8, "cpu_type": "nope"}}, "params.cpu_type"),
        ({"task_type": "create_nic", "resource_type": "nic", "params": {}}, "params.vm_id"),
        (
            {"task_type": "create_pipe", "resource_type": "pipe", "params": {"bandwidth_mbps": -1}},
            "params.bandwidth_mbps",
        ),
        ({"task_type": "set_bandwidth", "resource_type": "nic", "params": {"bandwidth_mbps": 5}}, "resource_type"),
        ({"order_id": "7"}, "order_id"),
    ],
)
def test_bad_input_names_its_field_and_writes_nothing(bus, cpu_type, overrides, field):
    if overrides.get("params") == "vm":
        params = vm_params(cpu_type)
        for key in ("cpu_type", "cpu", "disk_gb"):
            if key in overrides:
                params[key] = overrides.pop(key)
        if "drop" in overrides:
            params.pop(overrides.pop("drop"))
        overrides["params"] = params
    with pytest.raises(InvalidInput) as refused:
        place(**overrides)
    assert refused.value.field == field
    assert refused.value.message
    assert not ResUserOperation.objects.exists()
    assert bus.sent == []


def test_every_operation_type_accepts_its_documented_parameters(bus, cpu_type):
    cases = {
        "create_vm": ("vm", vm_params(cpu_type, bandwidth_mbps=10)),
        "delete_vm": ("vm", {}),
        "start_vm": ("vm", {}),
        "stop_vm": ("vm", {}),
        "reboot_vm": ("vm", {}),
        "resize_vm": ("vm", {"cpu_type": cpu_type.code, "cpu": 4, "memory_gb": 8}),
        "create_nic": ("nic", {"vm_id": "vm-1"}),
        "delete_nic": ("nic", {}),
        "create_pipe": ("pipe", {"bandwidth_mbps": 100}),
        "set_bandwidth": ("pipe", {"bandwidth_mbps": 100}),
    }
    for task_type, (resource_type, params) in cases.items():
        place(task_type=task_type, resource_type=resource_type, params=params)
    assert ResUserOperation.objects.count() == len(cases)


@pytest.mark.parametrize(
    ("task_type", "resource_type", "fail_at"),
    [
        ("create_pipe", "pipe", "boot_vm"),  # a step of another flow
        ("create_pipe", "pipe", ["create_pipe", "nope"]),
        ("delete_vm", "vm", []),
        ("delete_vm", "vm", 3),
        ("delete_vm", "vm", ["release_host", 1]),
        ("delete_vm", "vm", {"step": "release_host"}),
    ],
)
def test_fail_at_must_name_steps_of_the_flow(bus, task_type, resource_type, fail_at):
    params = {"bandwidth_mbps": 10} if task_type == "create_pipe" else {}
    with pytest.raises(InvalidInput) as error:
        operation_place(
            customer_id="c1",
            task_type=task_type,
            resource_type=resource_type,
            resource_id="r1",
            params={**params, "fail_at": fail_at},
        )
    assert error.value.field == "params.fail_at"
    assert not ResUserOperation.objects.exists()
    assert bus.sent == []


def test_fail_at_is_taken_by_every_flow_as_a_list_of_its_names(bus, cpu_type):
    operation = operation_place(
        customer_id="c1",
        task_type="create_vm",
        resource_type="vm",
        resource_id="vm-fail",
        params=vm_params(cpu_type, fail_at="create_disk"),
    )
    assert operation.params["fail_at"] == ["create_disk"]
    operation = operation_place(
        customer_id="c1",
        task_type="delete_vm",
        resource_type="vm",
        resource_id="vm-fail",
        params={"fail_at": ["delete_vm", "detach_nics", "delete_vm"]},
    )
    assert operation.params["fail_at"] == ["delete_vm", "detach_nics"]
