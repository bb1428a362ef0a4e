"""The dashboard on the admin's index: figures, links, per-role sections, constant queries, indexed plans."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.dashboard import dashboard_build, dashboard_querysets
from console.queues import QueueDepth
from orders.models import OrderFailReason, OrderStatus, ShopOrder
from tasks.models import CloudTask, CloudTaskSubtask

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Queue depth is the outside world: answer it without a broker unless a test asks for one."""
    monkeypatch.setattr(
        "console.dashboard.queue_depths",
        lambda: [QueueDepth("queue_operation_task_V3", 7, 1), QueueDepth("queue_subtask_V3", None, None)],
    )


def _order(n, *, status=OrderStatus.FAILED, reason=OrderFailReason.NO_CAPACITY, age=timedelta(hours=1)):
    order = ShopOrder.objects.create(order_no=f"D-{n}", customer_id="c", status=status, fail_reason=reason)
    ShopOrder.objects.filter(pk=order.pk).update(created_at=timezone.now() - age)
    return order


def _subtask_async(task, step, *, deadline):
    return CloudTaskSubtask.objects.create(task=task, step=step, action="wait_vm", status="ASYNC", deadline=deadline)


def test_figures_match_the_rows(superuser, make_task, make_renewal):
    now = timezone.now()
    make_task("DONE")
    make_task("DONE")
    error = make_task("ERROR")
    make_task("ERROR", created_at=now - timedelta(days=3))  # in ERROR, but not in the last 24 hours
    doing = make_task("DOING")
    late = _subtask_async(doing, 1, deadline=now - timedelta(minutes=5))
    _subtask_async(doing, 2, deadline=now + timedelta(minutes=5))
    make_renewal(expire_in=timedelta(days=2))
    make_renewal(expire_in=timedelta(days=10))
    make_renewal(is_valid=True)
    _order(1)
    _order(2)
    _order(3, reason=OrderFailReason.PROGRAM_ERROR)
    _order(4, age=timedelta(days=30))
    _order(5, status=OrderStatus.SUCCEEDED, reason="")

    board = dashboard_build(user=superuser, now=now)

    totals = {t["status"]: t["count"] for t in board["tasks"]["totals"]}
    assert totals == {"NEW": 0, "DOING": 1, "DONE": 2, "ERROR": 1, "CANCELLED": 0}
    assert board["tasks"]["total"] == 4
    assert sum(1 for r in board["tasks"]["chart"].rects) == 3  # one column this hour, three statuses in it
    assert board["errors"]["count"] == 2 and board["errors"]["rows"][0].pk == error.pk
    assert [s.pk for s in board["async_overdue"]["rows"]] == [late.pk]
    assert board["renewals_due"]["count"] == 0  # sub-orders of the fixture are not ACTIVE
    assert board["renewals_failed"]["count"] == 2
    assert board["orders_failed"]["total"] == 3
    bars = {t.text for t in board["orders_failed"]["chart"].texts}
    assert {"no capacity", "program error", "2", "1"} <= bars


def test_renewals_due_counts_active_auto_renewing_suborders_in_the_window(superuser, make_renewal):
    from orders.models import ShopSubOrder

    due = make_renewal(expire_in=timedelta(days=2)).suborder
    later = make_renewal(expire_in=timedelta(days=9)).suborder
    ShopSubOrder.objects.filter(pk__in=[due.pk, later.pk]).update(status="ACTIVE")
    board = dashboard_build(user=superuser)
    assert [s.pk for s in board["renewals_due"]["rows"]] == [due.pk]


def test_index_page_shows_the_dashboard_with_links(admin_client_logged_in, make_task):
    task = make_task("ERROR")
    page = admin_client_logged_in.get(reverse("admin:index")).content.decode()
    assert 'id="dash-tasks"' in page and "<svg" in page
    assert reverse("console:task_timeline", args=[task.pk]) in page
    assert "/admin/tasks/cloudtask/?status__exact=ERROR" in page
    assert "queue_operation_task_V3" in page and "unknown" in page
    assert 'class="app-tasks module' in page  # the app list is still there


def test_sections_follow_the_users_permissions(client, user_in_role, django_user_model, make_task):
    from django.contrib.auth.models import Permission

    make_task("ERROR")

    def shown_to(user):
        client.force_login(user)
        page = client.get(reverse("admin:index")).content.decode()
        return {section for section in SECTIONS if f'id="{section}"' in page}

    assert shown_to(user_in_role(None)) == set()
    for role in ("Ops", "Finance", "Auditor"):
        assert shown_to(user_in_role(role)) == set(SECTIONS), role
    orders_only = django_user_model.objects.create_user("orders-only", is_staff=True)
    orders_only.user_permissions.add(Permission.objects.get(codename="view_shoporder"))
    assert shown_to(orders_only) == {"dash-orders-failed"}
    tasks_only = django_user_model.objects.create_user("tasks-only", is_staff=True)
    tasks_only.user_permissions.add(Permission.objects.get(codename="view_cloudtask"))
    assert shown_to(tasks_only) == {"dash-tasks", "dash-errors", "dash-queues"}


SECTIONS = [
    "dash-tasks",
    "dash-errors",
    "dash-async-overdue",
    "dash-queues",
    "dash-renewals-due",
    "dash-renewals-failed",
    "dash-orders-failed",
]


def test_query_count_does_not_grow_with_rows(admin_client_logged_in, make_task, make_renewal):
    make_task("ERROR")
    make_renewal()
    _order(1)
    with CaptureQueriesContext(connection) as small:
        assert admin_client_logged_in.get(reverse("admin:index")).status_code == 200
    now = timezone.now()
    for n in range(30):
        task = make_task(["ERROR", "DONE", "DOING"][n % 3])
        _subtask_async(task, 1, deadline=now - timedelta(minutes=n + 1))
        make_renewal()
        _order(100 + n, reason=list(OrderFailReason.values)[n % 4])
    with CaptureQueriesContext(connection) as large:
        assert admin_client_logged_in.get(reverse("admin:index")).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


def test_query_plans_use_indexes():
    now = timezone.now()
    for name, queryset in dashboard_querysets(now=now).items():
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                details = [row[3] for row in cursor.fetchall()]
                scans = [d for d in details if d.startswith("SCAN ") and "TEMP" not in d]
                assert not scans, f"{name}: full scan in {details}"
                assert any(" USING " in d and "INDEX" in d for d in details), f"{name}: {details}"
            elif connection.vendor == "mysql":
                cursor.execute("EXPLAIN " + sql, params)
                columns = [c[0] for c in cursor.description]
                for row in cursor.fetchall():
                    plan = dict(zip(columns, row, strict=True))
                    # Tiny test tables may be read whole; what matters is that an index applies.
                    assert plan["possible_keys"], f"{name}: no index applies to {plan}"
            else:
                pytest.skip(f"no plan check for {connection.vendor}")


def test_queue_depth_unknown_when_the_broker_does_not_answer(monkeypatch):
    from console import queues

    class Refusing:
        def connection_for_read(self, **kwargs):
            raise ConnectionRefusedError("refused")

    monkeypatch.setattr("opsplatform.celery.app", Refusing())
    depths = queues.queue_depths()
    assert [d.name for d in depths] == ["queue_operation_task_V3", "queue_subtask_V3", "queue_taskdone_V3"]
    assert all(d.messages is None for d in depths)


def test_queue_depth_counts_messages_on_the_filesystem_broker(tmp_path):
    """The filesystem transport counts its message files: publish two, read two."""
    from kombu import Connection, Exchange, Queue

    from console import queues

    folders = {name: tmp_path / name for name in ("in", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["in"]),
        "data_folder_out": str(folders["in"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    with Connection("filesystem://", transport_options=options) as conn:
        queue = Queue("queue_subtask_V3", Exchange("queue_subtask_V3"), routing_key="queue_subtask_V3")
        producer = conn.Producer()
        for n in range(2):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key="queue_subtask_V3", declare=[queue])
    depths = {d.name: d.messages for d in queues.queue_depths(broker_url="filesystem://", transport_options=options)}
    assert depths["queue_subtask_V3"] == 2
    assert depths["queue_taskdone_V3"] == 0


def test_amounts_render_with_two_decimals(admin_client_logged_in, make_renewal):
    renewal = make_renewal()
    renewal.amount = Decimal("12.3456")
    renewal.save()
    assert "12.35 CNY" in admin_client_logged_in.get(reverse("admin:index")).content.decode()


def test_tasks_older_than_24_hours_are_not_in_the_chart(superuser, make_task):
    make_task("DONE", created_at=timezone.now() - timedelta(hours=30))
    board = dashboard_build(user=superuser)
    assert board["tasks"]["total"] == 0 and board["tasks"]["chart"].empty
    assert CloudTask.objects.count() == 1


@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("amqp"),
    reason="needs RabbitMQ: set CELERY_BROKER_URL=amqp://... (CI's second run does)",
)
def test_queue_depth_asks_rabbitmq_passively():
    import uuid

    from kombu import Exchange, Queue

    from console import queues
    from opsplatform.celery import app

    name = f"console-test-{uuid.uuid4().hex[:12]}"
    missing = f"{name}-never-declared"
    # Publisher confirms: each publish returns once RabbitMQ has queued the message, so the
    # count asked for next cannot race the broker's routing of the last one.
    with app.connection_for_write(transport_options={"confirm_publish": True}) as conn:
        queue = Queue(name, Exchange(name), routing_key=name, auto_delete=False)
        producer = conn.Producer()
        try:
            for n in range(3):
                producer.publish({"n": n}, exchange=queue.exchange, routing_key=name, declare=[queue])
            depths = {d.name: d.messages for d in queues.queue_depths(names=[name, missing], timeout=3)}
        finally:
            queue(conn.default_channel).delete()
            Exchange(name)(conn.default_channel).delete()
    assert depths == {name: 3, missing: None}
