"""The console in a real browser: Playwright for Python driving Debian's Chromium headless.

Skipped with a reason where Chromium or Playwright is missing, except in CI
(``CI=true``), where their absence fails the run. Never downloads a browser:
``executable_path`` points at the system's Chromium. Screenshots of the dashboard
and of a task timeline land in ``test-output/`` (git-ignored).
"""

from __future__ import annotations

import io
import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
OUTPUT = Path(settings.BASE_DIR) / "test-output"
PASSWORD = "pw-for-tests"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)"
    return None


MISSING = _missing()
if MISSING and IN_CI:
    raise RuntimeError(f"browser tests must run in CI: {MISSING}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    # serialized_rollback makes Django keep a copy of what the migrations loaded; the
    # reference_data fixture below puts it back after other transactional tests' flushes.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(scope="session")
def migrated_contents(django_db_setup):
    """The rows the migrations loaded (CPU types, billing items, groups), as Django serialized them.

    Read before Playwright starts: its event loop gives this thread a fresh set of
    database connection objects, without the copy Django keeps on the first one.
    """
    from django.db import connections

    return getattr(connections["default"], "_test_serialized_contents", None)


@pytest.fixture
def reference_data(migrated_contents, transactional_db):
    """Transactional tests end with a flush; put back what the migrations loaded."""
    from django.db import connection

    if migrated_contents:
        # Start from exactly what the migrations left: no rows a post_migrate handler
        # made again after an earlier flush, under other ids.
        call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
        connection.creation.deserialize_db_from_string(migrated_contents)


@pytest.fixture(scope="module")
def browser(migrated_contents):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls made by
    # the tests between browser steps are plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
    yield browser
    browser.close()
    manager.stop()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_data(reference_data, roles):
    """The demo data set plus a day of tasks, so the dashboard has something to draw."""
    from tasks.models import CloudTask

    call_command("seed_demo", stdout=io.StringIO())
    rng = random.Random(3)
    now = timezone.now()
    statuses = ["DONE"] * 8 + ["ERROR", "DOING", "NEW", "CANCELLED"]
    tasks = CloudTask.objects.bulk_create(
        CloudTask(
            task_type=rng.choice(["create_vm", "resize_vm", "attach_nic"]),
            customer_id=f"cust-{rng.randrange(100)}",
            resource_type="vm",
            resource_id=f"vm-{n}",
            status=rng.choice(statuses),
        )
        for n in range(160)
    )
    for task in tasks:
        CloudTask.objects.filter(pk=task.pk).update(created_at=now - timedelta(minutes=rng.randrange(24 * 60)))


def login(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def screenshot(page, name):
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def test_ops_sees_the_dashboard_and_a_task_timeline(page, live_server, user_in_role, live_data):
    from tasks.models import CloudTask

    user_in_role("Ops")
    login(page, live_server, "ops")
    assert page.locator("#dash-tasks svg rect").count() > 0
    assert page.locator("#dash-errors .console-count").inner_text().strip() != "0"
    screenshot(page, "dashboard")

    failed = CloudTask.objects.filter(resource_id="vm-demo-3").get()
    page.click(f"#dash-errors a[href$='/tasks/{failed.pk}/timeline/']")
    page.wait_for_selector(".console-timeline")
    assert page.locator(".console-timeline svg rect").count() == 3
    assert "DriverRefusal" in page.locator("details.console-error summary").first.inner_text()
    assert not page.locator("details.console-error pre").first.is_visible()  # folded
    page.locator("details.console-error summary").first.click()
    assert page.locator("details.console-error pre").first.is_visible()
    screenshot(page, "timeline")


def test_ops_confirms_an_action_with_a_reason(page, live_server, reference_data, user_in_role, make_renewal, settings):
    """The confirmation page in a browser, on the confirmed_action test site (see console/tests/site.py)."""
    from django.contrib.admin.models import LogEntry

    settings.ROOT_URLCONF = "console.tests.urls"
    renewal = make_renewal()
    user_in_role("Ops")
    login(page, live_server, "ops")
    page.goto(f"{live_server.url}/testadmin/orders/shopsuborderrenewal/")
    page.check(f"input[name=_selected_action][value='{renewal.pk}']")
    page.select_option("select[name=action]", "mark_valid")
    page.click("button[name=index]")
    page.wait_for_selector("#id_reason")
    assert "will run for this row" in page.content()
    page.fill("#id_reason", "customer paid by bank transfer")
    page.click("input[type=submit][value='Yes, I am sure']")
    page.wait_for_selector("ul.messagelist")
    assert f"{renewal}: done".lower() in page.locator("ul.messagelist").text_content().lower()
    renewal.refresh_from_db()
    assert renewal.is_valid is True
    assert "customer paid by bank transfer" in LogEntry.objects.get().get_change_message()


def test_finance_filters_renewal_logs_and_has_no_retry_action(page, live_server, user_in_role, live_data):
    user_in_role("Finance")
    login(page, live_server, "finance")
    page.goto(f"{live_server.url}/admin/orders/shoprenewallog/")
    rows_before = page.locator("#result_list tbody tr").count()
    page.click("#changelist-filter a[href*='outcome__exact=failed']")
    page.wait_for_url("**outcome__exact=failed**")
    rows = page.locator("#result_list tbody tr")
    assert 0 < rows.count() < rows_before
    assert all("failed" in rows.nth(i).inner_text() for i in range(rows.count()))

    with page.expect_download() as download_info:
        page.click("a.exportlink")
    csv_text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    lines = [line for line in csv_text.splitlines() if line.strip()]
    assert len(lines) == rows.count() + 1  # the header, then exactly the filtered rows
    assert all("failed" in line for line in lines[1:])

    page.goto(f"{live_server.url}/admin/tasks/cloudtasksubtask/")
    assert page.locator("#result_list").count() == 1  # finance reads tasks
    options = page.locator("select[name=action] option").all_inner_texts()
    assert not any("retry" in option.lower() for option in options)


def test_switching_to_chinese_translates_the_labels(page, live_server, user_in_role, live_data):
    user_in_role("Auditor")
    login(page, live_server, "auditor")
    assert "Cloud operations platform" in page.locator("#site-name").inner_text()
    with page.expect_navigation():
        page.select_option("#language-select", "zh-hans")
    assert "云运维平台" in page.locator("#site-name").inner_text()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.goto(f"{live_server.url}/admin/coretasker/workflowtask/")
    assert "底层主任务" in page.content()


@pytest.fixture
def worker(reference_data, tmp_path):
    """A real Celery worker (the tasker's test harness) on this test's database; stopped by its PID."""
    from tasks.tests import corestub
    from tasks.tests.worker import Worker, purge_queues

    if not corestub.real_coretasker_present():
        corestub.install()  # this process asks coreTasker for lookups too
    purge_queues()
    started = Worker(concurrency=2, log_path=tmp_path / "worker.log").start()
    yield started
    started.stop()
    print((tmp_path / "worker.log").read_text(errors="replace")[-5000:])


def _place(task_type, resource_id, **params):
    from tasks.services import operation_place

    return operation_place(
        customer_id="cust-browser",
        task_type=task_type,
        resource_type="vm",
        resource_id=resource_id,
        site_id="cn-east-1",
        params=params,
    )


def test_ops_retries_a_failed_subtask_through_the_confirmation_page_and_sees_it_done(
    page, live_server, reference_data, user_in_role, worker
):
    from django.contrib.admin.models import LogEntry

    from coretasker.models import CpuTypeTpl
    from tasks.models import CloudTask, CloudTaskSubtask, OperationStatus, ResUserOperation, SubtaskStatus, TaskStatus
    from tasks.tests.worker import wait_for

    # A real failure through the pipeline: the simulated cloud refuses to start a VM it does not have.
    failing = _place("start_vm", "vm-browser")
    assert wait_for(
        lambda: CloudTask.objects.filter(operation=failing, status=TaskStatus.ERROR).exists(),
        timeout=120,
        worker=worker,
    )
    task = CloudTask.objects.get(operation=failing)
    subtask = CloudTaskSubtask.objects.get(task=task)
    assert subtask.status == SubtaskStatus.ERROR
    # The cause goes away (the VM is made), so a person's retry can succeed.
    cpu_code = CpuTypeTpl.objects.order_by("code").values_list("code", flat=True).first()
    created = _place("create_vm", "vm-browser", cpu_type=cpu_code, cpu=1, memory_gb=1, disk_gb=10)
    assert wait_for(
        lambda: ResUserOperation.objects.get(pk=created.pk).task_status == OperationStatus.DONE,
        timeout=120,
        worker=worker,
    )

    user_in_role("Ops")
    login(page, live_server, "ops")
    page.goto(f"{live_server.url}/admin/console/tasks/{task.pk}/timeline/")
    row = page.locator(f"#subtask-{subtask.pk}")
    assert str(SubtaskStatus.ERROR.label) in row.locator(".console-status").first.inner_text()
    row.locator("button[value=retry_subtask]").click()
    page.wait_for_selector("#id_reason")
    assert "start_vm" in page.content()  # the retry preview beside the row
    page.fill("#id_reason", "the VM exists now")
    page.click("input[type=submit][value='Yes, I am sure']")
    page.wait_for_selector("ul.messagelist")
    assert ": done" in page.locator("ul.messagelist").text_content().lower()

    # The worker runs the retry; the timeline shows the subtask DONE (polled, bounded).
    def done_on_the_page():
        page.goto(f"{live_server.url}/admin/console/tasks/{task.pk}/timeline/")
        status = page.locator(f"#subtask-{subtask.pk} .console-status").first.inner_text()
        return status.strip() == str(SubtaskStatus.DONE.label)

    assert wait_for(done_on_the_page, timeout=120, interval=1.0, worker=worker)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert ResUserOperation.objects.get(pk=failing.pk).task_status == OperationStatus.DONE
    assert "the VM exists now" in LogEntry.objects.get(object_id=str(subtask.pk)).get_change_message()
    screenshot(page, "timeline-retried")
