"""Charging a period: usage samples -> charge lines.

The rules, in one place:

- One normal line per (customer, site, resource, item) with samples in the
  period; its quantity is the item's charge kind applied to those samples
  (amount = SUM, number = COUNT, peak = MAX; see ``ChargeKind``), aggregated by
  the database with GROUP BY.
- Price rule: the whole period is priced at the unit price valid at the
  period's start (``valid_from <= period_start < valid_to``), for the item, the
  site and the billing cycle being charged. A price that changes during a period
  applies from the first period that starts at or after its ``valid_from``.
  Every line stores the price row it used.
- Money: ``amount_exact = quantity x unit_price`` (no rounding); ``amount`` is it
  rounded once, per line, by :func:`billing.money.round_money`. Totals add
  rounded line amounts.
- A charged period is closed (a ``bc_charge_period`` row) and never rewritten.
  Charging it again is a no-op. A sample that arrives after its period closed
  is charged when the next period is charged: one adjustment line per resource
  and item, booked in that open period, with the difference between the closed
  period's quantity recomputed from all its samples and what was charged for it
  so far (normal line plus earlier adjustments), priced as the closed period
  was.
- Every price used must be in the charge's currency (``CurrencyMismatch``), and
  every sampled item must have a price (``NoValidPrice``): otherwise nothing is
  written and the period stays open, to be charged once the price is fixed.
"""

from __future__ import annotations

import decimal
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour, TruncMonth, TruncYear
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import InvalidInput

from .bulk import insert_rows
from .models import (
    BillingCycle,
    BillingItemType,
    BillResourcesPrice,
    ChargeKind,
    ChargeLine,
    ChargeLineKind,
    ChargePeriod,
    UsageSample,
)
from .money import minor_units, round_money
from .pricing import CurrencyMismatch, NoValidPrice

#: Samples committed a little after a run's snapshot are still looked at by the next run.
#: Memory MySQL/MariaDB may use for the GROUP BY of one run (see ``_room_to_group``).
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


def default_currency() -> str:
    return getattr(settings, "BILLING_CURRENCY", "CNY")


@dataclass
class ChargeResult:
    billing_cycle: str
    period_start: datetime
    period_end: datetime
    created: bool
    lines: int = 0
    adjustments: int = 0
    totals: dict[str, Decimal] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "billing_cycle": self.billing_cycle,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "created": self.created,
            "lines": self.lines,
            "adjustments": self.adjustments,
            "totals": {currency: str(total) for currency, total in self.totals.items()},
        }


def period_end_of(*, billing_cycle: str, period_start: datetime) -> datetime:
    """The end of the billing period that starts at ``period_start``; refuses a misaligned start.

    Periods follow the platform's time zone: an hour starts on the hour, a
    month on the 1st at 00:00, a year on 1 January at 00:00.
    """
    if timezone.is_naive(period_start):
        raise InvalidInput(_("Give the period start with its time zone."), field="period_start")
    local = timezone.localtime(period_start)
    if local.minute or local.second or local.microsecond:
        raise InvalidInput(_("A period starts on the hour."), field="period_start")
    if billing_cycle == BillingCycle.HOUR:
        return period_start + timedelta(hours=1)
    if local.hour or local.day != 1 or (billing_cycle == BillingCycle.YEAR and local.month != 1):
        raise InvalidInput(_("A month starts on the 1st at 00:00, a year on 1 January."), field="period_start")
    if billing_cycle == BillingCycle.MONTH:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    elif billing_cycle == BillingCycle.YEAR:
        year, month = local.year + 1, 1
    else:
        raise InvalidInput(_("Unknown billing cycle %(cycle)s.") % {"cycle": billing_cycle}, field="billing_cycle")
    return timezone.make_aware(datetime(year, month, 1), timezone.get_current_timezone())


def _prices_at(billing_cycle: str, at: datetime) -> dict[tuple[int, str], BillResourcesPrice]:
    rows = BillResourcesPrice.objects.filter(billing_cycle=billing_cycle, valid_from__lte=at).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=at)
    )
    return {(row.item_type_id, row.site_id): row for row in rows}


def _quantity(kind: str, total, peak, count) -> Decimal:
    if kind == ChargeKind.AMOUNT:
        return Decimal(total)
    if kind == ChargeKind.PEAK:
        return Decimal(peak)
    return Decimal(count)


@contextmanager
def _room_to_group():
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


def _aggregate(samples):
    """Per resource and item: SUM, MAX and COUNT of the samples, computed by the database."""
    return (
        samples.order_by()
        .values(*KEY)
        .annotate(total=Sum("value"), peak=Max("value"), count=Count("id"))
        .values_list(*KEY, "total", "peak", "count")
    )


class _Pricer:
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

    def line(self, key, quantity, price, *, usage_start, usage_end, kind) -> tuple | None:
        """The line's values in ``LINE_COLUMNS`` order; ``None`` (and noted) when it cannot be priced."""
        customer_id, site_id, resource_type, resource_id, item_type_id = key
        code = self.items[item_type_id].code
        if price is None:
            self.missing.add((code, site_id))
            return None
        if price.currency != self.currency:
            self.mismatch.add((code, price.currency))
            return None
        with decimal.localcontext(prec=60):
            exact = quantity * price.unit_price
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


def _normal_lines(pricer: _Pricer) -> list[tuple]:
    samples = UsageSample.objects.filter(sampled_at__gte=pricer.period_start, sampled_at__lt=pricer.period_end)
    prices = _prices_at(pricer.billing_cycle, pricer.period_start)
    lines = []
    for *key, total, peak, count in _aggregate(samples):
        kind = pricer.items[key[4]].charge_kind
        line = pricer.line(
            tuple(key),
            _quantity(kind, total, peak, count),
            prices.get((key[4], key[1])),
            usage_start=pricer.period_start,
            usage_end=pricer.period_end,
            kind=ChargeLineKind.NORMAL,
        )
        if line is not None:
            lines.append(line)
    return lines


def _adjustment_lines(pricer: _Pricer, run: ChargePeriod) -> list[tuple]:
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
        prices = _prices_at(cycle, period.period_start)
        for *key, total, peak, count in _aggregate(in_period):
            key = tuple(key)
            if key not in keys:
                continue
            recomputed = _quantity(pricer.items[key[4]].charge_kind, total, peak, count)
            difference = recomputed - (charged.get(key) or Decimal(0))
            if not difference:
                continue
            line = pricer.line(
                key,
                difference,
                prices.get((key[4], key[1])),
                usage_start=period.period_start,
                usage_end=period.period_end,
                kind=ChargeLineKind.ADJUSTMENT,
            )
            if line is not None:
                lines.append(line)
    return lines


def charge_period(
    *,
    period_start: datetime,
    period_end: datetime | None = None,
    billing_cycle: str = BillingCycle.HOUR,
    currency: str | None = None,
) -> ChargeResult:
    """Charge every resource's usage in one billing period; close the period.

    Guarantees: all or nothing in one transaction; a period already charged is
    left as it is (``created=False``), so running twice (or two workers at
    once) charges once; late samples of closed periods become adjustment lines
    in this period (see the module docstring for every rule). Refuses a period
    that has not ended, a misaligned period, a missing price and a price in
    another currency, leaving the database unchanged.
    """
    expected_end = period_end_of(billing_cycle=billing_cycle, period_start=period_start)
    if period_end is not None and period_end != expected_end:
        raise InvalidInput(
            _("A %(cycle)s period starting then ends at %(end)s.")
            % {"cycle": billing_cycle, "end": expected_end.isoformat()},
            field="period_end",
        )
    period_end = expected_end
    started_at = timezone.now()
    if period_end > started_at:
        raise InvalidInput(_("The period has not ended yet."), field="period_start")
    currency = currency or default_currency()
    minor_units(currency)
    items = {item.pk: item for item in BillingItemType.objects.all()}
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = ChargePeriod.objects.create(
                    billing_cycle=billing_cycle,
                    period_start=period_start,
                    period_end=period_end,
                    currency=currency,
                    started_at=started_at,
                    closed_at=started_at,
                )
        except IntegrityError:
            run = ChargePeriod.objects.get(billing_cycle=billing_cycle, period_start=period_start)
            return ChargeResult(
                billing_cycle,
                period_start,
                period_end,
                created=False,
                lines=run.line_count,
                adjustments=run.adjustment_count,
            )
        pricer = _Pricer(
            items=items,
            currency=currency,
            billing_cycle=billing_cycle,
            period_start=period_start,
            period_end=period_end,
        )
        with _room_to_group():
            normal = _normal_lines(pricer)
            adjustments = _adjustment_lines(pricer, run)
        pricer.refuse_if_incomplete()
        insert_rows(ChargeLine, LINE_COLUMNS, normal + adjustments)
        run.line_count = len(normal)
        run.adjustment_count = len(adjustments)
        run.closed_at = timezone.now()
        run.save(update_fields=["line_count", "adjustment_count", "closed_at"])
    totals: dict[str, Decimal] = {}
    for line in normal + adjustments:
        totals[line[CURRENCY]] = totals.get(line[CURRENCY], Decimal(0)) + line[AMOUNT]
    return ChargeResult(
        billing_cycle,
        period_start,
        period_end,
        created=True,
        lines=len(normal),
        adjustments=len(adjustments),
        totals=totals,
    )


def charge_previous_periods(
    *, billing_cycle: str = BillingCycle.HOUR, periods: int = 1, now: datetime | None = None
) -> list[ChargeResult | InvalidInput]:
    """Charge the last ``periods`` complete periods, oldest first (the periodic job).

    Periods already charged are skipped by :func:`charge_period`, so the job is
    safe to run twice and a larger ``periods`` catches up on runs that were
    missed. A period that cannot be charged (no price, say) is reported in the
    list and stays open; the later ones are still charged.
    """
    if not 1 <= periods <= 24 * 31:
        raise InvalidInput(_("Charge between 1 and 744 periods at once."), field="periods")
    local = timezone.localtime(now or timezone.now())
    current = local.replace(minute=0, second=0, microsecond=0)
    if billing_cycle != BillingCycle.HOUR:
        current = current.replace(hour=0, day=1)
        if billing_cycle == BillingCycle.YEAR:
            current = current.replace(month=1)
    starts = []
    for _step in range(periods):
        current = _previous_start(billing_cycle, current)
        starts.append(current)
    results: list[ChargeResult | InvalidInput] = []
    for start in reversed(starts):
        try:
            results.append(charge_period(period_start=start, billing_cycle=billing_cycle))
        except InvalidInput as refusal:
            results.append(refusal)
    return results


def _previous_start(billing_cycle: str, start: datetime) -> datetime:
    tz = timezone.get_current_timezone()
    local = timezone.localtime(start)
    if billing_cycle == BillingCycle.HOUR:
        return timezone.localtime(start - timedelta(hours=1))
    if billing_cycle == BillingCycle.MONTH:
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        return timezone.make_aware(datetime(year, month, 1), tz)
    return timezone.make_aware(datetime(local.year - 1, 1, 1), tz)
