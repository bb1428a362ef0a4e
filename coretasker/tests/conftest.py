"""Fixtures for coreTasker's tests: requests, captured reports, eager Celery."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission

from coretasker import interface
from coretasker.interface import CoreRequest
from opsplatform.celery import app as celery_app

_keys = itertools.count(1)

VM_SPEC = {"cpu_type": "amd_epyc_7763", "cpu": 2, "memory_gb": 4, "disk_gb": 40}


def make_request(action: str, target_obj: str = "", *, mode: str = "sync", pri: int = 5, key: str = "", **params):
    """A request as the tasker builds it: key = "<tasker subtask id>:<attempt>"."""
    return CoreRequest(
        action=action,
        target_type="",
        target_obj=target_obj,
        site_id=params.pop("site_id", "cn-east-1"),
        customer_id=params.pop("customer_id", "cust-1"),
        idempotency_key=key or f"{next(_keys)}:1",
        params=params,
        mode=mode,
        pri=pri,
    )


@pytest.fixture(autouse=True)
def _own_reporters(monkeypatch):
    """coreTasker's tests hear reports themselves; the listeners other apps registered are set aside."""
    monkeypatch.setattr(interface, "_reporters", [])


@pytest.fixture
def reports():
    """Every CoreReport delivered while the test runs, in order."""
    captured: list[interface.CoreReport] = []
    interface.register_reporter(captured.append)
    return captured


@pytest.fixture
def eager(django_capture_on_commit_callbacks):
    """Run coreTasker's queue in-process: ``eager(fn, ...)`` calls ``fn``, then runs every
    message it sent after commit (and those they send), as a worker would, and returns
    ``fn``'s result."""
    celery_app.conf.task_always_eager = True

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            result = fn(*args, **kwargs)
        return result

    try:
        yield run
    finally:
        celery_app.conf.task_always_eager = False


@pytest.fixture
def ops_user(db, django_user_model):
    user = django_user_model.objects.create_user("ops", password="pw-for-tests", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="restart_workflowtask"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def sync_vm(db):
    """A running VM created through coreTasker (sync), in cn-east-1."""
    from coretasker.interface import submit

    answer = submit(make_request("create_vm", "vm-fixture", **VM_SPEC))
    assert answer.status == "DONE", answer
    return "vm-fixture"
