"""Usage metering: accept batches of usage samples.

A batch is checked row by row. Good rows are stored and bad rows are reported
(index, field, code, message); the batch is not refused as a whole. Metering
senders fix the bad rows and send the whole batch again: every row carries a
``sample_id`` and a row already stored is counted as a duplicate and changes
nothing, so the resend stores exactly the fixed rows. A resent ``sample_id``
with a different value is still a duplicate: the first one stored wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from common.errors import InvalidInput

from .bulk import insert_rows
from .models import BillingItemType, UsageSample

#: The most rows one call takes.
MAX_BATCH = getattr(settings, "BILLING_USAGE_MAX_BATCH", 10_000)
#: How far ahead of the server's clock a sample may be (meters' clocks drift a little).
CLOCK_SKEW = timedelta(seconds=getattr(settings, "BILLING_USAGE_CLOCK_SKEW_SECONDS", 60))
#: Rows per INSERT statement.
INSERT_CHUNK = 2_000
VALUE_DECIMALS = 6
VALUE_MAX = Decimal(10) ** 18

REQUIRED = (
    "sample_id",
    "customer_id",
    "site_id",
    "resource_type",
    "resource_id",
    "item",
    "value",
    "unit",
    "sampled_at",
)
COLUMNS = (
    "sample_id",
    "customer_id",
    "site_id",
    "resource_type",
    "resource_id",
    "item_type",
    "value",
    "sampled_at",
    "received_at",
)
MAX_LENGTHS = {"sample_id": 64, "customer_id": 64, "site_id": 64, "resource_type": 16, "resource_id": 64}


@dataclass(frozen=True)
class RowError:
    index: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class UsageBatchResult:
    received: int
    accepted: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": len(self.errors),
            "errors": [error.as_dict() for error in self.errors],
        }


def _check_row(index: int, row, items: dict[str, BillingItemType], now: datetime):
    """The row's values in ``COLUMNS`` order for a good row, or the row's first ``RowError``."""
    if not isinstance(row, dict):
        return RowError(index, "", "invalid", _("A sample must be an object."))
    for name in REQUIRED:
        if row.get(name) in (None, ""):
            return RowError(index, name, "required", _("This field is required."))
    for name, length in MAX_LENGTHS.items():
        if len(str(row[name])) > length:
            return RowError(index, name, "too_long", _("At most %(n)d characters.") % {"n": length})
    item = items.get(row["item"])
    if item is None:
        return RowError(index, "item", "unknown_item", _("Unknown billing item %(code)s.") % {"code": row["item"]})
    if str(row["unit"]) != item.unit:
        return RowError(
            index,
            "unit",
            "wrong_unit",
            _("%(code)s is metered in %(unit)s, not %(given)s.")
            % {"code": item.code, "unit": item.unit, "given": row["unit"]},
        )
    raw = row["value"]
    try:
        value = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        return RowError(index, "value", "invalid", _("The value is not a number."))
    if value < 0:
        return RowError(index, "value", "negative", _("A usage value cannot be negative."))
    if -value.as_tuple().exponent > VALUE_DECIMALS or value >= VALUE_MAX:
        return RowError(index, "value", "invalid", _("At most %(n)d decimals and 18 digits.") % {"n": VALUE_DECIMALS})
    sampled_at = row["sampled_at"]
    if isinstance(sampled_at, str):
        try:
            sampled_at = parse_datetime(sampled_at)
        except ValueError:
            sampled_at = None
    if not isinstance(sampled_at, datetime) or timezone.is_naive(sampled_at):
        return RowError(
            index, "sampled_at", "invalid", _("Give an ISO 8601 time with its offset, e.g. 2026-11-25T10:00:00Z.")
        )
    if sampled_at > now + CLOCK_SKEW:
        return RowError(index, "sampled_at", "future", _("A sample cannot be taken in the future."))
    return (
        str(row["sample_id"]),
        str(row["customer_id"]),
        str(row["site_id"]),
        str(row["resource_type"]),
        str(row["resource_id"]),
        item.pk,
        value,
        sampled_at,
        now,
    )


def usage_record_batch(*, samples: list[dict]) -> UsageBatchResult:
    """Store a batch of usage samples (at most ``MAX_BATCH``), idempotent by ``sample_id``.

    Each row: ``sample_id``, ``customer_id``, ``site_id``, ``resource_type``,
    ``resource_id``, ``item`` (an item type code), ``value`` (>= 0, Decimal or
    string), ``unit`` (must be the item's unit), ``sampled_at`` (aware datetime
    or ISO 8601 string, not in the future).

    Guarantees: good rows are stored in bulk inserts; bad rows are reported in
    ``errors`` with their index and not stored; rows whose ``sample_id`` is
    already stored (or repeated in the batch) are counted in ``duplicates`` and
    change nothing. A request that is not a list, or is longer than
    ``MAX_BATCH``, raises ``InvalidInput`` and stores nothing.
    """
    if not isinstance(samples, list):
        raise InvalidInput(_("Send a list of samples."), field="samples")
    if len(samples) > MAX_BATCH:
        raise InvalidInput(
            _("At most %(max)d samples per batch, got %(n)d.") % {"max": MAX_BATCH, "n": len(samples)},
            code="batch_too_large",
            field="samples",
        )
    result = UsageBatchResult(received=len(samples))
    items = {item.code: item for item in BillingItemType.objects.filter(is_active=True)}
    now = timezone.now()
    good: dict[str, tuple] = {}
    for index, row in enumerate(samples):
        checked = _check_row(index, row, items, now)
        if isinstance(checked, RowError):
            result.errors.append(checked)
        elif checked[0] in good:
            result.duplicates += 1
        else:
            good[checked[0]] = checked
    ids = list(good)
    stored = set()
    for start in range(0, len(ids), INSERT_CHUNK):
        chunk = ids[start : start + INSERT_CHUNK]
        stored.update(UsageSample.objects.filter(sample_id__in=chunk).order_by().values_list("sample_id", flat=True))
    new = [sample for sample_id, sample in good.items() if sample_id not in stored]
    with transaction.atomic():
        # ignore_conflicts: a concurrent resend of the same batch cannot fail this one.
        insert_rows(UsageSample, COLUMNS, new, ignore_conflicts=True)
    result.duplicates += len(stored)
    result.accepted = len(new)
    return result
