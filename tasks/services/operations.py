"""Placing operations (resop): validate, write res_user_operation, send after commit."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from common.errors import InvalidInput
from common.sql import insert

from ..flows import FLOWS
from ..models import ResUserOperation
from .messages import send_operation

#: The parameter that forces a failure (the simulated cloud's ``fail_at``), allowed for every flow.
#: It applies to the first run of each named step, its automatic retries included, so the
#: task ends ERROR; a person's retry runs without it (:func:`tasks.services.retry.subtask_retry`).
FAIL_AT = "fail_at"

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


def _check_id(value, field: str, *, required: bool = True) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidInput(
            _("%(field)s must be 1 to 64 letters, digits or _ . : - (got %(value)r).")
            % {"field": field, "value": value},
            field=field,
        )
    return value


def fail_at_names(task_type: str) -> dict[str, tuple[str, ...]]:
    """What ``fail_at`` may name in a flow: each flow action -> the names that reach it.

    An action's own name (coreTasker fails its last step) and the names of the
    steps the driver runs it as.
    """
    from coretasker.interface import action_steps

    return {step.action: (step.action, *action_steps(step.action)) for step in FLOWS[task_type].steps}


def _check_fail_at(task_type: str, value) -> list[str]:
    names = [value] if isinstance(value, str) else value
    known = sorted({name for names_ in fail_at_names(task_type).values() for name in names_})
    if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
        raise InvalidInput(
            _("fail_at must be a step or action name, or a list of them (got %(value)r).") % {"value": value},
            field=f"params.{FAIL_AT}",
        )
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(
            _("Operation %(type)s has no step or action %(names)s (it has: %(known)s).")
            % {"type": task_type, "names": ", ".join(map(repr, unknown)), "known": ", ".join(known)},
            field=f"params.{FAIL_AT}",
        )
    return list(dict.fromkeys(names))


def operation_validate(*, task_type: str, resource_type: str, resource_id: str, params: dict | None) -> dict:
    """Check an operation's type, resource and parameters; return the parameters to store.

    Raises :class:`InvalidInput` naming the first wrong field (``params.<name>``
    for a parameter). Reads ``api_cputypetpl`` for ``cpu_type``; writes nothing.
    Every flow also takes ``fail_at``: a name, or a list of names, of the flow's
    actions or of the steps coreTasker runs them as; stored as a list.
    """
    from coretasker.models import CpuTypeTpl

    flow = FLOWS.get(task_type) if isinstance(task_type, str) else None
    if flow is None:
        raise InvalidInput(
            _("Unknown operation type %(value)r; known types: %(known)s.")
            % {"value": task_type, "known": ", ".join(sorted(FLOWS))},
            field="task_type",
        )
    if resource_type not in flow.resource_types:
        raise InvalidInput(
            _("Operation %(type)s acts on %(allowed)s, not %(value)r.")
            % {"type": task_type, "allowed": " or ".join(flow.resource_types), "value": resource_type},
            field="resource_type",
        )
    _check_id(resource_id, "resource_id")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise InvalidInput(_("Parameters must be an object."), field="params")
    declared = {p.name: p for p in flow.params}
    allowed = set(declared) | ({"cpu_type"} if flow.cpu_type_required else set()) | {FAIL_AT}
    for key in params:
        if key not in allowed:
            raise InvalidInput(
                _("Operation %(type)s takes no parameter %(key)r (it takes: %(allowed)s).")
                % {"type": task_type, "key": key, "allowed": ", ".join(sorted(allowed)) or "-"},
                field=f"params.{key}",
            )
    cleaned = {}
    for spec in flow.params:
        field = f"params.{spec.name}"
        if spec.name not in params:
            if spec.required:
                raise InvalidInput(_("This parameter is required."), field=field)
            continue
        value = params[spec.name]
        if spec.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(_("Must be a whole number (got %(value)r).") % {"value": value}, field=field)
            if (spec.min_value is not None and value < spec.min_value) or (
                spec.max_value is not None and value > spec.max_value
            ):
                raise InvalidInput(
                    _("Must be between %(min)s and %(max)s (got %(value)s).")
                    % {"min": spec.min_value, "max": spec.max_value, "value": value},
                    field=field,
                )
        else:
            value = _check_id(value, field)
        cleaned[spec.name] = value
    if FAIL_AT in params:
        cleaned[FAIL_AT] = _check_fail_at(task_type, params[FAIL_AT])
    if flow.cpu_type_required:
        code = params.get("cpu_type")
        if not isinstance(code, str) or not code:
            raise InvalidInput(_("This parameter is required."), field="params.cpu_type")
        if not CpuTypeTpl.objects.filter(code=code).exists():
            raise InvalidInput(
                _("Unknown CPU type %(code)r: it must be the code of a CPU type template.") % {"code": code},
                field="params.cpu_type",
            )
        cleaned["cpu_type"] = code
    return cleaned


def operation_create(
    *,
    customer_id: str,
    task_type: str,
    resource_type: str,
    resource_id: str,
    site_id: str = "",
    params: dict | None = None,
    user=None,
    order_id: int | None = None,
    suborder_id: int | None = None,
    request_key: str | None = None,
) -> tuple[ResUserOperation, bool]:
    """Validate and write one operation, sending it after commit; ``(operation, created)``.

    With a ``request_key`` the call is idempotent: a second call with the same key
    returns the first operation (``created=False``) and sends nothing.
    """
    _check_id(customer_id, "customer_id")
    _check_id(site_id, "site_id", required=False)
    for field, value in (("order_id", order_id), ("suborder_id", suborder_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInput(_("Must be a whole number (got %(value)r).") % {"value": value}, field=field)
    cleaned = operation_validate(
        task_type=task_type, resource_type=resource_type, resource_id=resource_id, params=params
    )
    fields = {
        "customer_id": customer_id,
        "task_type": task_type,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "site_id": site_id or "",
        "params": cleaned,
        "order_id": order_id,
        "suborder_id": suborder_id,
        "created_by": user if getattr(user, "is_authenticated", False) else None,
    }
    if request_key is None:
        # One INSERT, committed on its own (or with the caller's transaction); the
        # message goes after that commit.
        operation = ResUserOperation(**fields)
        insert([operation])
        send_operation(operation.pk)
        return operation, True
    with transaction.atomic():
        try:
            with transaction.atomic():
                operation = ResUserOperation.objects.create(**fields, request_key=request_key)
        except IntegrityError:
            # A locking read sees the row the other (now committed) transaction wrote.
            return ResUserOperation.objects.select_for_update().get(request_key=request_key), False
        send_operation(operation.pk)
    return operation, True


def operation_place(
    *,
    customer_id: str,
    task_type: str,
    resource_type: str,
    resource_id: str,
    site_id: str = "",
    params: dict | None = None,
    user=None,
    order_id: int | None = None,
    suborder_id: int | None = None,
) -> ResUserOperation:
    """Place an operation: validated, written as NEW, sent to queue_operation_task_V3 after commit.

    Bad input raises :class:`common.errors.InvalidInput` with the field and writes
    nothing. For create_vm and resize_vm, ``params["cpu_type"]`` must be the code
    of a ``coretasker.models.CpuTypeTpl``.
    """
    operation, _created = operation_create(
        customer_id=customer_id,
        task_type=task_type,
        resource_type=resource_type,
        resource_id=resource_id,
        site_id=site_id,
        params=params,
        user=user,
        order_id=order_id,
        suborder_id=suborder_id,
    )
    return operation
