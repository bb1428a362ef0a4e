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

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import InvalidInput

from ..bulk import insert_rows
from ..models import (
    BillingCycle,
    BillingItemType,
    ChargeLine,
    ChargePeriod,
)
from ..money import minor_units
from .lines import AMOUNT, CURRENCY, LINE_COLUMNS, Pricer, adjustment_lines, normal_lines, room_to_group
from .periods import period_end_of, previous_period_start


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
        pricer = Pricer(
            items=items,
            currency=currency,
            billing_cycle=billing_cycle,
            period_start=period_start,
            period_end=period_end,
        )
        with room_to_group():
            normal = normal_lines(pricer)
            adjustments = adjustment_lines(pricer, run)
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
        current = previous_period_start(billing_cycle, current)
        starts.append(current)
    results: list[ChargeResult | InvalidInput] = []
    for start in reversed(starts):
        try:
            results.append(charge_period(period_start=start, billing_cycle=billing_cycle))
        except InvalidInput as refusal:
            results.append(refusal)
    return results
