"""The services behind the write endpoints, found at call time.

Writes go through the same services the admin uses; the API holds no business
logic. A deployment without one of them answers 503 ``service_unavailable`` on
that endpoint instead of failing at import.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from .errors import ServiceUnavailable


def service(dotted: str) -> Callable:
    """The function at ``module.function``, or :class:`ServiceUnavailable`."""
    module_name, _, name = dotted.rpartition(".")
    try:
        return getattr(import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise ServiceUnavailable() from exc


def available(dotted: str) -> bool:
    try:
        service(dotted)
    except ServiceUnavailable:
        return False
    return True
