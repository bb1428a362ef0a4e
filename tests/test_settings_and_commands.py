"""Configuration from the environment, and the set-up commands `make run` relies on."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def run(args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def run_check(**env):
    return run(["manage.py", "check"], **env)


@pytest.mark.parametrize("entry", ["opsplatform.wsgi", "opsplatform.asgi"])
def test_missing_secret_key_stops_the_web_start_up_when_debug_is_off(entry):
    result = run(["-c", f"import {entry}"], DJANGO_DEBUG="false", DJANGO_SETTINGS_MODULE="opsplatform.settings")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_web_starts_with_a_secret_key_when_debug_is_off():
    result = run(
        ["-c", "import opsplatform.wsgi"],
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="a-test-key-" + "x" * 50,
        DJANGO_SETTINGS_MODULE="opsplatform.settings",
    )
    assert result.returncode == 0, result.stderr


def test_schema_commands_run_without_a_secret_key():
    # Nothing is signed by a schema check: it runs in a bare environment with debug off.
    result = run(
        ["manage.py", "makemigrations", "--check", "--dry-run"],
        DJANGO_DEBUG="false",
        DJANGO_SETTINGS_MODULE="opsplatform.settings",
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_debug_mode_starts_without_a_secret_key():
    result = run_check(DJANGO_DEBUG="true", DJANGO_SETTINGS_MODULE="opsplatform.settings")
    assert result.returncode == 0, result.stderr


def test_database_url_selects_the_engine():
    import environ

    config = environ.Env.db_url_config("mysql://root:@127.0.0.1:3306/opsplatform")
    assert config["ENGINE"] == "django.db.backends.mysql" and config["NAME"] == "opsplatform"


@pytest.mark.django_db
def test_ensure_admin_creates_once_with_the_given_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "s3cret-pass-for-test")
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    call_command("ensure_admin", stdout=out)
    users = get_user_model().objects.filter(username="admin")
    assert users.count() == 1 and users.get().check_password("s3cret-pass-for-test")
    assert "already exists" in out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_generates_and_prints_a_password(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().rsplit("(shown once): ", 1)[1].strip()
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    from orders.models import ShopOrder
    from tasks.models import CloudTask

    call_command("seed_demo", stdout=io.StringIO())
    counts = (ShopOrder.objects.count(), CloudTask.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (ShopOrder.objects.count(), CloudTask.objects.count()) == counts
