"""The statements every pipeline message runs, as plain SQL built once from the models' metadata.

A message of the pipeline runs a handful of small statements. Building each with
the ORM costs several times what the database spends on it, so the ones run for
every message are here: each reads only the columns its step uses, and writes
exactly what ``QuerySet.update()`` would (values prepared by their fields). Table
and column names come from the models, quoted by the database's backend, so the
SQL follows the models. Status changes do not live here: they are guarded
transitions (:mod:`tasks.services.moves`). Everything else uses the ORM.
"""

from __future__ import annotations

from django.db import connections, models, router, transaction
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from ..models import CloudTask, CloudTaskResourceLock, CloudTaskSubtask, ResUserOperation, SubtaskStatus, TaskStatus


class _Names:
    """``{x}`` is the table (with its alias, if any), ``{x.field}`` a column (qualified unless ``bare``)."""

    def __init__(self, model: type[models.Model], quote, alias: str = "", bare: bool = False):
        self._model, self._quote, self._alias, self._bare = model, quote, alias, bare

    def __str__(self):
        table = self._quote(self._model._meta.db_table)
        return f"{table} {self._quote(self._alias)}" if self._alias else table

    def __getattr__(self, name: str) -> str:
        meta = self._model._meta
        column = self._quote(meta.pk.column if name == "pk" else meta.get_field(name).column)
        if self._bare:
            return column
        return f"{self._quote(self._alias or meta.db_table)}.{column}"


class Statement:
    """One SQL template; ``tables`` maps each placeholder to a model or ``(model, alias)``.

    ``for_update``: a locking read (``FOR UPDATE`` where the database has it, as
    ``select_for_update()`` does).
    """

    def __init__(self, template: str, *, bare: bool = False, for_update: bool = False, **tables):
        self.template = " ".join(template.split())
        self.tables = {key: value if isinstance(value, tuple) else (value, "") for key, value in tables.items()}
        self.bare = bare
        self.for_update = for_update
        self._sql: dict[str, str] = {}

    def sql(self, connection) -> str:
        try:
            return self._sql[connection.vendor]
        except KeyError:
            quote = connection.ops.quote_name
            names = {key: _Names(model, quote, alias, self.bare) for key, (model, alias) in self.tables.items()}
            sql = self.template.format(**names)
            if self.for_update and connection.features.has_select_for_update:
                sql = f"{sql} {connection.ops.for_update_sql()}"
            self._sql[connection.vendor] = sql
            return sql


def _fetch(statement: Statement, model, params, *, many: bool = False):
    connection = connections[router.db_for_read(model)]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql(connection), params)
        return cursor.fetchall() if many else cursor.fetchone()


def _write(statement: Statement, model, params_of) -> int:
    """Run a write; ``params_of(connection)`` gives its parameters (values prepared for that database)."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(statement.sql(connection), params_of(connection))
        return cursor.rowcount


def _prep(model, name: str, value, connection):
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _json(model, name: str, value, connection):
    return model._meta.get_field(name).from_db_value(value, None, connection)


_orders: dict[tuple, tuple[tuple[str, ...], tuple[int, ...]]] = {}


def _instance(model: type[models.Model], alias: str, names: tuple[str, ...], values) -> models.Model:
    """A model instance with the columns read (``names``, attnames) loaded and the others deferred."""
    order = _orders.get((model, names))
    if order is None:
        attnames = [f.attname for f in model._meta.concrete_fields]
        ranked = sorted(range(len(names)), key=lambda i: attnames.index(names[i]))
        order = _orders[(model, names)] = (tuple(names[i] for i in ranked), tuple(ranked))
    attnames, ranked = order
    return model.from_db(alias, attnames, [values[i] for i in ranked])


# --- an operation, for making its task ------------------------------------------------------

_OPERATION_COLUMNS = (
    "id",
    "customer_id",
    "task_type",
    "resource_type",
    "resource_id",
    "site_id",
    "params",
    "task_status",
    "order_id",
    "suborder_id",
)
_OPERATION = Statement(
    "SELECT " + ", ".join(f"{{o.{name}}}" for name in _OPERATION_COLUMNS) + " FROM {o} WHERE {o.id} = %s",
    o=ResUserOperation,
)


def operation_for_task(operation_id: int) -> ResUserOperation | None:
    """The operation's columns a task is made of (the others deferred), or ``None``."""
    alias = router.db_for_read(ResUserOperation)
    row = _fetch(_OPERATION, ResUserOperation, [operation_id])
    if row is None:
        return None
    row = list(row)
    row[6] = _json(ResUserOperation, "params", row[6], connections[alias])
    return _instance(ResUserOperation, alias, _OPERATION_COLUMNS, row)


# --- a subtask, with what running it needs ----------------------------------------------------

_SUBTASK_COLUMNS = (
    "id",
    "task_id",
    "step",
    "group",
    "action",
    "mode",
    "status",
    "attempts",
    "max_attempts",
    "params",
    "timeout",
    "backoff",
)
_TASK_COLUMNS = ("id", "customer_id", "resource_type", "resource_id", "site_id", "status", "task_type")
_SUBTASK_TO_RUN = Statement(
    "SELECT "
    + ", ".join([f"{{s.{name}}}" for name in _SUBTASK_COLUMNS] + [f"{{t.{name}}}" for name in _TASK_COLUMNS])
    + " FROM {s} INNER JOIN {t} ON {t.id} = {s.task_id} WHERE {s.id} = %s",
    s=CloudTaskSubtask,
    t=CloudTask,
)


def subtask_to_run(subtask_id: int) -> CloudTaskSubtask | None:
    """The subtask (the columns a run uses) with its task (resource, site, customer, status) in one query."""
    alias = router.db_for_read(CloudTaskSubtask)
    row = _fetch(_SUBTASK_TO_RUN, CloudTaskSubtask, [subtask_id])
    if row is None:
        return None
    values = list(row[: len(_SUBTASK_COLUMNS)])
    values[9] = _json(CloudTaskSubtask, "params", values[9], connections[alias])
    subtask = _instance(CloudTaskSubtask, alias, _SUBTASK_COLUMNS, values)
    task = _instance(CloudTask, alias, _TASK_COLUMNS, row[len(_SUBTASK_COLUMNS) :])
    CloudTaskSubtask.task.field.set_cached_value(subtask, task)
    return subtask


_SET_WORKFLOW = Statement(
    "UPDATE {s} SET {s.workflow_task_id} = %s WHERE {s.id} = %s AND {s.attempts} = %s",
    bare=True,
    s=CloudTaskSubtask,
)


def subtask_set_workflow(subtask_id: int, attempt: int, workflow_task_id) -> bool:
    """Link the subtask's current attempt to coreTasker's workflow task (not a later attempt's)."""
    return bool(_write(_SET_WORKFLOW, CloudTaskSubtask, lambda connection: [workflow_task_id, subtask_id, attempt]))


_RAISE_PROGRESS = Statement(
    "UPDATE {s} SET {s.progress} = %s"
    " WHERE {s.id} = %s AND {s.status} = %s AND {s.attempts} = %s AND {s.progress} < %s",
    bare=True,
    s=CloudTaskSubtask,
)


def subtask_raise_progress(subtask_id: int, attempt: int, progress: int) -> bool:
    """Raise (never lower) the progress of a DOING subtask's attempt ``attempt``."""
    return bool(
        _write(
            _RAISE_PROGRESS,
            CloudTaskSubtask,
            lambda connection: [progress, subtask_id, SubtaskStatus.DOING.value, attempt, progress],
        )
    )


# --- a task's subtasks, for moving the task on -----------------------------------------------

_LOCKED_COLUMNS = "{t.id}, {t.status}, {t.operation_id}, {t.suborder_id}, {t.current_group}"
_LOCK_TASK = Statement(f"SELECT {_LOCKED_COLUMNS} FROM {{t}} WHERE {{t.id}} = %s", for_update=True, t=CloudTask)
_LOCK_TASK_OF = Statement(
    f"SELECT {_LOCKED_COLUMNS} FROM {{t}} INNER JOIN {{s}} ON {{t.id}} = {{s.task_id}} WHERE {{s.id}} = %s",
    for_update=True,
    t=CloudTask,
    s=CloudTaskSubtask,
)


class LockedTask:
    """A task's row, read under its row lock: what moving the task on needs of it."""

    __slots__ = ("task_id", "status", "operation_id", "suborder_id", "current_group")

    def __init__(self, row):
        self.task_id, self.status, self.operation_id, self.suborder_id, self.current_group = row


def task_lock(*, task_id: int | None = None, subtask_id: int | None = None) -> LockedTask | None:
    """Lock the row of ``task_id``, or of the task of ``subtask_id`` (``SELECT ... FOR UPDATE``), and
    return its state; ``None`` if there is no such task. A locking read sees the latest committed row."""
    statement, key = (_LOCK_TASK, task_id) if task_id is not None else (_LOCK_TASK_OF, subtask_id)
    row = _fetch(statement, CloudTask, [key])
    return None if row is None else LockedTask(row)


_TASK_SUBTASKS = Statement(
    "SELECT {s.id}, {s.group}, {s.status}, {s.action}, {s.result} FROM {s} WHERE {s.task_id} = %s ORDER BY {s.step}",
    s=CloudTaskSubtask,
)


class TaskRows:
    """Every subtask of one task, in step order; read in one query."""

    def __init__(self, rows: list, connection):
        self._rows, self._connection = rows, connection
        #: ``(id, group, status)`` of each subtask.
        self.subtasks = [(row[0], row[1], row[2]) for row in rows]

    def results(self) -> dict:
        """action -> result, in step order (decoded only when asked: a task finishes once)."""
        return {row[3]: _json(CloudTaskSubtask, "result", row[4], self._connection) for row in self._rows}


def task_rows(*, task_id: int) -> TaskRows | None:
    """The subtasks of ``task_id``; ``None`` if there are none."""
    connection = connections[router.db_for_read(CloudTaskSubtask)]
    rows = _fetch(_TASK_SUBTASKS, CloudTaskSubtask, [task_id], many=True)
    return TaskRows(rows, connection) if rows else None


_ADVANCE_GROUP = Statement(
    "UPDATE {t} SET {t.current_group} = %s, {t.updated_at} = %s"
    " WHERE {t.id} = %s AND {t.status} = %s AND {t.current_group} < %s",
    bare=True,
    t=CloudTask,
)


def task_advance_group(task_id: int, group: int) -> bool:
    """Move a DOING task's ``current_group`` forward to ``group``; ``True`` for the one caller that does."""
    now = timezone.now()
    return bool(
        _write(
            _ADVANCE_GROUP,
            CloudTask,
            lambda connection: [
                group,
                _prep(CloudTask, "updated_at", now, connection),
                task_id,
                TaskStatus.DOING.value,
                group,
            ],
        )
    )


_RELEASE = Statement("DELETE FROM {k} WHERE {k.task_id} = %s", bare=True, k=CloudTaskResourceLock)


def lock_delete(task_id: int) -> int:
    """Delete the lock rows ``task_id`` holds; how many (through the ORM if anyone listens to deletes)."""
    if pre_delete.has_listeners(CloudTaskResourceLock) or post_delete.has_listeners(CloudTaskResourceLock):
        deleted, _ = CloudTaskResourceLock.objects.filter(task_id=task_id).delete()
        return deleted
    return _write(_RELEASE, CloudTaskResourceLock, lambda connection: [task_id])
