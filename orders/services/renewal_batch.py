"""The rows one renewal batch writes, kept as plain dicts, and the fixed set of statements that write them."""

from __future__ import annotations

from ..models import AccountLedgerEntry, CustomerAccount, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal
from ._common import SCHEDULER_NAME
from .bulksql import insert_rows, update_rows

SUBORDER_FIELDS = (
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
)
_RENEWAL_STATE = (
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
)
_RENEWAL_INSERT = ("suborder_id", "period_start", "period_end", "currency", *_RENEWAL_STATE, "created_at")
_LEDGER_INSERT = (
    "account_id",
    "customer_id",
    "kind",
    "amount",
    "balance_after",
    "currency",
    "reason",
    "renewal_id",
    "idempotency_key",
    "created_at",
)
_LOG_INSERT = (
    "renewal_id",
    "suborder_id",
    "customer_id",
    "site_id",
    "billing_cycle",
    "period_start",
    "period_end",
    "action",
    "outcome",
    "reason",
    "fail_reason",
    "currency",
    "amount",
    "operator_name",
    "created_at",
)


class Batch:
    """The rows one batch writes, as plain dicts until the bulk statements."""

    def __init__(self, now):
        self.now = now
        self.new_renewals: list[dict] = []
        self.changed_renewals: list[dict] = []
        self.entries: list[dict] = []
        self.accounts: dict[int, dict] = {}
        self.suborders: list[dict] = []
        self.logs: list[dict] = []
        self.suspended: list[dict] = []
        self.resumed: list[dict] = []

    def log(self, suborder: dict, renewal: dict, **values) -> dict:
        row = {
            "renewal": renewal,
            "suborder_id": suborder["pk"],
            "customer_id": suborder["customer_id"],
            "site_id": suborder["site_id"],
            "billing_cycle": suborder["billing_cycle"],
            "period_start": renewal["period_start"],
            "period_end": renewal["period_end"],
            "reason": "",
            "fail_reason": "",
            "currency": suborder["currency"],
            "amount": None,
            "operator_name": SCHEDULER_NAME,
            "created_at": self.now,
            **values,
        }
        self.logs.append(row)
        return row

    def write(self) -> None:
        """Every write of the batch: a fixed number of statements whatever its size."""
        now = self.now
        ids = insert_rows(
            ShopSuborderRenewal,
            _RENEWAL_INSERT,
            [tuple(r[name] for name in _RENEWAL_INSERT) for r in self.new_renewals],
            returning=True,
        )
        if ids is None and self.new_renewals:
            # Databases that cannot return ids from a multi-row insert: one query finds them all.
            found = {
                (suborder_id, start): pk
                for pk, suborder_id, start in ShopSuborderRenewal.objects.filter(
                    suborder_id__in=[r["suborder_id"] for r in self.new_renewals]
                ).values_list("pk", "suborder_id", "period_start")
            }
            ids = [found[(r["suborder_id"], r["period_start"])] for r in self.new_renewals]
        for renewal, pk in zip(self.new_renewals, ids or [], strict=True):
            renewal["id"] = pk
        update_rows(
            ShopSuborderRenewal,
            _RENEWAL_STATE,
            [(r["id"], *(r[name] for name in _RENEWAL_STATE)) for r in self.changed_renewals],
        )
        for entry in self.entries:
            entry["renewal_id"] = entry.pop("renewal")["id"]
        insert_rows(AccountLedgerEntry, _LEDGER_INSERT, [tuple(e[n] for n in _LEDGER_INSERT) for e in self.entries])
        update_rows(
            CustomerAccount, ("balance", "updated_at"), [(pk, a["balance"], now) for pk, a in self.accounts.items()]
        )
        update_rows(
            ShopSubOrder,
            ("expire_at", "status", "updated_at"),
            [(s["pk"], s["expire_at"], s["status"], now) for s in self.suborders],
        )
        for log in self.logs:
            log["renewal_id"] = log.pop("renewal")["id"]
        insert_rows(ShopRenewalLog, _LOG_INSERT, [tuple(log[n] for n in _LOG_INSERT) for log in self.logs])
