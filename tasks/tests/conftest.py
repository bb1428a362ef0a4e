"""Fixtures of the tasker's tests: coreTasker's stand-in and an in-process message bus."""

from __future__ import annotations

import sys
from collections import deque

import pytest
from django.test import TestCase

from coretasker.models import CpuTypeTpl
from tasks.tests import corestub


@pytest.fixture
def core(monkeypatch):
    """coreTasker's stand-in behind coretasker.interface (the outside world of these tests)."""
    import coretasker

    module = sys.modules.get("coretasker.services")
    if module is None:
        module = corestub.install()
        monkeypatch.setitem(sys.modules, "coretasker.services", module)
        monkeypatch.setattr(coretasker, "services", module, raising=False)
    monkeypatch.setattr(module, "workflow_submit", corestub.workflow_submit, raising=False)
    monkeypatch.setattr(module, "workflow_lookup", corestub.workflow_lookup, raising=False)
    monkeypatch.setattr(corestub, "FAIL_ACTIONS", {})
    monkeypatch.setattr(corestub, "FAIL_KEYS", set())
    monkeypatch.setattr(corestub, "AUTO_REPORT", True)
    return corestub


class Bus:
    """Collects the messages the services send (after commit) and delivers them to the entry points."""

    def __init__(self):
        self.outbox: deque = deque()
        self.sent: list = []

    def publish(self, name, body, countdown=None):
        self.outbox.append((name, body))
        self.sent.append((name, body, countdown))

    def run(self, fn, *args, **kwargs):
        """Call ``fn`` as a worker would: its on-commit callbacks (sends) run when it returns."""
        with TestCase.captureOnCommitCallbacks(execute=True):
            return fn(*args, **kwargs)

    def deliver(self, name, body):
        from tasks import tasks as entries

        entry = {
            "taskercenter.consume": entries.taskercenter_consume,
            "taskconsumer.consume": entries.taskconsumer_consume,
            "taskdone.consume": entries.taskdone_consume_entry,
        }[name]
        return self.run(entry, body)

    def drain(self, *, limit: int = 500, twice: bool = False) -> int:
        """Deliver queued messages (each twice if ``twice``) until none is left; at most ``limit``."""
        delivered = 0
        while self.outbox:
            assert delivered < limit, f"more than {limit} messages: a loop?"
            name, body = self.outbox.popleft()
            self.deliver(name, body)
            if twice:
                self.deliver(name, body)
            delivered += 1
        return delivered

    def step(self, count: int) -> None:
        """Deliver the next ``count`` queued messages, leaving the rest queued."""
        for _ in range(count):
            name, body = self.outbox.popleft()
            self.deliver(name, body)

    def names(self):
        return [name for name, _body, _countdown in self.sent]


@pytest.fixture
def bus(monkeypatch):
    from tasks.services import messages

    bus = Bus()
    monkeypatch.setattr(messages, "_publish", bus.publish)
    return bus


@pytest.fixture
def cpu_type(db):
    return CpuTypeTpl.objects.order_by("code").first() or CpuTypeTpl.objects.create(name="Test CPU", code="test_cpu")


def vm_params(cpu_type, **extra):
    return {"cpu_type": cpu_type.code, "cpu": 2, "memory_gb": 4, "disk_gb": 40, **extra}
