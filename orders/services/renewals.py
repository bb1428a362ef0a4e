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

from billing.pricing import PriceBook, suborder_items
from common.errors import DomainError

from ..models import (
    AccountLedgerEntry,
    CustomerAccount,
    LedgerKind,
    RenewalFailReason,
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from ..periods import anchor_day_of, period_end
from ..states import RENEWAL_TRANSITIONS, SUBORDER_TRANSITIONS
from .accounts import insufficient_balance_message
from .operations import place_suspend_operation
from .renewal_batch import SUBORDER_FIELDS, Batch

logger = logging.getLogger(__name__)

RENEWABLE = [SubOrderStatus.ACTIVE, SubOrderStatus.SUSPENDED]


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
    return _stamped_key(suborder_id, _key_stamp(period_start))


def _key_stamp(period_start: datetime) -> str:
    return f"{period_start.astimezone(UTC):%Y%m%dT%H%M%S}"


def _stamped_key(suborder_id: int, stamp: str) -> str:
    return f"renewal:{suborder_id}:{stamp}"


def retry_at(*, now: datetime, attempts: int, grace_end: datetime) -> datetime:
    """When a renewal that failed ``attempts`` times is tried again: backoff, but once at the grace period's end."""
    base = timedelta(minutes=settings.RENEWAL_RETRY_BASE_MINUTES)
    delay = min(base * (2 ** max(attempts - 1, 0)), timedelta(hours=settings.RENEWAL_RETRY_MAX_HOURS))
    when = now + delay
    if now < grace_end < when:
        when = grace_end
    return when


def renewals_run(
    *, now: datetime | None = None, window: timedelta | float | None = None, batch_size: int = 1000
) -> RenewalRunReport:
    """Renew every auto-renewing ACTIVE or SUSPENDED sub-order expiring before ``now + window``.

    ``window`` is a timedelta or a number of hours (default ``RENEWAL_WINDOW_HOURS``).

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
    if window is None:
        window = timedelta(hours=settings.RENEWAL_WINDOW_HOURS)
    elif not isinstance(window, timedelta):
        window = timedelta(hours=window)  # a number of hours, as in RENEWAL_WINDOW_HOURS
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


def _due(now: datetime, horizon: datetime, batch_size: int) -> list[dict]:
    waiting = ShopSuborderRenewal.objects.filter(
        suborder=OuterRef("pk"),
        period_start=OuterRef("expire_at"),
        status=RenewalStatus.FAILED,
        next_retry_at__gt=now,
    )
    due = (
        # auto_renew__in=[True], not auto_renew=True: Django writes the latter as a bare
        # "WHERE auto_renew" on MySQL, which the (auto_renew, expire_at) index cannot seek.
        ShopSubOrder.objects.filter(auto_renew__in=[True], expire_at__lte=horizon, status__in=RENEWABLE)
        .exclude(Exists(waiting))
        .order_by("expire_at", "pk")
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    return list(due.values(*SUBORDER_FIELDS)[:batch_size])


def _destroyed(suborders: list[dict]) -> set[tuple[str, str]]:
    """The batch's resources that a finished delete (destroy) task removed (one query)."""
    from tasks.models import CloudTask, TaskStatus

    return set(
        CloudTask.objects.filter(
            resource_type__in={s["resource_type"] for s in suborders},
            resource_id__in={s["resource_id"] for s in suborders if s["resource_id"]},
            task_type__in={f"{verb}_{s['resource_type']}" for s in suborders for verb in ("delete", "destroy")},
            status=TaskStatus.DONE,
        )
        # No ORDER BY: the model's "-id" would let MariaDB walk the whole primary key
        # (every task ever) instead of seeking the (resource_type, resource_id) index.
        .order_by()
        .values_list("resource_type", "resource_id")
    )


class _Failure(Exception):
    def __init__(self, reason: str, detail: str, amount=None):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.amount = amount


class _Priced:
    """A quote and what the renewals it prices store, worked out once per batch however many rows share it."""

    __slots__ = ("quote", "lines", "_amount")

    def __init__(self, quote):
        self.quote = quote
        self.lines = quote.as_json()
        self._amount = None

    @property
    def amount(self):
        if self._amount is None:
            self._amount = self.quote.amount
        return self._amount


def _run_batch(*, now, horizon, grace, batch_size, report) -> int:
    with transaction.atomic():
        suborders = _due(now, horizon, batch_size)
        if not suborders:
            return 0
        run = _BatchRun(suborders, now=now, grace=grace, report=report)
        batch = Batch(now)
        for suborder in suborders:
            run.renew_one(suborder, batch)
        batch.write()
        for suborder in batch.suspended:
            place_suspend_operation(suborder=_SubOrderRef(suborder), resume=False)
        for suborder in batch.resumed:
            place_suspend_operation(suborder=_SubOrderRef(suborder), resume=True)
        report.suspended += len(batch.suspended)
        report.resumed += len(batch.resumed)
        return len(suborders)


class _SubOrderRef:
    """The attributes ``place_suspend_operation`` reads, from a loaded row."""

    def __init__(self, row: dict):
        self.pk = row["pk"]
        self.order_id = row["order_id"]
        self.customer_id = row["customer_id"]
        self.resource_type = row["resource_type"]
        self.resource_id = row["resource_id"]
        self.site_id = row["site_id"]


class _BatchRun:
    """One batch's decisions: what it read (a fixed set of queries) and the rules applied row by row in memory.

    The rows of a batch share few distinct period starts, specs and prices, so the
    pure computations (period ends, quotes, key and date stamps, the translated
    ledger wording) are made once per distinct input and reused: every row gets
    exactly what computing it on its own would give.
    """

    def __init__(self, suborders: list[dict], *, now, grace, report):
        self.now = now
        self.grace = grace
        self.report = report
        starts = {s["expire_at"] for s in suborders}
        self.existing = {
            (r["suborder_id"], r["period_start"]): r
            for r in ShopSuborderRenewal.objects.filter(
                suborder_id__in=[s["pk"] for s in suborders], period_start__in=starts
            )
            .order_by()  # the model's "-id" made MariaDB scan the whole table in id order
            .values(
                "id",
                "suborder_id",
                "period_start",
                "period_end",
                "status",
                "attempts",
                "amount",
                "price_lines",
                "fail_reason",
                "fail_detail",
            )
        }
        self.book = PriceBook.load(
            site_ids={s["site_id"] for s in suborders},
            billing_cycles={s["billing_cycle"] for s in suborders},
            earliest=min(starts),
            latest=max(starts),
        )
        self.accounts = {
            a["customer_id"]: a
            for a in CustomerAccount.objects.select_for_update()
            .filter(customer_id__in={s["customer_id"] for s in suborders})
            .order_by("pk")
            .values("pk", "customer_id", "currency", "balance")
        }
        stamps = {start: _key_stamp(start) for start in starts}
        self.keys = {s["pk"]: _stamped_key(s["pk"], stamps[s["expire_at"]]) for s in suborders}
        destroyed = _destroyed(suborders)
        for suborder in suborders:
            suborder["gone"] = (suborder["resource_type"], suborder["resource_id"]) in destroyed
        self.charged = set(
            AccountLedgerEntry.objects.filter(idempotency_key__in=self.keys.values())
            .order_by()
            .values_list("idempotency_key", flat=True)
        )
        self._ends: dict = {}
        self._anchors: dict = {}
        self._priced: dict = {}
        self._items: dict = {}
        self._days: dict = {}
        self._debit_reason = _("Renewal of sub-order %(id)s from %(start)s")

    def period_end(self, suborder: dict, start: datetime) -> datetime:
        service_start = suborder["service_start"] or start
        key = (start, suborder["billing_cycle"], service_start)
        end = self._ends.get(key)
        if end is None:
            anchor = self._anchors.get(service_start)
            if anchor is None:
                anchor = self._anchors[service_start] = anchor_day_of(service_start)
            end = self._ends[key] = period_end(start, billing_cycle=suborder["billing_cycle"], anchor_day=anchor)
        return end

    def price(self, suborder: dict, start: datetime) -> _Priced:
        """The quote of one period of ``suborder`` from ``start``; raises as :meth:`PriceBook.quote` does."""
        resource_type = suborder["resource_type"]
        items = self.items(resource_type, suborder["spec"])
        key = (resource_type, items, suborder["site_id"], suborder["billing_cycle"], start, suborder["currency"])
        priced = self._priced.get(key)
        if priced is None:
            quote = self.book.quote(
                resource_type=resource_type,
                spec=suborder["spec"],
                site_id=suborder["site_id"],
                billing_cycle=suborder["billing_cycle"],
                periods=1,
                at=start,
                currency=suborder["currency"],
            )
            priced = self._priced[key] = _Priced(quote)
        return priced

    def items(self, resource_type: str, spec) -> tuple:
        """What ``suborder_items`` bills, quantities as written ("2" and "2.0" price alike but read differently)."""
        try:
            # Equal values of one type read alike: the spec as (key, type, value) triples is a safe memo key.
            key = (resource_type, tuple((name, value.__class__, value) for name, value in spec.items()))
            items = self._items.get(key)
        except (AttributeError, TypeError):  # not a dict, or nested values: no memo, same errors as before
            key = items = None
        if items is None:
            items = tuple((code, str(quantity)) for code, quantity in suborder_items(resource_type, spec))
            if key is not None:
                self._items[key] = items
        return items

    def debit_reason(self, suborder: dict, start: datetime) -> str:
        day = self._days.get(start)
        if day is None:
            day = self._days[start] = timezone.localtime(start).strftime("%Y-%m-%d")
        return self._debit_reason % {"id": suborder["pk"], "start": day}

    def renew_one(self, suborder: dict, batch: Batch) -> None:
        now = self.now
        report = self.report
        start = suborder["expire_at"]
        renewal = self.existing.get((suborder["pk"], start))
        if renewal is not None and renewal["status"] == RenewalStatus.SUCCEEDED:
            # Applied but the expiry not moved (only a hand edit gets here): catch up, never charge again.
            suborder["expire_at"] = renewal["period_end"]
            batch.suborders.append(suborder)
            return
        if renewal is None:
            renewal = {
                "id": None,
                "suborder_id": suborder["pk"],
                "period_start": start,
                "period_end": self.period_end(suborder, start),
                "currency": suborder["currency"],
                "attempts": 0,
                "created_at": now,
            }
            batch.new_renewals.append(renewal)
        else:
            RENEWAL_TRANSITIONS.check(renewal["status"], RenewalStatus.FAILED, label="renewal", pk=renewal["id"])
            batch.changed_renewals.append(renewal)
        renewal["attempts"] += 1
        renewal["updated_at"] = now
        try:
            priced, entry = self.charge(suborder, renewal)
        except _Failure as failure:
            grace_end = start + self.grace
            renewal.update(
                status=RenewalStatus.FAILED,
                is_valid=False,
                amount=failure.amount if failure.amount is not None else renewal.get("amount") or 0,
                price_lines=renewal.get("price_lines") or [],
                fail_reason=failure.reason,
                fail_detail=failure.detail,
                next_retry_at=retry_at(now=now, attempts=renewal["attempts"], grace_end=grace_end),
                applied_at=None,
            )
            why = {"reason": failure.detail, "fail_reason": failure.reason}
            batch.log(
                suborder,
                renewal,
                action=RenewalLogAction.ATTEMPT,
                outcome=RenewalLogOutcome.FAILED,
                amount=failure.amount,
                **why,
            )
            report.failed += 1
            if suborder["status"] == SubOrderStatus.ACTIVE and now >= grace_end:
                batch.suborders.append(suborder)
                _switch(batch, suborder, renewal, to=SubOrderStatus.SUSPENDED, action=RenewalLogAction.SUSPEND, **why)
            return
        amount = priced.amount
        renewal.update(
            status=RenewalStatus.SUCCEEDED,
            is_valid=True,
            amount=amount,
            price_lines=priced.lines,
            # A retry that succeeds keeps why the earlier attempts failed (the log has each attempt too).
            fail_reason=renewal.get("fail_reason", ""),
            fail_detail=renewal.get("fail_detail", ""),
            next_retry_at=None,
            applied_at=now,
        )
        if entry is not None:
            batch.entries.append(entry)
        batch.log(
            suborder, renewal, action=RenewalLogAction.ATTEMPT, outcome=RenewalLogOutcome.SUCCEEDED, amount=amount
        )
        suborder["expire_at"] = renewal["period_end"]
        if suborder["status"] == SubOrderStatus.SUSPENDED:
            _switch(
                batch, suborder, renewal, to=SubOrderStatus.ACTIVE, action=RenewalLogAction.RESUME, reason=_("renewed")
            )
        batch.suborders.append(suborder)
        if entry is not None:
            account = self.accounts[suborder["customer_id"]]
            batch.accounts[account["pk"]] = account
        report.renewed += 1
        report.amount[suborder["currency"]] = report.amount.get(suborder["currency"], 0) + amount

    def charge(self, suborder: dict, renewal: dict):
        """Price the period and debit the account in memory; raise _Failure with a fixed reason."""
        if not suborder["resource_id"] or suborder["gone"]:
            raise _Failure(RenewalFailReason.RESOURCE_GONE, _("The sub-order's resource no longer exists."))
        try:
            priced = self.price(suborder, renewal["period_start"])
        except DomainError as refusal:
            raise _Failure(RenewalFailReason.NO_VALID_PRICE, refusal.message) from None
        except Exception as error:  # a bad spec in the database must not stop the batch
            logger.exception("renewal of sub-order %s could not be priced", suborder["pk"])
            raise _Failure(RenewalFailReason.PROGRAM_ERROR, f"{type(error).__name__}: {error}") from None
        key = self.keys[suborder["pk"]]
        amount = priced.amount
        if key in self.charged or amount == 0:
            return priced, None
        account = self.accounts.get(suborder["customer_id"])
        balance = account["balance"] if account is not None else 0
        if account is not None and account["currency"] != suborder["currency"]:
            raise _Failure(
                RenewalFailReason.PROGRAM_ERROR,
                _("The account is kept in %(account)s, the sub-order in %(currency)s.")
                % {"account": account["currency"], "currency": suborder["currency"]},
                amount,
            )
        if balance < amount:
            raise _Failure(
                RenewalFailReason.INSUFFICIENT_BALANCE,
                insufficient_balance_message(balance=balance, currency=suborder["currency"], amount=amount),
                amount,
            )
        account["balance"] -= amount
        self.charged.add(key)
        entry = {
            "account_id": account["pk"],
            "customer_id": account["customer_id"],
            "kind": LedgerKind.DEBIT,
            "amount": amount,
            "balance_after": account["balance"],
            "currency": account["currency"],
            "reason": self.debit_reason(suborder, renewal["period_start"]),
            "renewal": renewal,
            "idempotency_key": key,
            "created_at": self.now,
        }
        return priced, entry


def _switch(batch: Batch, suborder: dict, renewal: dict, *, to: str, action: str, **why) -> None:
    """Suspend or resume a loaded sub-order (guarded), queue its stop or start operation, and log it."""
    SUBORDER_TRANSITIONS.check(suborder["status"], to, label="sub-order", pk=suborder["pk"])
    suborder["status"] = to
    (batch.suspended if to == SubOrderStatus.SUSPENDED else batch.resumed).append(suborder)
    batch.log(suborder, renewal, action=action, outcome=RenewalLogOutcome.SUCCEEDED, **why)
