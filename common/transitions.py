"""Guarded state transitions.

Every status column of the platform moves only along the edges of a
:class:`TransitionTable`. :func:`transition` applies one edge as a single
``UPDATE ... WHERE pk = %s AND status IN (<allowed from-states>)``: the from-state
is checked by the database in the same statement that writes the new state, so a
message delivered twice or two workers racing cannot move a row backwards or take
the same edge twice. Exactly one caller wins; the others get
:class:`IllegalTransition` (or ``False`` with ``quiet=True``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import connections, models, router, transaction
from django.db.models.manager import BaseManager
from django.db.models.query import QuerySet
from django.utils import timezone

from .errors import Conflict


class IllegalTransition(Conflict):
    """A status change that the model's transition table does not allow."""

    code = "illegal_transition"

    def __init__(self, model_label: str, pk, current: str | None, target: str):
        self.model_label = model_label
        self.pk = pk
        self.current = current
        self.target = target
        where = "missing" if current is None else current
        super().__init__(f"{model_label} #{pk}: cannot move from {where} to {target}")


@dataclass(frozen=True)
class TransitionTable:
    """The allowed edges of one status column: ``{from_state: {to_state, ...}}``."""

    name: str
    edges: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self):
        # Asked on every transition: answered once. States are keyed by their string value
        # (a TextChoices member hashes by its name, which need not be its value).
        entering: dict[str, set[str]] = {}
        for src, dsts in self.edges.items():
            for dst in dsts:
                entering.setdefault(str(dst), set()).add(src)
        object.__setattr__(self, "_entering", {dst: frozenset(srcs) for dst, srcs in entering.items()})
        object.__setattr__(self, "_leaving", {str(src): frozenset(map(str, dsts)) for src, dsts in self.edges.items()})
        object.__setattr__(self, "_paths", {})

    @classmethod
    def build(cls, name: str, edges: Mapping[str, Iterable[str]]) -> TransitionTable:
        return cls(name=name, edges={src: frozenset(dst) for src, dst in edges.items()})

    def allowed(self, src: str, dst: str) -> bool:
        return str(dst) in self._leaving.get(str(src), ())

    def sources(self, dst: str) -> frozenset[str]:
        """Every state from which ``dst`` may be entered."""
        return self._entering.get(str(dst), frozenset())

    def path_sources(self, dst: str, *, through: Iterable[str] = (), from_states: Iterable[str] | None = None):
        """The states from which a row may go ``src -> *through -> dst``, every step an edge of the table,
        narrowed to ``from_states`` if given. A ``through`` path that is not made of edges raises ValueError.
        """
        through = tuple(through)
        narrow = None if from_states is None else frozenset(map(str, from_states))
        key = (str(dst), tuple(map(str, through)), narrow)
        found = self._paths.get(key)
        if found is None:
            steps = (*through, dst)
            for src, nxt in zip(steps, steps[1:], strict=False):
                if not self.allowed(src, nxt):
                    raise ValueError(f"{self.name}: {src} -> {nxt} is not an edge of the table")
            found = self.sources(steps[0])
            if narrow is not None:
                found = frozenset(src for src in found if str(src) in narrow)
            self._paths[key] = found
        return found

    def states(self) -> frozenset[str]:
        found = set(self.edges)
        for dsts in self.edges.values():
            found |= dsts
        return frozenset(found)

    def check(self, src: str, dst: str, *, label: str = "", pk=None) -> None:
        if not self.allowed(src, dst):
            raise IllegalTransition(label or self.name, pk, src, dst)


def transition(
    model: type[models.Model],
    pk,
    *,
    table: TransitionTable,
    to: str,
    from_states: Iterable[str] | None = None,
    through: Iterable[str] = (),
    where: Mapping[str, object] | None = None,
    field_name: str = "status",
    quiet: bool = False,
    **changes,
) -> bool:
    """Move row ``pk`` of ``model`` to state ``to`` if its current state allows it.

    ``from_states`` narrows the table's sources for this call (for instance
    "only from ASYNC"); it can never widen them. ``through`` names the states a
    row passes on its way in one statement (``NEW -> PREPARE -> ASYNC`` is
    ``to=ASYNC, through=[PREPARE]``): each step must be an edge of the table and
    the row's state is checked against the path's first step in the same UPDATE.
    Use it only where nobody could have seen the state in between anyway (the
    steps would have committed together). ``where`` adds equality conditions to
    the same UPDATE (``{"attempts": 2}``); a row that fails them is treated as one
    in a wrong state. Extra keyword arguments are written in the same UPDATE.
    Returns ``True`` when this call moved the row. When the row was not in an
    allowed state, raises :class:`IllegalTransition`, or returns ``False`` if
    ``quiet`` (consumers that see a redelivered message).
    """
    sources = table.path_sources(to, through=through, from_states=from_states)
    if "updated_at" not in changes and _has_updated_at(model):
        # QuerySet.update() skips auto_now; keep the row's timestamp honest.
        changes["updated_at"] = timezone.now()
    updated = 0
    if sources:
        updated = _guarded_update(model, pk, field_name, to, sources, where or {}, changes)
    if updated:
        return True
    if quiet:
        return False
    current = model._default_manager.filter(pk=pk).values_list(field_name, flat=True).first()
    raise IllegalTransition(model._meta.label, pk, current, to)


# --- the UPDATE itself ------------------------------------------------------------------
#
# A transition is one small UPDATE, run ~30 times per tasker operation: building it with
# the ORM costs about three times what the database spends on it. Its SQL is built once
# per shape (model, database, columns written and checked) from the model's metadata, and
# each value is prepared by its field exactly as QuerySet.update() prepares it. Whatever
# this plain path does not cover (expressions, model instances as values, custom managers,
# inherited fields, special placeholders) goes through QuerySet.update() as before.

_updated_at: dict[type[models.Model], bool] = {}
_plans: dict[tuple, _Plan | None] = {}


def _has_updated_at(model: type[models.Model]) -> bool:
    found = _updated_at.get(model)
    if found is None:
        found = _updated_at[model] = any(f.name == "updated_at" for f in model._meta.concrete_fields)
    return found


@dataclass(frozen=True)
class _Plan:
    sql: str
    state: models.Field
    written: tuple[models.Field, ...]
    key: models.Field
    checked: tuple[models.Field, ...]


def _plain_manager(model: type[models.Model]) -> bool:
    manager = model._default_manager
    queryset = getattr(manager, "_queryset_class", None)
    return (
        type(manager).get_queryset is BaseManager.get_queryset
        and queryset is not None
        and queryset.filter is QuerySet.filter
        and queryset.update is QuerySet.update
    )


def _plan(model, connection, field_name: str, n_sources: int, where: tuple, written: tuple) -> _Plan | None:
    meta = model._meta
    if not _plain_manager(model):
        return None
    fields = []
    for name in (field_name, *written, *where):
        try:
            found = meta.get_field(name)
        except Exception:  # let the ORM raise its usual error
            return None
        if (
            not found.concrete
            or found.many_to_many
            or found.model._meta.concrete_model is not meta.concrete_model
            or hasattr(found, "get_placeholder")
        ):
            return None
        fields.append(found)
    state, written_fields, checked = fields[0], fields[1 : 1 + len(written)], fields[1 + len(written) :]
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in (state, *written_fields))
    conditions = [f"{qn(meta.pk.column)} = %s", f"{qn(state.column)} IN ({', '.join(['%s'] * n_sources)})"]
    conditions += [f"{qn(f.column)} = %s" for f in checked]
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {' AND '.join(conditions)}"
    return _Plan(sql=sql, state=state, written=tuple(written_fields), key=meta.pk, checked=tuple(checked))


def _plain(value) -> bool:
    return not (hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"))


def _params(plan: _Plan, connection, pk, to, sources, where: Mapping, changes: Mapping) -> list | None:
    """The statement's parameters, or ``None`` when a value needs the ORM."""
    if not _plain(pk) or pk is None:
        return None
    params = [plan.state.get_db_prep_save(to, connection)]
    for f, value in zip(plan.written, changes.values(), strict=True):
        if not _plain(value):
            return None
        value = f.get_db_prep_save(value, connection)
        if hasattr(value, "as_sql"):
            return None
        params.append(value)
    params.append(plan.key.get_db_prep_value(pk, connection))
    params.extend(plan.state.get_db_prep_value(source, connection) for source in sources)
    for f, value in zip(plan.checked, where.values(), strict=True):
        if value is None or not _plain(value):  # IS NULL and expressions: the ORM's business
            return None
        params.append(f.get_db_prep_value(value, connection))
    return params


def _guarded_update(model, pk, field_name: str, to, sources, where: Mapping, changes: Mapping) -> int:
    alias = router.db_for_write(model)
    connection = connections[alias]
    key = (model, alias, field_name, len(sources), tuple(where), tuple(changes))
    try:
        plan = _plans[key]
    except KeyError:
        plan = _plans[key] = _plan(model, connection, field_name, len(sources), tuple(where), tuple(changes))
    params = None if plan is None else _params(plan, connection, pk, to, sources, where, changes)
    if params is None:
        return model._default_manager.filter(pk=pk, **{f"{field_name}__in": sources}, **where).update(
            **{field_name: to}, **changes
        )
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(plan.sql, params)
        return cursor.rowcount
