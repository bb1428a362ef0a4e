"""A second driver needs nothing outside its own module: name it in settings."""

import pytest
from django.test import override_settings

from coretasker.drivers.base import Driver, DriverRefusal, get_driver
from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowSubtask, WorkflowTask

from .conftest import make_request

pytestmark = pytest.mark.django_db

CALLS = []


class EchoDriver(Driver):
    """A tiny cloud: answers query_state with what it was asked, refuses to delete anything."""

    name = "Echo test driver"
    agent = "echo"

    def query_state(self, resource_type, resource_id):
        CALLS.append((resource_type, resource_id))
        return {"resource_type": resource_type, "resource_id": resource_id, "state": "echoed", "device": "echo-1"}

    def delete_vm(self, vm_id):
        raise DriverRefusal("read_only", f"the echo cloud keeps {vm_id}")


@override_settings(CORETASKER_DRIVER="coretasker.tests.test_driver_seam.EchoDriver")
def test_a_settings_override_swaps_the_driver_for_coretasker():
    assert isinstance(get_driver(), EchoDriver)
    answer = submit(make_request("query_state", "vm-e", resource_type="vm"))
    refused = submit(make_request("delete_vm", "vm-e"))

    assert answer.status == AnswerStatus.DONE and answer.result["state"] == "echoed"
    assert CALLS[-1] == ("vm", "vm-e")
    wf = WorkflowTask.objects.get(pk=answer.workflow_task_id)
    assert (wf.run_dev, wf.site_name) == ("echo-1", "")
    assert "Echo test driver" in wf.task_info
    subtask = WorkflowSubtask.objects.get(parent=wf)
    assert (subtask.agent, subtask.params["step"], subtask.is_last) == ("echo", "query_state", True)
    assert (refused.status, refused.error_code) == (AnswerStatus.ERROR, "read_only")


def test_the_default_driver_is_the_named_simulation():
    driver = get_driver()
    assert driver.is_simulation and "Simulated cloud" in driver.name


NAMED = []


class NamingDriver(EchoDriver):
    """Names the sites its validation read; asked for any other site's name, says so."""

    def validate(self, action, params):
        return {"cn-east-1": "East, as validated"}

    def site_name(self, site_id):
        NAMED.append(site_id)
        return f"{site_id}, as asked"


@override_settings(CORETASKER_DRIVER="coretasker.tests.test_driver_seam.NamingDriver")
def test_the_site_is_named_from_the_validation_when_it_read_it():
    NAMED.clear()
    validated = submit(make_request("query_state", "vm-n", resource_type="vm", site_id="cn-east-1"))
    other = submit(make_request("query_state", "vm-n", resource_type="vm", site_id="cn-west-9"))

    assert WorkflowTask.objects.get(pk=validated.workflow_task_id).site_name == "East, as validated"
    assert WorkflowTask.objects.get(pk=other.workflow_task_id).site_name == "cn-west-9, as asked"
    assert NAMED == ["cn-west-9"]
