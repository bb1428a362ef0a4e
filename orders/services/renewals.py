"""The scheduled renewal run: every due sub-order renewed once per period, in batches.

One batch is one transaction with a fixed number of queries whatever its size:
claim up to ``batch_size`` due sub-orders (``SELECT ... FOR UPDATE SKIP LOCKED``
on MariaDB, so an overlapping run takes other rows; SQLite's IMMEDIATE
transactions serialise runs instead), read their open renewals, the prices and
the accounts (locked, in primary-key order), decide every row in Python, then
write renewals, ledger entries, balances, expiries and log rows with bulk
statements. A renewed sub-order whose new expiry is still inside the window is
claimed again by a later batch of the same run: missed periods are renewed one
by one, in order.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError

from ..models import (
    AccountLedgerEntry,
    CustomerAccount,
    LedgerKind,
    RenewalFailReason,
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from ..periods import anchor_day_of, period_end
from ..states import RENEWAL_TRANSITIONS, SUBORDER_TRANSITIONS
from ._common import SCHEDULER_NAME
from .operations import place_suspend_operation
from .pricebook import PriceBook

logger = logging.getLogger(__name__)

RENEWABLE = [SubOrderStatus.ACTIVE, SubOrderStatus.SUSPENDED]
_SUBORDER_FIELDS = [
    "pk",
    "order_id",
    "customer_id",
    "resource_type",
    "resource_id",
    "site_id",
    "spec",
    "billing_cycle",
    "currency",
    "status",
    "service_start",
    "expire_at",
]


@dataclass
class RenewalRunReport:
    """What one run did."""

    renewed: int = 0
    failed: int = 0
    suspended: int = 0
    resumed: int = 0
    batches: int = 0
    amount: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["amount"] = {currency: str(total) for currency, total in self.amount.items()}
        return data


def renewal_key(suborder_id: int, period_start: datetime) -> str:
    """The ledger idempotency key of a sub-order's renewal for one period: one charge, ever."""
    return f"renewal:{suborder_id}:{period_start.astimezone(UTC):%Y%m%dT%H%M%S}"


def retry_at(*, now: datetime, attempts: int, grace_end: datetime) -> datetime:
    """When a renewal that failed ``attempts`` times is tried again: backoff, but once at the grace period's end."""
    base = timedelta(minutes=settings.RENEWAL_RETRY_BASE_MINUTES)
    delay = min(base * (2 ** max(attempts - 1, 0)), timedelta(hours=settings.RENEWAL_RETRY_MAX_HOURS))
    when = now + delay
    if now < grace_end < when:
        when = grace_end
    return when


def renewals_run(*, now: datetime | None = None, window: timedelta | None = None, batch_size: int = 1000):
    """Renew every auto-renewing ACTIVE or SUSPENDED sub-order expiring before ``now + window``.

    Guarantees: at most one ``shop_suborder_renewal`` per sub-order and period
    (also enforced by the database), one charge per renewal (ledger key
    :func:`renewal_key`), the price valid at the period start, each missed period
    renewed once and in order, a log row per attempt. A renewal that cannot be
    charged stays FAILED with ``is_valid = 0`` and its reason and is retried with
    backoff; when it still fails after the grace period (``RENEWAL_GRACE_DAYS``)
    the sub-order is SUSPENDED and a stop operation placed; a later success
    resumes it and places the start operation.
    """
    now = now or timezone.now()
    window = window if window is not None else timedelta(hours=settings.RENEWAL_WINDOW_HOURS)
    grace = timedelta(days=settings.RENEWAL_GRACE_DAYS)
    report = RenewalRunReport()
    while True:
        claimed = _run_batch(now=now, horizon=now + window, grace=grace, batch_size=batch_size, report=report)
        if not claimed:
            break
        report.batches += 1
    if report.renewed or report.failed:
        logger.info("renewal run: %s", report.as_dict())
    return report


def _due(now: datetime, horizon: datetime, batch_size: int):
    waiting = ShopSuborderRenewal.objects.filter(
        suborder=OuterRef("pk"),
        period_start=OuterRef("expire_at"),
        status=RenewalStatus.FAILED,
        next_retry_at__gt=now,
    )
    due = (
        ShopSubOrder.objects.filter(auto_renew=True, expire_at__lte=horizon, status__in=RENEWABLE)
        .exclude(Exists(waiting))
        .order_by("expire_at", "pk")
        .only(*[name for name in _SUBORDER_FIELDS if name != "pk"])
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due[:batch_size])


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, amount=None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.amount = amount


def _run_batch(*, now, horizon, grace, batch_size, report) -> int:
    with transaction.atomic():
        suborders = _due(now, horizon, batch_size)
        if not suborders:
            return 0
        ids = [suborder.pk for suborder in suborders]
        starts = [suborder.expire_at for suborder in suborders]
        open_renewals = {
            (renewal.suborder_id, renewal.period_start): renewal
            for renewal in ShopSuborderRenewal.objects.filter(suborder_id__in=ids, period_start__in=set(starts))
        }
        book = PriceBook.load(
            site_ids={s.site_id for s in suborders},
            billing_cycles={s.billing_cycle for s in suborders},
            earliest=min(starts),
            latest=max(starts),
        )
        accounts = {
            account.customer_id: account
            for account in CustomerAccount.objects.select_for_update()
            .filter(customer_id__in={s.customer_id for s in suborders})
            .order_by("pk")
        }
        keys = {suborder.pk: renewal_key(suborder.pk, suborder.expire_at) for suborder in suborders}
        charged = set(
            AccountLedgerEntry.objects.filter(idempotency_key__in=keys.values()).values_list(
                "idempotency_key", flat=True
            )
        )

        new_renewals, changed_renewals, entries, logs = [], [], [], []
        touched_accounts, changed_suborders, suspended, resumed = {}, [], [], []
        for suborder in suborders:
            start = suborder.expire_at
            end = period_end(
                start, billing_cycle=suborder.billing_cycle, anchor_day=anchor_day_of(suborder.service_start or start)
            )
            renewal = open_renewals.get((suborder.pk, start))
            if renewal is not None and renewal.status == RenewalStatus.SUCCEEDED:
                # Applied but the expiry not moved (only a hand edit gets here): catch up, never charge again.
                suborder.expire_at = renewal.period_end
                changed_suborders.append(suborder)
                continue
            if renewal is None:
                renewal = ShopSuborderRenewal(
                    suborder=suborder, period_start=start, period_end=end, currency=suborder.currency
                )
                new_renewals.append(renewal)
            else:
                RENEWAL_TRANSITIONS.check(renewal.status, RenewalStatus.FAILED, label="renewal", pk=renewal.pk)
                changed_renewals.append(renewal)
            renewal.attempts += 1
            log = ShopRenewalLog(
                renewal=renewal,
                suborder=suborder,
                customer_id=suborder.customer_id,
                site_id=suborder.site_id,
                billing_cycle=suborder.billing_cycle,
                period_start=start,
                period_end=renewal.period_end,
                action=RenewalLogAction.ATTEMPT,
                currency=suborder.currency,
                operator_name=SCHEDULER_NAME,
            )
            logs.append(log)
            try:
                quote, entry = _charge(suborder, renewal, book, accounts, keys[suborder.pk], charged)
            except _Failure as failure:
                _failed(renewal, log, failure, now=now, grace_end=start + grace)
                report.failed += 1
                if suborder.status == SubOrderStatus.ACTIVE and now >= start + grace:
                    SUBORDER_TRANSITIONS.check(
                        suborder.status, SubOrderStatus.SUSPENDED, label="sub-order", pk=suborder.pk
                    )
                    suborder.status = SubOrderStatus.SUSPENDED
                    changed_suborders.append(suborder)
                    suspended.append(suborder)
                    logs.append(_state_log(log, RenewalLogAction.SUSPEND, failure.detail))
                continue
            renewal.status = RenewalStatus.SUCCEEDED
            renewal.is_valid = True
            renewal.amount = quote.amount
            renewal.price_lines = quote.as_json()
            renewal.applied_at = now
            renewal.next_retry_at = None
            log.outcome = RenewalLogOutcome.SUCCEEDED
            log.amount = quote.amount
            if entry is not None:
                entries.append(entry)
                touched_accounts[entry.account.pk] = entry.account
            suborder.expire_at = renewal.period_end
            if suborder.status == SubOrderStatus.SUSPENDED:
                SUBORDER_TRANSITIONS.check(suborder.status, SubOrderStatus.ACTIVE, label="sub-order", pk=suborder.pk)
                suborder.status = SubOrderStatus.ACTIVE
                resumed.append(suborder)
                logs.append(_state_log(log, RenewalLogAction.RESUME, _("renewed")))
            changed_suborders.append(suborder)
            report.renewed += 1
            report.amount[suborder.currency] = report.amount.get(suborder.currency, 0) + quote.amount

        _write(new_renewals, changed_renewals, entries, touched_accounts, changed_suborders, logs, now)
        for suborder in suspended:
            place_suspend_operation(suborder=suborder, resume=False)
        for suborder in resumed:
            place_suspend_operation(suborder=suborder, resume=True)
        report.suspended += len(suspended)
        report.resumed += len(resumed)
        return len(suborders)


def _charge(suborder, renewal, book, accounts, key, charged):
    """Price the period and debit the account in memory; raise _Failure with a fixed reason."""
    if not suborder.resource_id:
        raise _Failure(RenewalFailReason.RESOURCE_GONE, _("The sub-order has no resource any more."))
    try:
        quote = book.quote(
            resource_type=suborder.resource_type,
            spec=suborder.spec,
            site_id=suborder.site_id,
            billing_cycle=suborder.billing_cycle,
            periods=1,
            at=renewal.period_start,
            currency=suborder.currency,
        )
    except DomainError as refusal:
        raise _Failure(RenewalFailReason.NO_VALID_PRICE, refusal.message) from None
    except Exception as error:  # a bad spec in the database must not stop the batch
        logger.exception("renewal of sub-order %s could not be priced", suborder.pk)
        raise _Failure(RenewalFailReason.PROGRAM_ERROR, f"{type(error).__name__}: {error}") from None
    if key in charged:
        return quote, None
    account = accounts.get(suborder.customer_id)
    balance = account.balance if account is not None else 0
    if account is not None and account.currency != suborder.currency:
        raise _Failure(
            RenewalFailReason.PROGRAM_ERROR,
            _("The account is kept in %(account)s, the sub-order in %(currency)s.")
            % {"account": account.currency, "currency": suborder.currency},
            quote.amount,
        )
    if balance < quote.amount:
        raise _Failure(
            RenewalFailReason.INSUFFICIENT_BALANCE,
            _("Insufficient balance: %(balance)s %(currency)s, %(amount)s needed.")
            % {"balance": balance, "currency": suborder.currency, "amount": quote.amount},
            quote.amount,
        )
    account.balance -= quote.amount
    entry = AccountLedgerEntry(
        account=account,
        customer_id=account.customer_id,
        kind=LedgerKind.DEBIT,
        amount=quote.amount,
        balance_after=account.balance,
        currency=account.currency,
        reason=_("Renewal of sub-order %(id)s from %(start)s")
        % {"id": suborder.pk, "start": timezone.localtime(renewal.period_start).strftime("%Y-%m-%d")},
        renewal=renewal,
        idempotency_key=key,
    )
    charged.add(key)
    return quote, entry


def _failed(renewal, log, failure: _Failure, *, now, grace_end) -> None:
    renewal.status = RenewalStatus.FAILED
    renewal.is_valid = False
    renewal.fail_reason = failure.reason
    renewal.fail_detail = failure.detail
    if failure.amount is not None:
        renewal.amount = failure.amount
    renewal.next_retry_at = retry_at(now=now, attempts=renewal.attempts, grace_end=grace_end)
    log.outcome = RenewalLogOutcome.FAILED
    log.fail_reason = failure.reason
    log.reason = failure.detail
    log.amount = failure.amount


def _state_log(attempt: ShopRenewalLog, action: str, reason: str) -> ShopRenewalLog:
    return ShopRenewalLog(
        renewal=attempt.renewal,
        suborder=attempt.suborder,
        customer_id=attempt.customer_id,
        site_id=attempt.site_id,
        billing_cycle=attempt.billing_cycle,
        period_start=attempt.period_start,
        period_end=attempt.period_end,
        action=action,
        outcome=RenewalLogOutcome.SUCCEEDED,
        reason=reason,
        currency=attempt.currency,
        operator_name=SCHEDULER_NAME,
    )


def _write(new_renewals, changed_renewals, entries, accounts, suborders, logs, now) -> None:
    """Every write of a batch as bulk statements: their count does not depend on the batch's size."""
    ShopSuborderRenewal.objects.bulk_create(new_renewals)
    if new_renewals and new_renewals[0].pk is None:
        # Databases that cannot return ids from a bulk insert: one query finds them all.
        found = {
            (suborder_id, start): pk
            for pk, suborder_id, start in ShopSuborderRenewal.objects.filter(
                suborder_id__in=[r.suborder_id for r in new_renewals]
            ).values_list("pk", "suborder_id", "period_start")
        }
        for renewal in new_renewals:
            renewal.pk = found[(renewal.suborder_id, renewal.period_start)]
    if changed_renewals:
        for renewal in changed_renewals:
            renewal.updated_at = now
        ShopSuborderRenewal.objects.bulk_update(
            changed_renewals,
            [
                "status",
                "is_valid",
                "amount",
                "price_lines",
                "fail_reason",
                "fail_detail",
                "attempts",
                "next_retry_at",
                "applied_at",
                "updated_at",
            ],
        )
    for entry in entries:
        entry.renewal_id = entry.renewal.pk
    AccountLedgerEntry.objects.bulk_create(entries)
    if accounts:
        for account in accounts.values():
            account.updated_at = now
        CustomerAccount.objects.bulk_update(list(accounts.values()), ["balance", "updated_at"])
    if suborders:
        for suborder in suborders:
            suborder.updated_at = now
        ShopSubOrder.objects.bulk_update(suborders, ["expire_at", "status", "updated_at"])
    for log in logs:
        log.renewal_id = log.renewal.pk
    ShopRenewalLog.objects.bulk_create(logs)
