"""The flow registry: complete, every action known to coreTasker, checked at start-up."""

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from coretasker.interface import known_actions
from tasks import flows
from tasks.flows import ASYNC, FLOWS, OperationType, Step, validate_registry

REQUIRED = [
    "create_vm",
    "delete_vm",
    "start_vm",
    "stop_vm",
    "reboot_vm",
    "resize_vm",
    "create_nic",
    "delete_nic",
    "create_pipe",
    "set_bandwidth",
]


def test_every_required_operation_type_has_a_flow_of_known_actions():
    assert set(REQUIRED) <= set(FLOWS)
    for flow in FLOWS.values():
        assert flow.steps
        assert {step.action for step in flow.steps} <= known_actions()
    validate_registry()


def test_create_vm_runs_start_and_bandwidth_in_parallel_after_creation():
    steps = FLOWS["create_vm"].steps
    assert [(s.action, s.group, s.mode) for s in steps] == [
        ("create_vm", 1, "async"),
        ("start_vm", 2, "async"),
        ("set_bandwidth", 2, "sync"),
    ]


def test_an_unknown_action_is_refused():
    bad = {"x": OperationType(resource_types=("vm",), steps=(Step("format_disk", ASYNC),))}
    with pytest.raises(ImproperlyConfigured, match="format_disk"):
        validate_registry(bad)


@pytest.mark.parametrize(
    "steps,message",
    [
        ((), "no steps"),
        ((Step("start_vm", group=2),), "groups"),
        ((Step("start_vm", group=1), Step("stop_vm", group=3), Step("reboot_vm", group=2)), "groups"),
        ((Step("start_vm", mode="later"),), "mode"),
        ((Step("start_vm", attempts=0),), "attempts"),
    ],
)
def test_malformed_flows_are_refused(steps, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        validate_registry({"x": OperationType(resource_types=("vm",), steps=steps)})


def test_start_up_fails_when_a_flow_names_an_unknown_action(monkeypatch):
    broken = {**FLOWS, "create_vm": OperationType(resource_types=("vm",), steps=(Step("launch_rocket"),))}
    monkeypatch.setattr(flows, "FLOWS", broken)
    with pytest.raises(ImproperlyConfigured, match="launch_rocket"):
        apps.get_app_config("tasks").ready()


def test_flows_page_shows_the_registry_read_only(admin_client_logged_in):
    from django.urls import reverse

    response = admin_client_logged_in.get(reverse("admin:tasks_flows"))
    assert response.status_code == 200
    body = response.content.decode()
    for name in REQUIRED:
        assert f'id="flow-{name}"' in body
    assert "<form" not in body.split('id="content"')[-1].split("</table>")[0]
    changelist = admin_client_logged_in.get(reverse("admin:tasks_cloudtask_changelist")).content.decode()
    assert reverse("admin:tasks_flows") in changelist
