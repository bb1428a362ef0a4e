"""Fixtures shared by every app's tests."""

import importlib
import io

import pytest
from django.core.management import call_command


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-for-tests")


@pytest.fixture
def admin_client_logged_in(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def demo_data(db):
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture(scope="session", autouse=True)
def _mysql_time_zones(django_db_setup, django_db_blocker):
    """MySQL/MariaDB need their time zone tables for date_hierarchy and date lookups."""
    from django.db import connection

    if connection.vendor != "mysql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT CONVERT_TZ('2026-01-01 00:00:00', 'UTC', 'Asia/Shanghai')")
        if cursor.fetchone()[0] is None:
            pytest.exit(
                "MariaDB has no time zone tables. Load them once with:\n"
                "  mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb -u root mysql",
                returncode=2,
            )


#: Data migrations whose rows tests rely on (reference data, the simulated cloud's inventory).
DATA_MIGRATIONS = (
    "coretasker.migrations.0002_cpu_types",
    "simcloud.migrations.0002_starting_inventory",
    "billing.migrations.0003_item_type_starting_set",
)


@pytest.fixture(autouse=True)
def _migration_data_in_transactional_tests(request):
    """Django empties every table after a transactional test, rows of data migrations included.

    The next transactional test (a real worker, a race) would then find no CPU types
    and no simulated sites, so they are loaded again, idempotently, through the
    migrations' own functions.
    """
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")) and "transactional_db" not in request.fixturenames:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    for module in DATA_MIGRATIONS:
        importlib.import_module(module).load(apps, None)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language.

    A request through the test client activates its Accept-Language in the test's
    thread and nothing deactivates it, so a Chinese page in one test would make the
    next test's stored messages Chinese.
    """
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()
