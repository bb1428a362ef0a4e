"""Billing-period arithmetic that keeps the anchor day (Jan 31 -> Feb 28/29 -> Mar 31)."""

from __future__ import annotations

import calendar
from datetime import datetime

from django.utils import timezone

CYCLE_MONTHS = {"month": 1, "year": 12}


def add_months(moment: datetime, months: int, *, anchor_day: int) -> datetime:
    """``moment`` moved by ``months`` calendar months, on ``anchor_day`` or the month's last day.

    The time of day and the time zone are kept. Clamping never drifts: the anchor,
    not the previous period's end, decides the day of every later period.
    Aware datetimes are moved in the current time zone (the customer's calendar),
    not in UTC, so a service bought on the 1st just after midnight stays on the 1st.
    """
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(anchor_day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(start: datetime, *, billing_cycle: str, periods: int = 1, anchor_day: int | None = None) -> datetime:
    """The end of ``periods`` periods of ``billing_cycle`` beginning at ``start``."""
    months = CYCLE_MONTHS[billing_cycle] * periods
    return add_months(start, months, anchor_day=anchor_day or anchor_day_of(start))


def anchor_day_of(service_start: datetime) -> int:
    """The day of the month every period of a sub-order starts on."""
    return (timezone.localtime(service_start) if timezone.is_aware(service_start) else service_start).day
