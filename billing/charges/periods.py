"""Billing periods: where one ends, which one came before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import InvalidInput

from ..models import BillingCycle


def period_end_of(*, billing_cycle: str, period_start: datetime) -> datetime:
    """The end of the billing period that starts at ``period_start``; refuses a misaligned start.

    Periods follow the platform's time zone: an hour starts on the hour, a
    month on the 1st at 00:00, a year on 1 January at 00:00.
    """
    if billing_cycle not in BillingCycle.values:
        raise InvalidInput(_("Unknown billing cycle %(cycle)s.") % {"cycle": billing_cycle}, field="billing_cycle")
    if timezone.is_naive(period_start):
        raise InvalidInput(_("Give the period start with its time zone."), field="period_start")
    local = timezone.localtime(period_start)
    if local.minute or local.second or local.microsecond:
        raise InvalidInput(_("A period starts on the hour."), field="period_start")
    if billing_cycle == BillingCycle.HOUR:
        return period_start.astimezone(UTC) + timedelta(hours=1)  # in UTC: a DST day still has hours of 60 minutes
    if local.hour or local.day != 1 or (billing_cycle == BillingCycle.YEAR and local.month != 1):
        raise InvalidInput(_("A month starts on the 1st at 00:00, a year on 1 January."), field="period_start")
    if billing_cycle == BillingCycle.MONTH:
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    else:
        year, month = local.year + 1, 1
    return timezone.make_aware(datetime(year, month, 1), timezone.get_current_timezone())


def previous_period_start(billing_cycle: str, start: datetime) -> datetime:
    """The start of the period before the one starting at ``start``."""
    tz = timezone.get_current_timezone()
    local = timezone.localtime(start)
    if billing_cycle == BillingCycle.HOUR:
        return timezone.localtime(start.astimezone(UTC) - timedelta(hours=1))
    if billing_cycle == BillingCycle.MONTH:
        year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
        return timezone.make_aware(datetime(year, month, 1), tz)
    return timezone.make_aware(datetime(local.year - 1, 1, 1), tz)
