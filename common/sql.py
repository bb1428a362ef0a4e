"""New rows written in one plain INSERT, as ``save()`` / ``bulk_create()`` would write them.

For the few rows a pipeline message adds (a task, its subtasks, a lock, a
workflow_task and its plan): building the INSERT with the ORM costs several times
what the database spends on it. The SQL is built once per (model, database, row
count) from the model's metadata; each value is prepared by its field.
"""

from __future__ import annotations

from django.db import connections, models, router, transaction
from django.db.models.signals import post_save, pre_save

_inserts: dict[tuple, tuple[str, tuple] | None] = {}


def _insert_plan(model: type[models.Model], connection, count: int):
    """(SQL, fields) of a ``count``-row INSERT of ``model``, or ``None`` where ``save()`` must do it."""
    meta = model._meta
    if (
        meta.parents
        or meta.auto_field is None
        or meta.auto_field is not meta.pk
        or (count > 1 and not connection.features.can_return_rows_from_bulk_insert)
    ):
        return None
    fields = tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field)
    if connection.ops.bulk_batch_size(fields, [None] * count) < count or any(
        hasattr(f, "get_placeholder") or f.db_default is not models.NOT_PROVIDED for f in fields
    ):
        return None
    quote = connection.ops.quote_name
    row = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES {', '.join([row] * count)}"
    )
    if count > 1:
        returning, _ = connection.ops.return_insert_columns([meta.pk])
        sql = f"{sql} {returning}"
    return sql, fields


def insert(objs: list[models.Model]) -> None:
    """Save new instances of one model in one INSERT, as ``save()`` / ``bulk_create()`` would, pks set.

    Values are what ``save()`` writes (``pre_save()`` fills ``auto_now_add``, each
    field prepares its value). One row of a model with save signals, a model with
    inheritance or special fields, or several rows on a database that cannot
    return their ids, go through ``save()`` / ``bulk_create()``.
    """
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    key = (model, connection.vendor, len(objs), connection.features.can_return_rows_from_bulk_insert)
    if key not in _inserts:
        _inserts[key] = _insert_plan(model, connection, len(objs))
    plan = _inserts[key]
    if len(objs) == 1 and (pre_save.has_listeners(model) or post_save.has_listeners(model)):
        plan = None  # save() sends them (bulk_create() does not)
    params = None
    if plan is not None:
        sql, fields = plan
        params = []
        for obj in objs:
            for f in fields:
                value = f.pre_save(obj, True)
                if hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"):
                    params = None
                    break
                params.append(f.get_db_prep_save(value, connection))
            if params is None:
                break
    if params is None:
        if len(objs) == 1 or not connection.features.can_return_rows_from_bulk_insert:
            for obj in objs:  # save() sets each pk, which bulk_create() cannot do there
                obj.save(force_insert=True, using=alias)
        else:
            model._default_manager.db_manager(alias).bulk_create(objs)
        return
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [cursor.lastrowid] if len(objs) == 1 else [row[0] for row in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = model._meta.pk.to_python(pk)
        obj._state.adding = False
        obj._state.db = alias
