#!/usr/bin/env python
"""Benchmark billing on the configured database (DATABASE_URL): load usage, charge one hour.

N usage samples (default 1,000,000) for R resources (default 10,000) and three
items (traffic by amount, bandwidth by peak, public IPs by number) are loaded
through ``usage_record_batch`` in batches of 10,000, then one hour is charged
with ``charge_period``. The hour before it is charged first (it has no usage),
so the measured run also does its search for late samples, as in production.

Prints samples per second loaded, the charge time, the lines written and every
query of the charge run. Bench rows use their own site and customers
(``bench-``) and an hour in 2020; they are removed before the run and, unless
``--keep``, after it.

    make bench-billing                    # N=1,000,000 R=10,000
    make bench-billing N=100000           # smaller
"""

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing.charges import charge_period  # noqa: E402
from billing.models import (  # noqa: E402
    BillingItemType,
    BillResourcesPrice,
    ChargeKind,
    ChargeLine,
    ChargePeriod,
    UsageSample,
)
from billing.prices import price_create  # noqa: E402
from billing.usage import MAX_BATCH, usage_record_batch  # noqa: E402

SITE = "bench-site"
ITEMS = [("traffic", "GB", ChargeKind.AMOUNT, "0.8"), ("bandwidth", "Mbps", ChargeKind.PEAK, "0.063"),
         ("public_ip", "count", ChargeKind.NUMBER, "0.02")]  # fmt: skip
PERIOD = timezone.make_aware(datetime(2020, 1, 1, 10), timezone.get_current_timezone())


def clean():
    ChargeLine.objects.filter(site_id=SITE).delete()
    ChargePeriod.objects.filter(billing_cycle="hour", period_start__in=[PERIOD - timedelta(hours=1), PERIOD]).delete()
    UsageSample.objects.filter(site_id=SITE).delete()
    BillResourcesPrice.objects.filter(site_id=SITE).exclude(charge_lines__isnull=False).delete()


def prepare():
    for code, unit, kind, price in ITEMS:
        BillingItemType.objects.get_or_create(code=code, defaults={"name": code, "unit": unit, "charge_kind": kind})
        if not BillResourcesPrice.objects.filter(item_type__code=code, site_id=SITE, billing_cycle="hour").exists():
            price_create(
                item_code=code,
                site_id=SITE,
                billing_cycle="hour",
                unit_price=Decimal(price),
                currency="CNY",
                valid_from=PERIOD - timedelta(days=365),
            )


def rows(start: int, stop: int, resources: int):
    for n in range(start, stop):
        code, unit, _kind, _price = ITEMS[(n // resources) % len(ITEMS)]
        resource = n % resources
        yield {
            "sample_id": f"bench-{n}",
            "customer_id": f"bench-cust-{resource % 997}",
            "site_id": SITE,
            "resource_type": "vm",
            "resource_id": f"bench-vm-{resource}",
            "item": code,
            "value": str(Decimal(n % 97) / 4),
            "unit": unit,
            "sampled_at": PERIOD + timedelta(seconds=n % 3600),
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", "-n", type=int, default=1_000_000)
    parser.add_argument("--resources", "-r", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=MAX_BATCH)
    parser.add_argument("--keep", action="store_true", help="leave the bench rows in the database")
    args = parser.parse_args()

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"samples: {args.samples:,}  resources: {args.resources:,}  batch: {args.batch:,}")
    clean()
    prepare()

    batch_rates = []
    started = time.perf_counter()
    for start in range(0, args.samples, args.batch):
        batch = list(rows(start, min(start + args.batch, args.samples), args.resources))
        t0 = time.perf_counter()
        result = usage_record_batch(samples=batch)
        batch_rates.append(len(batch) / (time.perf_counter() - t0))
        if result.errors or result.accepted != len(batch):
            sys.exit(f"batch at {start} not fully accepted: {result.as_dict()}")
        reset_queries()  # DEBUG keeps every statement otherwise
    loaded = time.perf_counter() - started
    print(
        f"load: {args.samples:,} samples in {loaded:.2f} s = {args.samples / loaded:,.0f} samples/s "
        f"(median batch {statistics.median(batch_rates):,.0f} samples/s, including building the rows)"
    )

    charge_period(period_start=PERIOD - timedelta(hours=1))  # an earlier closed hour: late-sample search runs
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        result = charge_period(period_start=PERIOD)
        charged = time.perf_counter() - t0
    print(
        f"charge: 1 period, {result.lines:,} lines, {result.adjustments} adjustments in {charged:.2f} s; "
        f"total {result.totals}"
    )
    print(f"queries in the charge run: {len(queries.captured_queries)} (alike statements counted together)")
    shapes: dict[str, list[float]] = {}
    for query in queries.captured_queries:
        sql = " ".join(query["sql"].split())
        shapes.setdefault(sql[:150] + (" ..." if len(sql) > 150 else ""), []).append(float(query["time"]))
    for sql, times in shapes.items():
        print(f"  {len(times):4d} x {sum(times):7.3f} s  {sql}")
    if not args.keep:
        clean()


if __name__ == "__main__":
    main()
