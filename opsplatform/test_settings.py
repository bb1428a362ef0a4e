"""Settings for the test suite: the normal settings in development mode, with fast hashing."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The simulated cloud answers at once in tests (an environment variable still wins).
SIMCLOUD_ACTION_SECONDS = float(os.environ.get("SIMCLOUD_ACTION_SECONDS", "0"))
