"""confirmed_action: intermediate page with a reason, per-row report, admin log, permissions, double clicks."""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from orders.models import ShopSuborderRenewal
from tasks.models import CloudTaskSubtask

from .site import RenewalAdmin, site

pytestmark = [pytest.mark.django_db, pytest.mark.urls("console.tests.urls")]


def renewals_url():
    return reverse("testadmin:orders_shopsuborderrenewal_changelist")


def subtasks_url():
    return reverse("testadmin:tasks_cloudtasksubtask_changelist")


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def post_action(client, url, action, ids, **extra):
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids], **extra})


@pytest.fixture
def ops_client(client, user_in_role):
    client.force_login(user_in_role("Ops"))
    return client


def test_first_post_shows_the_rows_and_asks_for_a_reason(ops_client, make_renewal):
    renewals = [make_renewal(), make_renewal()]
    response = post_action(ops_client, renewals_url(), "mark_valid", [r.pk for r in renewals], index="0")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Mark renewal valid will run for these 2 rows" in page
    assert 'name="reason"' in page and "required" in page
    for renewal in renewals:
        assert str(renewal) in page
        assert f'name="_selected_action" value="{renewal.pk}"' in page
    assert not ShopSuborderRenewal.objects.filter(is_valid=True).exists()
    assert not LogEntry.objects.exists()


def test_confirming_without_a_reason_changes_nothing(ops_client, make_renewal):
    renewal = make_renewal()
    response = post_action(ops_client, renewals_url(), "mark_valid", [renewal.pk], confirm="yes", reason="  ")
    assert response.status_code == 200
    assert "A reason is required." in response.content.decode()
    renewal.refresh_from_db()
    assert renewal.is_valid is False
    assert not LogEntry.objects.exists()


def test_confirming_runs_each_row_reports_it_and_logs_the_reason(ops_client, make_renewal):
    renewals = [make_renewal(), make_renewal()]
    response = post_action(
        ops_client, renewals_url(), "mark_valid", [r.pk for r in renewals], confirm="yes", reason="balance topped up"
    )
    assert response.status_code == 302
    assert ShopSuborderRenewal.objects.filter(is_valid=True).count() == 2
    lines = messages_of(response)
    for renewal in renewals:
        assert f"{renewal}: done (by ops)" in lines
    assert "Mark renewal valid: done for 2 rows, skipped 0." in lines
    entries = LogEntry.objects.order_by("object_id")
    assert [(int(e.object_id), e.action_flag, e.user.username) for e in entries] == sorted(
        (r.pk, CHANGE, "ops") for r in renewals
    )
    assert all(e.get_change_message() == "Mark renewal valid: balance topped up (by ops)" for e in entries)


def test_rows_the_service_refuses_are_skipped_with_the_reason(ops_client, make_renewal):
    fresh, already = make_renewal(), make_renewal(is_valid=True)
    response = post_action(
        ops_client, renewals_url(), "mark_valid", [fresh.pk, already.pk], confirm="yes", reason="fixed"
    )
    lines = messages_of(response)
    assert f"{already}: skipped, already valid" in lines
    assert f"{fresh}: done (by ops)" in lines
    assert "Mark renewal valid: done for 1 row, skipped 1." in lines
    assert [int(e.object_id) for e in LogEntry.objects.all()] == [fresh.pk]


def test_a_double_click_runs_the_service_once(ops_client, make_renewal):
    renewal = make_renewal()
    data = {"confirm": "yes", "reason": "fixed by hand"}
    first = post_action(ops_client, renewals_url(), "mark_valid", [renewal.pk], **data)
    second = post_action(ops_client, renewals_url(), "mark_valid", [renewal.pk], **data)
    assert first.status_code == second.status_code == 302
    assert f"{renewal}: skipped, already valid" in messages_of(second)
    assert LogEntry.objects.count() == 1


def test_the_confirm_button_disables_itself_on_submit(ops_client, make_renewal):
    renewal = make_renewal()
    page = post_action(ops_client, renewals_url(), "mark_valid", [renewal.pk]).content.decode()
    assert "onsubmit=\"this.querySelector('[type=submit]').disabled = true;\"" in page


@pytest.mark.parametrize("role", ["Finance", "Auditor"])
def test_without_the_permission_the_action_is_neither_shown_nor_run(client, user_in_role, make_renewal, role):
    client.force_login(user_in_role(role))
    renewal = make_renewal()
    changelist = client.get(renewals_url())
    assert changelist.status_code == 200
    assert 'value="mark_valid"' not in changelist.content.decode()
    for extra in ({"index": "0"}, {"confirm": "yes", "reason": "let me in"}):
        response = post_action(client, renewals_url(), "mark_valid", [renewal.pk], **extra)
        assert "will run for" not in response.content.decode()
    renewal.refresh_from_db()
    assert renewal.is_valid is False
    assert not LogEntry.objects.exists()


def test_the_action_itself_refuses_a_user_without_the_permission(user_in_role, make_renewal):
    request = RequestFactory().post("/", {"confirm": "yes", "reason": "direct call"})
    request.user = user_in_role("Auditor")
    action = RenewalAdmin.actions[0]
    with pytest.raises(PermissionDenied):
        action(site._registry[ShopSuborderRenewal], request, ShopSuborderRenewal.objects.all())


def test_ops_sees_the_action_on_the_changelist(ops_client, make_renewal):
    make_renewal()
    assert 'value="mark_valid"' in ops_client.get(renewals_url()).content.decode()


def test_preview_and_force_checkbox_are_shown(ops_client, make_task):
    task = make_task("ERROR", [("create_vm", "ERROR", 40)])
    subtask = task.subtasks.get()
    page = post_action(ops_client, subtasks_url(), "retry", [subtask.pk]).content.decode()
    assert "Runs again" in page and "create_vm" in page
    assert "Coretasker busy" in page and "yes" in page
    assert 'name="force"' in page and "Retry even if coreTasker is still working" in page
    assert "Reason (optional" in page


def test_service_refusal_without_force_and_success_with_it(ops_client, make_task):
    task = make_task("ERROR", [("create_vm", "ERROR", 40)])
    subtask = task.subtasks.get()
    refused = post_action(ops_client, subtasks_url(), "retry", [subtask.pk], confirm="yes", reason="")
    assert f"{subtask}: skipped, coreTasker is still working on it" in messages_of(refused)
    assert CloudTaskSubtask.objects.get(pk=subtask.pk).status == "ERROR"
    forced = post_action(
        ops_client, subtasks_url(), "retry", [subtask.pk], confirm="yes", reason="host reset", force="yes"
    )
    assert forced.status_code == 302
    assert CloudTaskSubtask.objects.get(pk=subtask.pk).status == "NEW"
    assert LogEntry.objects.get().get_change_message() == "Retry subtask: host reset [forced]"


def test_select_across_acts_on_every_filtered_row(ops_client, make_task):
    failed = [make_task("ERROR", [("create_vm", "ERROR", 0)]).subtasks.get() for _ in range(3)]
    untouched = make_task("DOING", [("create_vm", "DOING", 0)]).subtasks.get()
    url = subtasks_url() + "?status__exact=ERROR"
    page = ops_client.post(
        url, {"action": "retry", "_selected_action": [str(failed[0].pk)], "select_across": "1", "index": "0"}
    )
    assert "these 3 rows" in page.content.decode()
    assert 'name="select_across" value="1"' in page.content.decode()
    response = ops_client.post(
        url,
        {"action": "retry", "_selected_action": [str(failed[0].pk)], "select_across": "1", "confirm": "yes"},
    )
    assert response.status_code == 302
    assert CloudTaskSubtask.objects.filter(pk__in=[s.pk for s in failed], status="NEW").count() == 3
    assert CloudTaskSubtask.objects.get(pk=untouched.pk).status == "DOING"
