"""The workflow_task admin: progress bar, status colours, readable JSON, filters, the plan inline."""

import pytest
from django.urls import reverse

from coretasker.interface import submit

from .conftest import VM_SPEC, make_request

pytestmark = pytest.mark.django_db


def test_change_page_shows_the_plan_in_order_and_readable_json(admin_client_logged_in):
    answer = submit(make_request("create_vm", "vm-adm", fail_at="create_disk", **VM_SPEC))
    page = admin_client_logged_in.get(reverse("admin:coretasker_workflowtask_change", args=[answer.workflow_task_id]))
    html = page.content.decode()
    assert page.status_code == 200
    plan = html[html.lower().index("plan (workflow subtasks, in plan order)") :]
    assert plan.index("allocate_host") < plan.index("create_disk") < plan.index("boot_vm")
    assert "&quot;code&quot;: &quot;simulated_failure&quot;" in html  # pretty-printed result
    assert "simulated_failure: failure requested at step create_disk" in html
    assert "#dc3545" in html  # the ERROR colour


def test_changelist_shows_progress_and_filters(admin_client_logged_in):
    submit(make_request("create_vm", "vm-ok", customer_id="cust-9", **VM_SPEC))
    submit(make_request("create_pipe", "pipe-x", customer_id="cust-8", bandwidth_mbps=10))
    url = reverse("admin:coretasker_workflowtask_changelist")
    html = admin_client_logged_in.get(url).content.decode()
    assert 'title="100%"' in html and "#198754" in html
    for query in ("target_type__exact=vm", "status__exact=DONE", "site_id=cn-east-1", "customer_id=cust-9", "queue="):
        assert admin_client_logged_in.get(f"{url}?{query}").status_code == 200
    filtered = admin_client_logged_in.get(f"{url}?customer_id=cust-9").content.decode()
    assert "vm-ok" in filtered and "pipe-x" not in filtered


def test_simulated_inventory_is_browsable_and_labelled(admin_client_logged_in):
    index = admin_client_logged_in.get(reverse("admin:index")).content.decode()
    assert "Simulated cloud (simulation" in index
    hosts = admin_client_logged_in.get(reverse("admin:simcloud_simhost_changelist")).content.decode()
    assert "sim-east1-h01" in hosts
