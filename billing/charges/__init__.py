"""Charging periods; the rules are written in :mod:`billing.charges.run`."""

from .periods import period_end_of
from .run import ChargeResult, charge_period, charge_previous_periods, default_currency

__all__ = ["ChargeResult", "charge_period", "charge_previous_periods", "default_currency", "period_end_of"]
