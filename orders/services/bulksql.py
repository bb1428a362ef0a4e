"""Multi-row INSERT and UPDATE statements for the renewal run's hot path.

``bulk_create``/``bulk_update`` spend far more Python time per row than the
database spends writing it (model instances, expression trees, per-value
preparation). The renewal run writes plain tuples through these two helpers
instead: one statement per chunk, values adapted once per column type, columns
and table names taken from the models, so the schema stays the models' own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models


def _datetime_adapter():
    # A batch repeats few distinct moments (now, period starts): adapt each once.
    adapt, cache = connection.ops.adapt_datetimefield_value, {}

    def adapt_cached(value):
        if value is None:
            return None
        found = cache.get(value)
        if found is None:
            found = cache[value] = adapt(value)
        return found

    return adapt_cached


def _adapters(model, fields: Sequence[str]):
    adapters = []
    for name in fields:
        field = model._meta.get_field(name)
        if isinstance(field, models.DateTimeField):
            adapters.append(_datetime_adapter())
        elif isinstance(field, models.JSONField):
            adapters.append(json.dumps)
        else:
            adapters.append(None)
    return adapters


def _adapt(rows, adapters):
    out = []
    for row in rows:
        out.extend(value if adapt is None else adapt(value) for value, adapt in zip(row, adapters, strict=True))
    return out


def _chunks(rows: list, params_per_row: int):
    limit = connection.features.max_query_params
    size = max(1, limit // params_per_row) if limit else len(rows) or 1
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_rows(model, fields: Sequence[str], rows: list[tuple], *, returning: bool = False) -> list[int] | None:
    """INSERT ``rows`` (tuples in ``fields`` order); with ``returning``, the new ids in row order.

    Returns None for ids when the database cannot return them from a multi-row
    insert (MySQL proper); the caller then looks them up by a unique key.
    """
    if not rows:
        return [] if returning else None
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = returning and connection.features.can_return_rows_from_bulk_insert
    adapters = _adapters(model, fields)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, len(fields)):
            sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES " + ", ".join(
                [placeholders] * len(chunk)
            )
            if returning:
                sql += f" RETURNING {quote(model._meta.pk.column)}"
            cursor.execute(sql, _adapt(chunk, adapters))
            if returning:
                ids.extend(row[0] for row in cursor.fetchall())
    return ids if returning else None


def update_rows(model, fields: Sequence[str], rows: list[tuple]) -> None:
    """UPDATE each row (``(pk, *values)``, values in ``fields`` order) with one CASE statement per chunk."""
    if not rows:
        return
    quote = connection.ops.quote_name
    pk = quote(model._meta.pk.column)
    adapters = _adapters(model, fields)
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 2 * len(fields) + 1):
            params: list = []
            sets = []
            for index, (name, adapt) in enumerate(zip(fields, adapters, strict=True)):
                whens = []
                for row in chunk:
                    value = row[index + 1]
                    whens.append("WHEN %s THEN %s")
                    params.extend((row[0], value if adapt is None else adapt(value)))
                sets.append(f"{quote(model._meta.get_field(name).column)} = CASE {pk} {' '.join(whens)} END")
            params.extend(row[0] for row in chunk)
            where = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"UPDATE {quote(model._meta.db_table)} SET {', '.join(sets)} WHERE {pk} IN ({where})", params
            )
