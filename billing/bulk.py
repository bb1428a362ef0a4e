"""Multi-row INSERTs without model instances, for the two hot paths (usage batches, charge lines).

``bulk_create`` builds a model per row and prepares every value through its
field: profiled at 30,000 charge lines, that was most of the run. Here one
prepared statement goes to the driver's ``executemany`` (mysqlclient turns it
into multi-row INSERTs; sqlite3 reuses the statement). Values must already be
what the column takes: str, int, Decimal, or an aware datetime (adapted here,
once per distinct value).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, models
from django.db.models.constants import OnConflict

CHUNK = 2_000
STATEMENT_BYTES = 1024 * 1024


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[tuple], *, ignore_conflicts: bool = False
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) into ``model``'s table, in chunks, in the current transaction.

    ``ignore_conflicts`` skips rows that break a unique constraint, as
    ``bulk_create(ignore_conflicts=True)`` does (INSERT IGNORE / INSERT OR IGNORE).
    """
    ops = connection.ops
    fields = [model._meta.get_field(name) for name in columns]
    statement = ops.insert_statement(on_conflict=OnConflict.IGNORE if ignore_conflicts else None)
    sql = "{} {} ({}) VALUES ({})".format(
        statement,
        ops.quote_name(model._meta.db_table),
        ", ".join(ops.quote_name(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    datetimes = [index for index, field in enumerate(fields) if isinstance(field, models.DateTimeField)]
    adapted: dict = {}

    def adapt(row: tuple) -> tuple:
        if not datetimes:
            return row
        row = list(row)
        for index in datetimes:
            value = row[index]
            if value is not None:
                if value not in adapted:
                    adapted[value] = ops.adapt_datetimefield_value(value)
                row[index] = adapted[value]
        return tuple(row)

    batch: list[tuple] = []
    with connection.cursor() as cursor:
        if hasattr(cursor.cursor, "max_stmt_length"):
            # mysqlclient joins executemany rows into INSERTs of at most this many bytes (64 KB by
            # default, ~190 charge lines); 1 MB statements stay far below max_allowed_packet (16 MB).
            cursor.cursor.max_stmt_length = STATEMENT_BYTES
        for row in rows:
            batch.append(adapt(row))
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
