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

from django.db import models
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

    @classmethod
    def build(cls, name: str, edges: Mapping[str, Iterable[str]]) -> TransitionTable:
        return cls(name=name, edges={src: frozenset(dst) for src, dst in edges.items()})

    def allowed(self, src: str, dst: str) -> bool:
        return dst in self.edges.get(src, frozenset())

    def sources(self, dst: str) -> frozenset[str]:
        """Every state from which ``dst`` may be entered."""
        return frozenset(src for src, dsts in self.edges.items() if dst in dsts)

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
    field_name: str = "status",
    quiet: bool = False,
    **changes,
) -> bool:
    """Move row ``pk`` of ``model`` to state ``to`` if its current state allows it.

    ``from_states`` narrows the table's sources for this call (for instance
    "only from ASYNC"); it can never widen them. Extra keyword arguments are
    written in the same UPDATE. Returns ``True`` when this call moved the row.
    When the row was not in an allowed state, raises :class:`IllegalTransition`,
    or returns ``False`` if ``quiet`` (consumers that see a redelivered message).
    """
    sources = table.sources(to)
    if from_states is not None:
        sources = sources & frozenset(from_states)
    if "updated_at" not in changes and any(f.name == "updated_at" for f in model._meta.concrete_fields):
        # QuerySet.update() skips auto_now; keep the row's timestamp honest.
        changes["updated_at"] = timezone.now()
    updated = 0
    if sources:
        updated = model._default_manager.filter(pk=pk, **{f"{field_name}__in": sources}).update(
            **{field_name: to}, **changes
        )
    if updated:
        return True
    if quiet:
        return False
    current = model._default_manager.filter(pk=pk).values_list(field_name, flat=True).first()
    raise IllegalTransition(model._meta.label, pk, current, to)
