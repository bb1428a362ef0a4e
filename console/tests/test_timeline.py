"""A task's timeline page: bars per attempt, coreTasker work, folded tracebacks, locks, permissions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.timeline import timeline_build
from coretasker.models import WorkflowTask
from tasks.models import CloudTask, CloudTaskErrorLog

pytestmark = pytest.mark.django_db


def timeline_url(task):
    return reverse("console:task_timeline", args=[task.pk])


def _error(task, subtask, attempt, *, at, traceback="Traceback (most recent call last):\n  boom"):
    log = CloudTaskErrorLog.objects.create(
        task=task,
        subtask=subtask,
        step=subtask.step if subtask else None,
        attempt=attempt,
        error_class="DriverRefusal",
        message=f"no capacity (attempt {attempt})",
        traceback=traceback,
    )
    CloudTaskErrorLog.objects.filter(pk=log.pk).update(created_at=at)
    return log


@pytest.fixture
def retried_task(make_task):
    """Step 1 done; step 2 failed once, was retried and is running its second attempt."""
    task = make_task("DOING", [("check_spec", "DONE", 100), ("create_vm", "DOING", 40)])
    first, second = task.subtasks.order_by("step")
    second.attempts = 2
    second.started_at = timezone.now() - timedelta(minutes=2)
    second.workflow_task = WorkflowTask.objects.create(
        target_type="vm", task_type="create_vm", status="DOING", progress=40, run_dev="sim-host-2"
    )
    second.save()
    _error(task, second, 1, at=timezone.now() - timedelta(minutes=4))
    return task


def test_attempts_are_stacked_in_the_subtask_lane(retried_task):
    timeline = timeline_build(task_id=retried_task.pk)
    lanes = {lane.subtask.action: lane for lane in timeline["lanes"]}
    assert [(a.number, a.status, a.current) for a in lanes["create_vm"].attempts] == [
        (1, "ERROR", False),
        (2, "DOING", True),
    ]
    assert [a.number for a in lanes["check_spec"].attempts] == [1]
    bars = timeline["chart"].rects
    assert len(bars) == 3
    earlier = [r for r in bars if "attempt 1" in r.title and "create_vm" in r.title][0]
    assert earlier.colour.endswith("99") and "(start not recorded)" in earlier.title
    current = [r for r in bars if "attempt 2" in r.title][0]
    assert current.y > earlier.y  # stacked below the earlier attempt
    assert current.x > earlier.x


def test_page_shows_subtasks_workflow_errors_folded(admin_client_logged_in, retried_task):
    page = admin_client_logged_in.get(timeline_url(retried_task)).content.decode()
    wf = retried_task.subtasks.get(step=2).workflow_task
    assert reverse("admin:coretasker_workflowtask_change", args=[wf.pk]) in page
    assert "sim-host-2" in page and "40%" in page
    assert '<details class="console-error"' in page
    assert "<pre>Traceback (most recent call last):\n  boom</pre>" in page
    assert "no capacity (attempt 1)" in page
    assert page.count("<rect") >= 3


def test_lock_conflict_is_shown_both_ways(admin_client_logged_in, make_task):
    holder = make_task("DOING")
    blocked = make_task("ERROR")
    CloudTask.objects.filter(pk=blocked.pk).update(blocked_by=holder)
    blocked_page = admin_client_logged_in.get(timeline_url(blocked)).content.decode()
    assert f"Blocked by {holder}" in blocked_page and timeline_url(holder) in blocked_page
    holder_page = admin_client_logged_in.get(timeline_url(holder)).content.decode()
    assert f"{CloudTask.objects.get(pk=blocked.pk)} was blocked by this task." in holder_page


def test_task_level_errors_and_empty_task(admin_client_logged_in, make_task):
    task = make_task("ERROR")
    _error(task, None, 0, at=timezone.now(), traceback="")
    page = admin_client_logged_in.get(timeline_url(task)).content.decode()
    assert "Errors of the task" in page and "No traceback recorded." in page
    assert "The task has not been split into subtasks yet." in page


def test_permissions_and_missing_task(client, user_in_role, make_task):
    task = make_task("DONE")
    client.force_login(user_in_role(None))
    assert client.get(timeline_url(task)).status_code == 403
    client.force_login(user_in_role("Finance"))
    assert client.get(timeline_url(task)).status_code == 200
    assert client.get(reverse("console:task_timeline", args=[999999])).status_code == 404


def test_anonymous_users_go_to_the_login_page(client, make_task):
    response = client.get(timeline_url(make_task("DONE")))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_change_form_links_to_the_timeline(admin_client_logged_in, make_task):
    task = make_task("DONE")
    page = admin_client_logged_in.get(reverse("admin:tasks_cloudtask_change", args=[task.pk])).content.decode()
    assert timeline_url(task) in page


def test_query_count_does_not_grow_with_subtasks(admin_client_logged_in, make_task):
    small = make_task("ERROR", [("a", "DONE", 100), ("b", "ERROR", 10)])
    large = make_task("ERROR", [(f"step{n}", "DONE", 100) for n in range(12)] + [("z", "ERROR", 10)])
    for task in (small, large):
        for subtask in task.subtasks.all():
            subtask.workflow_task = WorkflowTask.objects.create(target_type="vm", task_type=subtask.action)
            subtask.save()
            _error(task, subtask, 1, at=timezone.now())
    counts = []
    for task in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client_logged_in.get(timeline_url(task)).status_code == 200
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_chinese_pages_keep_svg_numbers_unlocalised(admin_client_logged_in, retried_task):
    import re

    for url in (reverse("admin:index"), timeline_url(retried_task)):
        page = admin_client_logged_in.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert '<html lang="zh-hans"' in page
        coordinates = re.findall(r'<rect x="([^"]*)" y="([^"]*)" width="([^"]*)"', page)
        assert coordinates
        assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for triple in coordinates for value in triple)


def test_retry_buttons_for_failed_subtasks_follow_the_permission(client, user_in_role, make_task):
    task = make_task("ERROR", [("check_spec", "DONE", 100), ("create_vm", "ERROR", 40)])
    failed = task.subtasks.get(step=2)
    client.force_login(user_in_role("Ops"))
    page = client.get(timeline_url(task)).content.decode()
    if 'value="retry_subtask"' not in page:
        pytest.skip("the tasker's retry_subtask action is not registered yet")
    assert page.count('class="console-subtask-actions"') == 1  # only beside the failed subtask
    assert f'name="_selected_action" value="{failed.pk}"' in page
    confirmation = client.post(
        reverse("admin:tasks_cloudtasksubtask_changelist"),
        {"action": "retry_subtask", "_selected_action": [failed.pk], "index": "0"},
    ).content.decode()
    assert 'name="reason"' in confirmation
    client.force_login(user_in_role("Finance"))
    assert "console-subtask-actions" not in client.get(timeline_url(task)).content.decode()


def test_lock_holder_and_action_log_are_shown(admin_client_logged_in, make_task, superuser):
    from tasks.models import CloudTaskActionLog, CloudTaskResourceLock

    holder = make_task("DOING")
    waiting = make_task("ERROR")
    CloudTaskResourceLock.objects.create(resource_type="vm", resource_id="vm-1", task=holder)
    CloudTaskActionLog.objects.create(task=waiting, action="retry_task", user=superuser, reason="host back up")
    holder_page = admin_client_logged_in.get(timeline_url(holder)).content.decode()
    assert "This task holds the lock on vm:vm-1" in holder_page
    waiting_page = admin_client_logged_in.get(timeline_url(waiting)).content.decode()
    assert f"The lock on vm:vm-1 is held by task #{holder.pk}." in waiting_page
    assert "host back up" in waiting_page and "root" in waiting_page
    CloudTaskResourceLock.objects.all().delete()
    assert "No task holds the lock on vm:vm-1." in admin_client_logged_in.get(timeline_url(holder)).content.decode()
