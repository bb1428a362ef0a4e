"""The dashboard on the admin's index page: what ops and finance look at first.

Every figure is one aggregate query that an index answers (the tables hold
millions of tasks): each queryset below filters on the leading columns of an
index declared on its model, and lists are cut to a few rows. The number of
queries does not depend on the number of rows. ``dashboard_querysets`` exposes
them so the tests can check their query plans and the benchmark can time them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from orders.models import (
    OrderFailReason,
    OrderStatus,
    RenewalStatus,
    ShopOrder,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from tasks.models import CloudTask, CloudTaskSubtask, SubtaskStatus, TaskStatus

from . import charts
from .queues import queue_depths

LISTED = 8  # rows listed under each figure
HOURS = 24
RENEWAL_WINDOW = timedelta(days=7)
FAILED_ORDERS_WINDOW = timedelta(days=7)


def since_hour(now: datetime) -> datetime:
    """Start of the first of the 24 hourly buckets ending with the current hour (local time)."""
    return timezone.localtime(now).replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)


def hour_buckets(now: datetime) -> list[datetime]:
    start = since_hour(now)
    return [start + timedelta(hours=h) for h in range(HOURS)]


def tasks_per_hour_queryset(*, now: datetime) -> QuerySet:
    """One row per status with 24 hourly counts ``h0``..``h23``.

    Plain range comparisons rather than a date truncation: no per-row function
    call (SQLite runs Django's in Python) and no time zone tables needed.
    ``status IN (every status)`` lets the (status, created_at) index serve the range.
    """
    buckets = hour_buckets(now)
    counts = {
        f"h{index}": Count("id", filter=Q(created_at__gte=start, created_at__lt=start + timedelta(hours=1)))
        for index, start in enumerate(buckets)
    }
    return (
        CloudTask.objects.filter(status__in=TaskStatus.values, created_at__gte=buckets[0])
        .values("status")
        .annotate(**counts)
        .order_by()
    )


def tasks_in_error_queryset() -> QuerySet:
    return CloudTask.objects.filter(status=TaskStatus.ERROR).order_by("-created_at")


def async_overdue_queryset(*, now: datetime) -> QuerySet:
    return CloudTaskSubtask.objects.filter(status=SubtaskStatus.ASYNC, deadline__lt=now).order_by("deadline")


def renewals_due_queryset(*, now: datetime) -> QuerySet:
    # ``auto_renew=True`` compiles to a bare ``WHERE auto_renew``, which no index serves;
    # ``IN (true)`` is an equality the (auto_renew, expire_at) index answers.
    return ShopSubOrder.objects.filter(
        auto_renew__in=[True], expire_at__gte=now, expire_at__lt=now + RENEWAL_WINDOW, status=SubOrderStatus.ACTIVE
    ).order_by("expire_at")


def renewals_failed_queryset() -> QuerySet:
    return ShopSuborderRenewal.objects.filter(status=RenewalStatus.FAILED, is_valid__in=[False]).order_by(
        "next_retry_at"
    )


def orders_failed_queryset(*, now: datetime) -> QuerySet:
    return (
        ShopOrder.objects.filter(status=OrderStatus.FAILED, created_at__gte=now - FAILED_ORDERS_WINDOW)
        .values("fail_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "fail_reason")
    )


def dashboard_querysets(*, now: datetime) -> dict[str, QuerySet]:
    """Every query the dashboard runs, by name (for query-plan tests and the benchmark)."""
    return {
        "tasks_per_hour": tasks_per_hour_queryset(now=now),
        "tasks_in_error": tasks_in_error_queryset(),
        "async_overdue": async_overdue_queryset(now=now),
        "renewals_due": renewals_due_queryset(now=now),
        "renewals_failed": renewals_failed_queryset(),
        "orders_failed": orders_failed_queryset(now=now),
    }


def dashboard_build(*, user, now: datetime | None = None, with_queues: bool = True) -> dict:
    """The dashboard's sections the user may see, each with its figures, links and chart."""
    now = now or timezone.now()
    sections: dict = {"now": now}
    if user.has_perm("tasks.view_cloudtask"):
        sections["tasks"] = _tasks_section(now)
        sections["errors"] = _listed(
            tasks_in_error_queryset().only("id", "task_type", "status", "resource_type", "resource_id", "created_at"),
            changelist=_changelist("tasks", "cloudtask", status__exact=TaskStatus.ERROR),
        )
        if with_queues:
            sections["queues"] = _queues_section()
    if user.has_perm("tasks.view_cloudtasksubtask"):
        sections["async_overdue"] = _listed(
            async_overdue_queryset(now=now).only("id", "task_id", "step", "action", "status", "deadline"),
            changelist=_changelist("tasks", "cloudtasksubtask", status__exact=SubtaskStatus.ASYNC),
        )
    if user.has_perm("orders.view_shopsuborder"):
        sections["renewals_due"] = _listed(
            renewals_due_queryset(now=now).only(
                "id", "order_id", "customer_id", "resource_type", "resource_id", "expire_at"
            ),
            changelist=_changelist("orders", "shopsuborder", auto_renew__exact=1),
        )
    if user.has_perm("orders.view_shopsuborderrenewal"):
        sections["renewals_failed"] = _listed(
            renewals_failed_queryset().only("id", "suborder_id", "period_start", "fail_reason", "amount", "currency"),
            changelist=_changelist(
                "orders", "shopsuborderrenewal", status__exact=RenewalStatus.FAILED, is_valid__exact=0
            ),
        )
    if user.has_perm("orders.view_shoporder"):
        sections["orders_failed"] = _orders_failed_section(now)
    return sections


def _tasks_section(now: datetime) -> dict:
    buckets = hour_buckets(now)
    start = buckets[0]
    values: dict[tuple[datetime, str], int] = {}
    totals = dict.fromkeys(TaskStatus.values, 0)
    for row in tasks_per_hour_queryset(now=now):
        for index, hour in enumerate(buckets):
            values[(hour, row["status"])] = row[f"h{index}"]
            totals[row["status"]] += row[f"h{index}"]
    series = [charts.Series(value, str(label), charts.status_colour(value)) for value, label in TaskStatus.choices]
    chart = charts.stacked_columns(
        label=_("Tasks created per hour over the last 24 hours, by status"),
        buckets=[(hour, timezone.localtime(hour).strftime("%H:00")) for hour in buckets],
        series=series,
        values=values,
        width=1100,
        height=180,
    )
    since = timezone.localtime(start).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "chart": chart,
        "total": sum(totals.values()),
        "totals": [
            {
                "status": value,
                "label": label,
                "count": totals[value],
                "colour": charts.status_colour(value),
                "url": _changelist("tasks", "cloudtask", status__exact=value, created_at__gte=since),
            }
            for value, label in TaskStatus.choices
        ],
    }


def _orders_failed_section(now: datetime) -> dict:
    labels = dict(OrderFailReason.choices)
    rows = list(orders_failed_queryset(now=now))
    items = [(str(labels.get(row["fail_reason"], row["fail_reason"] or _("no reason"))), row["n"]) for row in rows]
    chart = charts.horizontal_bars(
        label=_("Orders failed in the last 7 days, by reason"),
        items=[(label, count, charts.status_colour("ERROR")) for label, count in items],
        width=400,
        label_width=140,
    )
    return {
        "chart": chart,
        "total": sum(count for _, count in items),
        "url": _changelist("orders", "shoporder", status__exact=OrderStatus.FAILED),
    }


def _queues_section() -> dict:
    depths = queue_depths()
    known = [d for d in depths if d.messages is not None]
    chart = charts.horizontal_bars(
        label=_("Messages waiting in the tasker queues"),
        items=[(d.name, d.messages, charts.status_colour("DOING")) for d in known],
        label_width=190,
        width=400,
    )
    return {"depths": depths, "chart": chart, "any_known": bool(known)}


def _listed(queryset: QuerySet, *, changelist: str) -> dict:
    return {"count": queryset.count(), "rows": list(queryset[:LISTED]), "url": changelist}


def _changelist(app_label: str, model_name: str, **filters) -> str:
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url
