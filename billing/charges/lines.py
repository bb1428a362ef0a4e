"""Quantities and prices into charge-line rows: normal lines and adjustments for late samples."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Sum
from django.db.models.functions import TruncHour, TruncMonth, TruncYear
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    BillingCycle,
    BillResourcesPrice,
    ChargeKind,
    ChargeLine,
    ChargeLineKind,
    ChargePeriod,
    UsageSample,
)
from ..money import round_money
from ..pricing import CurrencyMismatch, NoValidPrice, line_exact, valid_at

#: Memory MySQL/MariaDB may use for the GROUP BY of one run (see ``room_to_group``).
GROUP_BY_MEMORY_MB = getattr(settings, "BILLING_GROUP_BY_MEMORY_MB", 256)
LATE_MARGIN = timedelta(minutes=getattr(settings, "BILLING_LATE_MARGIN_MINUTES", 15))
KEY = ("customer_id", "site_id", "resource_type", "resource_id", "item_type_id")
LINE_COLUMNS = (
    "billing_cycle",
    "period_start",
    "period_end",
    "usage_period_start",
    "usage_period_end",
    "kind",
    "customer_id",
    "site_id",
    "resource_type",
    "resource_id",
    "item_type",
    "quantity",
    "unit_price",
    "price",
    "amount_exact",
    "amount",
    "currency",
    "created_at",
)
AMOUNT, CURRENCY = LINE_COLUMNS.index("amount"), LINE_COLUMNS.index("currency")
TRUNC = {BillingCycle.HOUR: TruncHour, BillingCycle.MONTH: TruncMonth, BillingCycle.YEAR: TruncYear}


def prices_at(billing_cycle: str, at: datetime) -> dict[tuple[int, str], BillResourcesPrice]:
    rows = BillResourcesPrice.objects.filter(valid_at(at), billing_cycle=billing_cycle)
    return {(row.item_type_id, row.site_id): row for row in rows}


def quantity_of(kind: str, total, peak, count) -> Decimal:
    if kind == ChargeKind.AMOUNT:
        return Decimal(total)
    if kind == ChargeKind.PEAK:
        return Decimal(peak)
    return Decimal(count)


@contextmanager
def room_to_group():
    """On MySQL/MariaDB, let GROUP BY keep its groups in memory for this run.

    Its temporary table stores VARCHARs at full width (~850 bytes a group here);
    past ``tmp_table_size`` (16 MB by default, about 20,000 groups) it moves to
    disk and the aggregation gets several times slower. The session values are
    put back afterwards.
    """
    if connection.vendor != "mysql":
        yield
        return
    size = GROUP_BY_MEMORY_MB * 1024 * 1024
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@SESSION.tmp_table_size, @@SESSION.max_heap_table_size")
        before = cursor.fetchone()
        cursor.execute("SET SESSION tmp_table_size = %s, max_heap_table_size = %s", [size, size])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION tmp_table_size = %s, max_heap_table_size = %s", list(before))


def aggregate(samples):
    """Per resource and item: SUM, MAX and COUNT of the samples, computed by the database."""
    return (
        samples.order_by()
        .values(*KEY)
        .annotate(total=Sum("value"), peak=Max("value"), count=Count("id"))
        .values_list(*KEY, "total", "peak", "count")
    )


class Pricer:
    """Turns quantities into lines; collects what cannot be priced so the run refuses as a whole."""

    def __init__(self, *, items, currency, billing_cycle, period_start, period_end):
        self.items = items
        self.currency = currency
        self.billing_cycle = billing_cycle
        self.period_start = period_start
        self.period_end = period_end
        self.now = timezone.now()
        self.missing: set[tuple[str, str]] = set()
        self.mismatch: set[tuple[str, str]] = set()

    def line(self, key, quantity, prices, *, usage_start, usage_end, kind) -> tuple | None:
        """The line's values in ``LINE_COLUMNS`` order, priced from ``prices`` (:func:`prices_at`).

        ``None`` (and noted) when it cannot be priced.
        """
        customer_id, site_id, resource_type, resource_id, item_type_id = key
        code = self.items[item_type_id].code
        price = prices.get((item_type_id, site_id))
        if price is None:
            self.missing.add((code, site_id))
            return None
        if price.currency != self.currency:
            self.mismatch.add((code, price.currency))
            return None
        exact = line_exact(quantity, price.unit_price)
        return (
            self.billing_cycle,
            self.period_start,
            self.period_end,
            usage_start,
            usage_end,
            kind,
            customer_id,
            site_id,
            resource_type,
            resource_id,
            item_type_id,
            quantity,
            price.unit_price,
            price.pk,
            exact,
            round_money(exact, self.currency),
            self.currency,
            self.now,
        )

    def refuse_if_incomplete(self):
        if self.missing:
            listed = ", ".join(f"{code}@{site}" for code, site in sorted(self.missing))
            raise NoValidPrice(
                _("No %(cycle)s price valid at %(start)s for: %(items)s.")
                % {"cycle": self.billing_cycle, "start": self.period_start.isoformat(), "items": listed},
                field="price",
            )
        if self.mismatch:
            listed = ", ".join(f"{code} ({currency})" for code, currency in sorted(self.mismatch))
            raise CurrencyMismatch(
                _("Priced in another currency than %(currency)s: %(items)s.")
                % {"currency": self.currency, "items": listed},
                field="currency",
            )


def normal_lines(pricer: Pricer) -> list[tuple]:
    samples = UsageSample.objects.filter(sampled_at__gte=pricer.period_start, sampled_at__lt=pricer.period_end)
    prices = prices_at(pricer.billing_cycle, pricer.period_start)
    lines = []
    for *key, total, peak, count in aggregate(samples):
        kind = pricer.items[key[4]].charge_kind
        line = pricer.line(
            tuple(key),
            quantity_of(kind, total, peak, count),
            prices,
            usage_start=pricer.period_start,
            usage_end=pricer.period_end,
            kind=ChargeLineKind.NORMAL,
        )
        if line is not None:
            lines.append(line)
    return lines


def adjustment_lines(pricer: Pricer, run: ChargePeriod) -> list[tuple]:
    """Lines for samples that reached closed periods after those were charged."""
    cycle = pricer.billing_cycle
    closed = ChargePeriod.objects.filter(billing_cycle=cycle).exclude(pk=run.pk)
    watermark = closed.aggregate(last=Max("started_at"), end=Max("period_end"))
    if watermark["last"] is None:
        return []
    candidates = (
        UsageSample.objects.filter(received_at__gte=watermark["last"] - LATE_MARGIN, sampled_at__lt=watermark["end"])
        .exclude(sampled_at__gte=pricer.period_start, sampled_at__lt=pricer.period_end)
        .annotate(usage_period=TRUNC[cycle]("sampled_at"))
        .order_by()
        .values_list("usage_period", *KEY)
        .distinct()
    )
    touched: dict[datetime, set[tuple]] = {}
    for usage_period, *key in candidates:
        touched.setdefault(usage_period, set()).add(tuple(key))
    if not touched:
        return []
    lines = []
    for period in closed.filter(period_start__in=list(touched)).order_by("period_start"):
        keys = touched[period.period_start]
        resource_ids = {key[3] for key in keys}
        item_ids = {key[4] for key in keys}
        in_period = UsageSample.objects.filter(
            sampled_at__gte=period.period_start,
            sampled_at__lt=period.period_end,
            resource_id__in=resource_ids,
            item_type_id__in=item_ids,
        )
        charged = {
            tuple(row[:5]): row[5]
            for row in ChargeLine.objects.filter(
                billing_cycle=cycle,
                usage_period_start=period.period_start,
                resource_id__in=resource_ids,
                item_type_id__in=item_ids,
            )
            .order_by()
            .values(*KEY)
            .annotate(quantity=Sum("quantity"))
            .values_list(*KEY, "quantity")
        }
        prices = prices_at(cycle, period.period_start)
        for *key, total, peak, count in aggregate(in_period):
            key = tuple(key)
            if key not in keys:
                continue
            recomputed = quantity_of(pricer.items[key[4]].charge_kind, total, peak, count)
            difference = recomputed - (charged.get(key) or Decimal(0))
            if not difference:
                continue
            line = pricer.line(
                key,
                difference,
                prices,
                usage_start=period.period_start,
                usage_end=period.period_end,
                kind=ChargeLineKind.ADJUSTMENT,
            )
            if line is not None:
                lines.append(line)
    return lines
