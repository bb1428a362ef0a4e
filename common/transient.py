"""Transient database errors in Celery entry points: retried, not lost.

A transaction chosen as a deadlock victim, a lock wait that timed out, or a
connection the server dropped is rolled back whole; the database's own advice is
to run it again. Without this the task fails, its message is acknowledged (the
default for a failed task) and the step waits for a sweeper. Every pipeline
consumer is idempotent, so running the message again is safe; other errors are
raised as before.
"""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import OperationalError

logger = logging.getLogger(__name__)

# MySQL / MariaDB error codes: deadlock victim, lock wait timeout, server gone, connection lost.
TRANSIENT_MYSQL_CODES = frozenset({1213, 1205, 2006, 2013})


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error that running the same work again can cure."""
    if not isinstance(exc, OperationalError):
        return False
    code = exc.args[0] if exc.args else None
    if isinstance(code, int):
        return code in TRANSIENT_MYSQL_CODES
    return "database is locked" in str(exc)  # SQLite's busy timeout ran out


def retry_delay(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: 0.5, 1, 2, ... capped at 30."""
    return min(30.0, 0.5 * 2**retries)


def retry_transient_errors(entry):
    """Decorate a bound Celery task: a transient database error sends the message again, with backoff.

    At most ``TASKER_TRANSIENT_RETRIES`` times (default 5); after that the error is
    raised like any other, for the sweepers to pick the work up.
    """

    @functools.wraps(entry)
    def wrapper(self, *args, **kwargs):
        try:
            return entry(self, *args, **kwargs)
        except OperationalError as exc:
            limit = getattr(settings, "TASKER_TRANSIENT_RETRIES", 5)
            if not is_transient(exc) or self.request.retries >= limit:
                raise
            delay = retry_delay(self.request.retries)
            logger.warning(
                "%s: transient database error (%s), retry %d of %d in %.1f s",
                self.name,
                exc,
                self.request.retries + 1,
                limit,
                delay,
            )
            raise self.retry(exc=exc, countdown=delay, max_retries=limit) from exc

    return wrapper
