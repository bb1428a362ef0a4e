"""What the web process checks before it serves anything."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MISSING_SECRET_KEY = (
    "DJANGO_SECRET_KEY is not set. Set it in the environment (or in .env), "
    "or set DJANGO_DEBUG=true for a development-only key."
)


def require_secret_key() -> None:
    """Stop the web's start-up when debug is off and no secret key was given.

    The key signs sessions, CSRF tokens and password-reset links, which only the
    web serves; management commands and workers sign nothing, so a schema check
    or a migration runs without one (and any code that did read the empty key
    would get Django's own error, never a known default).
    """
    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty key
        key = ""
    if not key:
        raise ImproperlyConfigured(MISSING_SECRET_KEY)
