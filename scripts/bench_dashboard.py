#!/usr/bin/env python
"""Time the admin dashboard (the index page) with N tasks in the database.

Creates a throw-away database (Django's test-database machinery: ``bench_<name>``
on MySQL/MariaDB, a temporary file on SQLite), measures the page on the empty
tables as the baseline, inserts N tasks with ``bulk_create`` (spread over 60
days, about 1/60 of them in the last 24 hours; 4% in ERROR; 1% with an ASYNC
subtask, half of those past their deadline; N/50 orders, sub-orders and
renewals), then measures again and prints the medians, their ratio, each query's
time and its plan. The database is dropped at the end.

    DJANGO_DEBUG=true .venv/bin/python scripts/bench_dashboard.py --tasks 100000
    DATABASE_URL=mysql://root@127.0.0.1:3306/opsplatform .venv/bin/python scripts/bench_dashboard.py
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks to insert (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=9, help="page loads per measurement (default 9)")
    parser.add_argument("--batch", type=int, default=5000, help="rows per bulk_create (default 5000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    database = settings.DATABASES["default"]
    tmp = None
    if connection.vendor == "sqlite":
        handle, tmp = tempfile.mkstemp(prefix="bench_dashboard_", suffix=".sqlite3")
        os.close(handle)
        database.setdefault("TEST", {})["NAME"] = tmp
    else:
        database.setdefault("TEST", {})["NAME"] = f"bench_{database['NAME']}"
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    print(f"database: {connection.vendor}, creating {database['TEST']['NAME']}")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def run(args) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-password")
    client = Client()
    client.force_login(user)

    baseline = measure(client, args.repeat)
    print(f"empty tables: median {baseline * 1000:.1f} ms over {args.repeat} loads")

    started = time.perf_counter()
    insert(args.tasks, args.batch, random.Random(args.seed))
    print(f"inserted {args.tasks:,} tasks in {time.perf_counter() - started:.1f} s")
    analyze()

    loaded = measure(client, args.repeat)
    print(f"{args.tasks:,} tasks: median {loaded * 1000:.1f} ms over {args.repeat} loads")
    print(f"ratio to empty tables: {loaded / baseline:.2f}")
    explain_each()


def measure(client, repeat: int) -> float:
    from django.urls import reverse

    url = reverse("admin:index")
    assert client.get(url).status_code == 200  # warm-up: templates, connections
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(timings)


def insert(count: int, batch: int, rng: random.Random) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from orders.models import ShopOrder, ShopSubOrder, ShopSuborderRenewal
    from tasks.models import CloudTask, CloudTaskSubtask

    now = timezone.now()
    statuses = ["DONE"] * 90 + ["ERROR"] * 4 + ["CANCELLED"] * 3 + ["DOING"] * 2 + ["NEW"]
    # auto_now_add would stamp every row "now"; the benchmark needs history.
    for model in (CloudTask, ShopOrder):
        model._meta.get_field("created_at").auto_now_add = False
    made = 0
    while made < count:
        size = min(batch, count - made)
        tasks = []
        for _ in range(size):
            created = now - timedelta(seconds=rng.randrange(60 * 86400))
            tasks.append(
                CloudTask(
                    task_type=rng.choice(["create_vm", "resize_vm", "attach_nic", "set_bandwidth"]),
                    customer_id=f"cust-{rng.randrange(5000)}",
                    resource_type="vm",
                    resource_id=f"vm-{rng.randrange(10**6)}",
                    status=rng.choice(statuses),
                    created_at=created,
                    updated_at=created,
                )
            )
        tasks = CloudTask.objects.bulk_create(tasks)
        subtasks = [
            CloudTaskSubtask(
                task_id=task.pk,
                step=1,
                action="wait_vm",
                mode="async",
                status="ASYNC",
                deadline=now + timedelta(minutes=rng.choice([-30, 30])),
            )
            for task in tasks
            if rng.random() < 0.01
        ]
        CloudTaskSubtask.objects.bulk_create(subtasks)
        orders = ShopOrder.objects.bulk_create(
            ShopOrder(
                order_no=f"B-{made + i}",
                customer_id=f"cust-{rng.randrange(5000)}",
                status=rng.choice(["SUCCEEDED"] * 9 + ["FAILED"]),
                fail_reason=rng.choice(["program_error", "no_capacity", "invalid_spec", "payment_failed"]),
                created_at=now - timedelta(seconds=rng.randrange(60 * 86400)),
            )
            for i in range(size // 50)
        )
        suborders = ShopSubOrder.objects.bulk_create(
            ShopSubOrder(
                order_id=order.pk,
                customer_id=order.customer_id,
                resource_type="vm",
                site_id="cn-east-1",
                billing_cycle="month",
                status="ACTIVE",
                auto_renew=True,
                expire_at=now + timedelta(hours=rng.randrange(-24 * 30, 24 * 60)),
            )
            for order in orders
        )
        ShopSuborderRenewal.objects.bulk_create(
            ShopSuborderRenewal(
                suborder_id=suborder.pk,
                period_start=suborder.expire_at,
                period_end=suborder.expire_at + timedelta(days=30),
                amount=Decimal("10.0000"),
                status=rng.choice(["SUCCEEDED"] * 19 + ["FAILED"]),
                is_valid=False,
            )
            for suborder in suborders
        )
        made += size
        if made % (batch * 20) == 0 or made == count:
            print(f"  {made:,} / {count:,}", flush=True)


def analyze() -> None:
    """Refresh the planner's statistics, as a production database has them."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
        elif connection.vendor == "mysql":
            for table in ("cloud_task", "cloud_task_subtask", "shop_order", "shop_suborder", "shop_suborder_renewal"):
                cursor.execute(f"ANALYZE TABLE {table}")
                cursor.fetchall()


def explain_each() -> None:
    from django.db import connection
    from django.utils import timezone

    from console.dashboard import dashboard_querysets

    for name, queryset in dashboard_querysets(now=timezone.now()).items():
        started = time.perf_counter()
        rows = len(list(queryset[:50]))
        took = (time.perf_counter() - started) * 1000
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = "; ".join(row[3] for row in cursor.fetchall())
            else:
                cursor.execute("EXPLAIN " + sql, params)
                columns = [c[0] for c in cursor.description]
                plan = "; ".join(
                    f"{r['table']} type={r['type']} key={r['key']} rows={r['rows']} {r.get('Extra') or ''}".strip()
                    for r in (dict(zip(columns, row, strict=True)) for row in cursor.fetchall())
                )
        print(f"  {name}: {took:.1f} ms, {rows} rows | {plan}")


if __name__ == "__main__":
    main()
