"""Task flows: each operation type's ordered steps, and what an operation must carry.

A flow is a list of :class:`Step`. Steps of one ``group`` run in parallel; the
next group starts when every step of the group is DONE. ``mode`` says whether
coreTasker answers the step at once (``sync``) or accepts it and reports later
(``async``); ``timeout`` is the step's deadline in seconds from its start; the
retry policy (``attempts``, ``backoff``) is applied before a step is given up as
ERROR: attempt *n* waits ``backoff * 2**(n-1)`` seconds.

Every action must be one of :func:`coretasker.interface.known_actions`;
:func:`validate_registry` runs in ``TasksConfig.ready()`` so that a flow naming
an unknown action stops the start-up, not a task at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

from .models import SubtaskMode

SYNC = SubtaskMode.SYNC.value
ASYNC = SubtaskMode.ASYNC.value


@dataclass(frozen=True)
class Step:
    action: str
    mode: str = SYNC
    group: int = 1
    timeout: int = 300
    attempts: int = 1
    backoff: int = 0


@dataclass(frozen=True)
class Param:
    """One operation parameter: its type, bounds, and whether it must be given."""

    name: str
    kind: type = int
    required: bool = True
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class OperationType:
    """What an operation of this type acts on and which parameters it takes."""

    resource_types: tuple[str, ...]
    params: tuple[Param, ...] = ()
    cpu_type_required: bool = False
    steps: tuple[Step, ...] = field(default_factory=tuple)


_CPU = Param("cpu", int, True, 1, 256)
_MEMORY = Param("memory_gb", int, True, 1, 4096)
_DISK = Param("disk_gb", int, True, 10, 65536)
_BANDWIDTH = Param("bandwidth_mbps", int, True, 1, 100000)
_BANDWIDTH_OPTIONAL = Param("bandwidth_mbps", int, False, 1, 100000)

#: The flow registry: operation type -> what it takes and the steps it runs.
FLOWS: dict[str, OperationType] = {
    "create_vm": OperationType(
        resource_types=("vm",),
        params=(_CPU, _MEMORY, _DISK, _BANDWIDTH_OPTIONAL),
        cpu_type_required=True,
        steps=(
            Step("create_vm", ASYNC, group=1, timeout=900),
            Step("start_vm", ASYNC, group=2, timeout=300, attempts=3, backoff=2),
            Step("set_bandwidth", SYNC, group=2, timeout=60, attempts=3, backoff=1),
        ),
    ),
    "delete_vm": OperationType(
        resource_types=("vm",),
        steps=(Step("delete_vm", ASYNC, group=1, timeout=600, attempts=2, backoff=5),),
    ),
    "start_vm": OperationType(
        resource_types=("vm",),
        steps=(Step("start_vm", ASYNC, group=1, timeout=300, attempts=3, backoff=2),),
    ),
    "stop_vm": OperationType(
        resource_types=("vm",),
        steps=(Step("stop_vm", ASYNC, group=1, timeout=300, attempts=3, backoff=2),),
    ),
    "reboot_vm": OperationType(
        resource_types=("vm",),
        steps=(Step("reboot_vm", ASYNC, group=1, timeout=300, attempts=2, backoff=2),),
    ),
    "resize_vm": OperationType(
        resource_types=("vm",),
        params=(_CPU, _MEMORY),
        cpu_type_required=True,
        steps=(
            Step("stop_vm", ASYNC, group=1, timeout=300, attempts=3, backoff=2),
            Step("resize_vm", SYNC, group=2, timeout=120),
            Step("start_vm", ASYNC, group=3, timeout=300, attempts=3, backoff=2),
        ),
    ),
    "create_nic": OperationType(
        resource_types=("nic",),
        params=(Param("vm_id", str, True),),
        steps=(Step("create_nic", SYNC, group=1, timeout=120, attempts=2, backoff=1),),
    ),
    "delete_nic": OperationType(
        resource_types=("nic",),
        steps=(Step("delete_nic", SYNC, group=1, timeout=120, attempts=2, backoff=1),),
    ),
    "create_pipe": OperationType(
        resource_types=("pipe",),
        params=(_BANDWIDTH,),
        steps=(
            Step("create_pipe", ASYNC, group=1, timeout=600),
            Step("set_bandwidth", SYNC, group=2, timeout=60, attempts=3, backoff=1),
        ),
    ),
    "set_bandwidth": OperationType(
        resource_types=("vm", "pipe"),
        params=(_BANDWIDTH,),
        steps=(Step("set_bandwidth", SYNC, group=1, timeout=60, attempts=3, backoff=1),),
    ),
}


def get_flow(task_type: str) -> OperationType:
    """The registered flow of ``task_type``; ``KeyError`` if there is none."""
    return FLOWS[task_type]


def validate_registry(registry: dict[str, OperationType] | None = None, known: frozenset[str] | None = None) -> None:
    """Refuse a registry with an unknown action, an empty flow, or groups out of order."""
    from coretasker.interface import known_actions

    registry = FLOWS if registry is None else registry
    known = known_actions() if known is None else known
    problems = []
    for name, flow in registry.items():
        if not flow.steps:
            problems.append(f"{name}: the flow has no steps")
        groups = [step.group for step in flow.steps]
        if groups != sorted(groups) or (groups and groups[0] != 1):
            problems.append(f"{name}: groups must start at 1 and never go down, got {groups}")
        for step in flow.steps:
            if step.action not in known:
                problems.append(f"{name}: unknown action {step.action!r} (coreTasker knows {sorted(known)})")
            if step.mode not in (SYNC, ASYNC):
                problems.append(f"{name}: step {step.action} has mode {step.mode!r}, not sync or async")
            if step.attempts < 1 or step.timeout < 1 or step.backoff < 0:
                problems.append(f"{name}: step {step.action} needs attempts >= 1, timeout >= 1, backoff >= 0")
    if problems:
        raise ImproperlyConfigured("Invalid task flow registry: " + "; ".join(problems))
