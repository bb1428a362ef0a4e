"""The renewal log as CSV, streamed, for finance (admin export and API)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.utils import timezone

COLUMNS = [
    ("id", "id"),
    ("created_at", "created_at"),
    ("customer_id", "customer_id"),
    ("suborder_id", "suborder_id"),
    ("renewal_id", "renewal_id"),
    ("site_id", "site_id"),
    ("billing_cycle", "billing_cycle"),
    ("period_start", "period_start"),
    ("period_end", "period_end"),
    ("action", "action"),
    ("outcome", "outcome"),
    ("fail_reason", "fail_reason"),
    ("reason", "reason"),
    ("currency", "currency"),
    ("amount", "amount"),
    ("operator", "operator_name"),
]


class _Line:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "tzinfo") and hasattr(value, "isoformat"):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    # Decimal keeps the database's digits (str(Decimal("670.0000")) == "670.0000").
    return str(value)


def renewal_logs_csv(queryset) -> Iterator[str]:
    """The rows of ``queryset`` (renewal logs) as CSV lines: a header, then one line per row.

    Amounts are written exactly as stored (Decimal, never float); text stays
    UTF-8 with Chinese intact; times are in the platform's time zone. The first
    line starts with a byte-order mark so spreadsheet programs read UTF-8.
    Rows are read in chunks, so a large export never sits in memory.
    """
    writer = csv.writer(_Line())
    header = [name for name, _field in COLUMNS]
    yield "\ufeff" + writer.writerow(header)
    fields = [field for _name, field in COLUMNS]
    for row in queryset.order_by("pk").values_list(*fields).iterator(chunk_size=2000):
        yield writer.writerow([_cell(value) for value in row])
