"""CSV export of charge lines for finance: streamed, UTF-8, Decimal values exactly as stored."""

import csv
from datetime import datetime

from django.http import StreamingHttpResponse
from django.utils import timezone

COLUMNS = [
    ("id", "id"),
    ("billing_cycle", "billing_cycle"),
    ("period_start", "period_start"),
    ("period_end", "period_end"),
    ("kind", "kind"),
    ("usage_period_start", "usage_period_start"),
    ("usage_period_end", "usage_period_end"),
    ("customer_id", "customer_id"),
    ("site_id", "site_id"),
    ("resource_type", "resource_type"),
    ("resource_id", "resource_id"),
    ("item", "item_type__code"),
    ("unit", "item_type__unit"),
    ("quantity", "quantity"),
    ("unit_price", "unit_price"),
    ("price_id", "price_id"),
    ("amount_exact", "amount_exact"),
    ("amount", "amount"),
    ("currency", "currency"),
    ("created_at", "created_at"),
]


class _Echo:
    def write(self, value):
        return value


def _cell(value):
    if isinstance(value, datetime):
        # The platform's time zone with its offset, as the renewal-log export and the admin show it.
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    return value  # Decimal -> str(Decimal): every stored digit, never a float


def charge_lines_csv_rows(queryset):
    """Yield CSV lines: a header, then one line per charge line (read in chunks)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([name for name, _ in COLUMNS])  # BOM: Excel then reads UTF-8
    rows = queryset.values_list(*[source for _, source in COLUMNS]).iterator(chunk_size=2000)
    for row in rows:
        yield writer.writerow([_cell(value) for value in row])


def stream_charge_lines_csv(queryset) -> StreamingHttpResponse:
    response = StreamingHttpResponse(charge_lines_csv_rows(queryset), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="charge-lines-{stamp}.csv"'
    return response
