"""Small helpers the order services share."""

from __future__ import annotations

from django.utils.translation import gettext as _

from common.errors import Forbidden

#: Who the renewal log names when the scheduler, not a person, acted.
SCHEDULER_NAME = "celery-beat"


def require_perm(user, perm: str) -> None:
    """Refuse with Forbidden when a user is given and lacks ``perm`` (no user: a trusted caller)."""
    if user is not None and not user.has_perm(perm):
        raise Forbidden(_("You do not have the permission %(perm)s.") % {"perm": perm})


def operator_name(user) -> str:
    return user.get_username() if user is not None else SCHEDULER_NAME
