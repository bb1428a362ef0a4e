"""The statements coreTasker runs for every pipeline message, written out.

Each Celery message of a plan's run costs a handful of small statements. Built
through the ORM, each costs several times what the database spends on it
(query building, model instances, per-field conversions); these helpers send
them as written. The INSERT and UPDATE helpers take table and column names from
the models and prepare values with the models' fields, so the schema stays
defined in one place.
Status changes do not go through here: they stay guarded transitions
(:func:`common.transitions.transition`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models


def fetch(sql: str, params: Sequence = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence = ()) -> int:
    """Run one statement; the number of rows it matched (as ``QuerySet.update()`` counts them)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def for_update() -> str:
    """The locking clause of a SELECT that locks the rows it reads (none on SQLite, which locks the database)."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def json_value(value):
    """A JSON column as read (the ORM's JSONField decodes it the same way)."""
    return None if value is None else json.loads(value)


def update_row(model: type[models.Model], pk: int, changes: dict, where: dict | None = None) -> int:
    """UPDATE one row's ``changes`` (``{attname: value}``) if it also matches ``where``; rows changed (0 or 1).

    Like ``QuerySet.update()``, ``auto_now`` columns are only written when named.
    """
    quote = connection.ops.quote_name
    meta = model._meta
    sets, params = [], []
    for name, value in changes.items():
        field = meta.get_field(name)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions = [f"{quote(meta.pk.column)} = %s"]
    params.append(pk)
    for name, value in (where or {}).items():
        field = meta.get_field(name)
        conditions.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_value(value, connection))
    return execute(f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} WHERE {' AND '.join(conditions)}", params)


def update_rows(model: type[models.Model], names: Sequence[str], rows: Sequence[tuple]) -> None:
    """Give several rows each their own values in one UPDATE (``rows``: ``(pk, *values in names order)``)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = model._meta
    pk = quote(meta.pk.column)
    sets, params = [], []
    for index, name in enumerate(names, start=1):
        field = meta.get_field(name)
        sets.append(f"{quote(field.column)} = CASE {pk} {' '.join(['WHEN %s THEN %s'] * len(rows))} END")
        for row in rows:
            params.extend((row[0], field.get_db_prep_save(row[index], connection)))
    params.extend(row[0] for row in rows)
    execute(
        f"UPDATE {quote(meta.db_table)} SET {', '.join(sets)} WHERE {pk} IN ({', '.join(['%s'] * len(rows))})",
        params,
    )
