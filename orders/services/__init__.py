"""The orders app's services: the contract the admin, the API and the scheduler call."""

from .accounts import InsufficientBalance, account_credit, account_debit, account_get
from .export import renewal_logs_csv
from .lifecycle import (
    ORDER_TASK_NAME,
    order_expand,
    order_pay,
    order_place,
    order_provisioned_suborders,
    order_task_finished,
)
from .renewal_fix import renewal_mark_valid
from .renewals import RenewalRunReport, renewal_key, renewals_run

__all__ = [
    "ORDER_TASK_NAME",
    "InsufficientBalance",
    "RenewalRunReport",
    "account_credit",
    "account_debit",
    "account_get",
    "order_expand",
    "order_pay",
    "order_place",
    "order_provisioned_suborders",
    "order_task_finished",
    "renewal_key",
    "renewal_logs_csv",
    "renewal_mark_valid",
    "renewals_run",
]
