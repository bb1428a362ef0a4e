#!/usr/bin/env python
"""Benchmark: N due sub-orders renewed by one renewal run on the configured database.

    .venv/bin/python scripts/bench_renewal.py --n 100000          # DATABASE_URL decides the database
    make bench-renewal BENCH_RENEWAL_N=5000

It works in a throw-away database next to the configured one (``bench_<name>``
on MariaDB, ``var/bench_renewal.sqlite3`` on SQLite), created and dropped here.
Two sizes run in the same process: the baseline N/10 and N. Each prints
renewals per second (median of ``--repeat`` runs) and queries per renewal; the
ratios against the baseline show whether the cost per renewal grows with N.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
# Production-like: no query log kept in memory while measuring.
os.environ["DJANGO_DEBUG"] = "false"
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

SITE = "bench-1"
SPEC = {"cpu_type": "bench", "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}
PRICES = {"vcpu": "45", "memory": "20", "system_disk": "0.5", "bandwidth": "23"}
PER_CUSTOMER = 20


class QueryCounter:
    """Counts the statements, and times them by kind (verb and table): driver and server time, not Python's."""

    def __init__(self):
        self.count = 0
        self.seconds: dict[str, float] = defaultdict(float)

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[statement_kind(sql)] += time.perf_counter() - began


def statement_kind(sql: str) -> str:
    head = sql[:3000]
    verb = head.split(None, 1)[0].upper() if head.strip() else "?"
    table = re.search(r"(?:FROM|INTO|UPDATE)\s+[`\"]?(\w+)", head, re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table else verb


class LoadSampler:
    """The 1-minute load average every few seconds while a size is measured (other work on the machine skews it)."""

    def __init__(self, every: float = 5.0):
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(self.every):
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=self.every * 2)


def seed(n: int, now) -> None:
    from billing.models import BillingItemType, BillResourcesPrice, ChargeKind
    from orders.models import CustomerAccount, ShopOrder, ShopSubOrder, SubOrderStatus

    for code, price in PRICES.items():
        item, _ = BillingItemType.objects.get_or_create(
            code=code, defaults={"name": code, "unit": "u", "charge_kind": ChargeKind.NUMBER}
        )
        BillResourcesPrice.objects.get_or_create(
            item_type=item,
            site_id=SITE,
            billing_cycle="month",
            valid_from=now - timedelta(days=400),
            defaults={"unit_price": Decimal(price)},
        )
    customers = [f"bench-{index:07d}" for index in range((n + PER_CUSTOMER - 1) // PER_CUSTOMER)]
    CustomerAccount.objects.bulk_create(
        [CustomerAccount(customer_id=c, balance=Decimal("100000000")) for c in customers], batch_size=5000
    )
    start = now - timedelta(days=30)
    for offset in range(0, n, 5000):
        order = ShopOrder.objects.create(order_no=f"BENCH-{offset}", customer_id=customers[0], status="SUCCEEDED")
        ShopSubOrder.objects.bulk_create(
            [
                ShopSubOrder(
                    order=order,
                    customer_id=customers[index // PER_CUSTOMER],
                    resource_type="vm",
                    resource_id=f"vm-bench-{index}",
                    site_id=SITE,
                    spec=SPEC,
                    billing_cycle="month",
                    status=SubOrderStatus.ACTIVE,
                    service_start=start,
                    expire_at=now + timedelta(hours=index % 48),
                )
                for index in range(offset, min(n, offset + 5000))
            ],
            batch_size=2000,
        )


def reset() -> None:
    """Undo a run so the next repeat renews the same sub-orders again."""
    from django.db.models import Exists, OuterRef, Subquery

    from orders.models import AccountLedgerEntry, CustomerAccount, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal

    # Each renewal remembers where its sub-order's expiry was: put it back, in one
    # statement (correlated on the indexed suborder_id, so no per-row round trips).
    renewals = ShopSuborderRenewal.objects.filter(suborder_id=OuterRef("pk"))
    ShopSubOrder.objects.filter(Exists(renewals)).update(
        expire_at=Subquery(renewals.order_by("period_start").values("period_start")[:1])
    )
    ShopRenewalLog.objects.all().delete()
    AccountLedgerEntry.objects.all().delete()
    ShopSuborderRenewal.objects.all().delete()
    CustomerAccount.objects.update(balance=Decimal("100000000"))


def clear() -> None:
    from billing.models import BillResourcesPrice
    from orders.models import CustomerAccount, ShopOrder, ShopSubOrder

    reset()
    ShopSubOrder.objects.all().delete()
    ShopOrder.objects.all().delete()
    CustomerAccount.objects.all().delete()
    BillResourcesPrice.objects.filter(site_id=SITE).delete()


def measure(n: int, repeat: int, batch_size: int, now) -> dict:
    from orders.services import renewals_run

    seed(n, now)
    rates, queries, runs, history = [], [], [], []
    with LoadSampler() as load:
        for attempt in range(repeat):
            if attempt:
                reset()
            history.append(undo_history())
            counter = QueryCounter()
            began = time.perf_counter()
            with connection.execute_wrapper(counter):
                report = renewals_run(now=now, window=timedelta(hours=72), batch_size=batch_size)
            elapsed = time.perf_counter() - began
            if report.renewed != n or report.failed:
                raise SystemExit(f"expected {n} renewals, got {report.as_dict()}")
            rates.append(n / elapsed)
            queries.append(counter.count)
            runs.append((n / elapsed, elapsed, report.batches, counter))
    clear()
    median_run = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
    return {
        "n": n,
        "rate": statistics.median(rates),
        "queries": statistics.median(queries),
        "rates": rates,
        "load": load.samples,
        "median_run": median_run,
        "history": history,
    }


def undo_history() -> int | None:
    """InnoDB's undo history not yet purged (server-wide): a reset leaves it to purge during the next run."""
    if connection.vendor != "mysql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'")
        found = cursor.fetchone()
    return int(found[1]) if found else None


def print_detail(row: dict) -> None:
    """Where the median run's time went, per batch: each kind of statement (driver and server) and the rest."""
    _rate, elapsed, batches, counter = row["median_run"]
    per_batch = 1000 / max(batches, 1)
    in_sql = sum(counter.seconds.values())
    print(f"  N={row['n']}: {batches} batches, {elapsed * per_batch:.1f} ms per batch, of which (ms):")
    for kind, seconds in sorted(counter.seconds.items(), key=lambda item: -item[1]):
        print(f"    {seconds * per_batch:7.1f}  {kind}")
    rest = (elapsed - in_sql) * per_batch
    print(f"    {rest:7.1f}  the rest: Python (rows decided, statements built, results converted), commits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="due sub-orders in the large run (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is printed (default 3)")
    parser.add_argument("--batch-size", type=int, default=settings.RENEWAL_BATCH_SIZE)
    parser.add_argument("--detail", action="store_true", help="also print where a batch's time goes")
    args = parser.parse_args()

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        db["TEST"]["NAME"] = str(settings.VAR_DIR / "bench_renewal.sqlite3")
    else:
        db["TEST"]["NAME"] = f"bench_{db['NAME']}"
    real_name = db["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        now = timezone.now().replace(microsecond=0)
        name = connection.settings_dict["NAME"]
        print(f"renewal benchmark on {connection.vendor} ({name}), batch size {args.batch_size}")
        baseline = measure(max(args.n // 10, 1), args.repeat, args.batch_size, now)
        large = measure(args.n, args.repeat, args.batch_size, now)
        for row in (baseline, large):
            print(
                f"N={row['n']:>8}  renewals/s={row['rate']:>9.0f}  queries={row['queries']:>6}  "
                f"queries/renewal={row['queries'] / row['n']:.4f}"
            )
        print(
            f"ratio N/baseline: renewals/s x{large['rate'] / baseline['rate']:.2f}, "
            f"queries/renewal x{(large['queries'] / large['n']) / (baseline['queries'] / baseline['n']):.2f}"
        )
        for row in (baseline, large):
            load = row["load"]
            history = ""
            if any(h is not None for h in row["history"]):
                history = f"  undo history at run start {', '.join(str(h) for h in row['history'])}"
            print(
                f"N={row['n']:>8}  runs renewals/s {', '.join(f'{rate:.0f}' for rate in row['rates'])}  "
                f"load average (1 min, {os.cpu_count()} CPUs) mean {statistics.mean(load):.2f} max {max(load):.2f}"
                f"{history}"
            )
        if args.detail:
            for row in (baseline, large):
                print_detail(row)
    finally:
        connection.creation.destroy_test_db(real_name, verbosity=0)


if __name__ == "__main__":
    main()
