"""Celery entry points of billing: thin callers of the services (routed by ``billing.*``)."""

import logging

from celery import shared_task

from common.errors import DomainError

from .charges import charge_previous_periods

logger = logging.getLogger(__name__)


@shared_task(name="billing.charge_previous_period")
def charge_previous_period(billing_cycle: str = "hour", periods: int = 1) -> list[dict]:
    """Charge the last ``periods`` complete periods; already charged ones are skipped (safe to rerun)."""
    report = []
    for outcome in charge_previous_periods(billing_cycle=billing_cycle, periods=periods):
        if isinstance(outcome, DomainError):
            logger.error("billing: period not charged: %s (%s)", outcome.message, outcome.code)
            report.append({"error": outcome.code, "message": outcome.message})
        else:
            if outcome.created:
                logger.info("billing: charged %s", outcome.as_dict())
            report.append(outcome.as_dict())
    return report
