"""Errors that services raise, each with a machine-readable code.

Callers map them once: the API to HTTP statuses (400, 404, 409), admin actions
to messages. A service never raises a bare ``Exception`` for a refusal.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal a user can act on: ``code`` for machines, ``message`` for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field


class InvalidInput(DomainError):
    """The request itself is wrong (unknown type, bad parameter, ...)."""

    code = "invalid"
    http_status = 400


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    """The request is well formed but the row's current state refuses it."""

    code = "conflict"
    http_status = 409


class Forbidden(DomainError):
    """The user lacks the permission the action needs."""

    code = "permission_denied"
    http_status = 403
