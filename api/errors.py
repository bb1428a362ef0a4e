"""One error body for the whole API, and the one place errors become HTTP answers.

Every 4xx answers::

    {"error": {"code": "...", "message": "...", "field": "..." | null,
               "details": [{"field": ..., "code": ..., "message": ...}, ...]}}

``details`` lists every field error of a validation failure (paths like
``items[0].spec.cpu``, as the services name fields); it is empty otherwise. Domain errors raised by services
(:mod:`common.errors`) map by their ``http_status``: InvalidInput 400,
Forbidden 403, NotFound 404, Conflict (IllegalTransition included) 409.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from common.errors import DomainError


def error_body(code: str, message: str, field: str | None = None, details: list[dict] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field, "details": details or []}}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        body = error_body(exc.code, str(exc.message), exc.field)
        return Response(body, status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()  # one message, whichever model was looked up
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # not a client error: let Django report it as a server error
    if isinstance(exc, exceptions.ValidationError):
        details = list(_flatten(exc.detail))
        first = details[0] if details else {}
        message = first.get("message") if len(details) == 1 else _("Invalid input.")
        response.data = error_body("invalid", message or _("Invalid input."), first.get("field"), details)
    else:
        detail = getattr(exc, "detail", None)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        message = str(detail) if detail is not None else str(exc)
        response.data = error_body(code, message)
    return response


def _flatten(detail, path: str = ""):
    """Yield ``{field, code, message}`` for every leaf of a DRF error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list serializer's errors, keyed by row
                yield from _flatten(value, f"{path}[{key}]")
                continue
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            yield from _flatten(value, f"{path}.{name}" if path and name else (name or path))
    elif isinstance(detail, list):
        if all(isinstance(item, (exceptions.ErrorDetail, str)) for item in detail):
            for item in detail:
                yield from _flatten(item, path)
        else:
            for index, item in enumerate(detail):
                if item:
                    yield from _flatten(item, f"{path}[{index}]")
    else:
        yield {"field": path or None, "code": getattr(detail, "code", None) or "invalid", "message": str(detail)}
