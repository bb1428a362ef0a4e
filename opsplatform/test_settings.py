"""Settings for the test suite: the normal settings in development mode, with fast hashing."""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The simulated cloud answers at once in tests (an environment variable still wins).
SIMCLOUD_ACTION_SECONDS = float(os.environ.get("SIMCLOUD_ACTION_SECONDS", "0"))
# The integration tests start real Celery workers in other processes: they must see
# the test database, so on SQLite it is a file (under var/), not shared memory.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
