"""Races that only row locks settle: run on MariaDB (SQLite serialises writers and ignores locks)."""

import threading

import pytest
from django.db import connection

from coretasker.interface import AnswerStatus, submit
from coretasker.models import WorkflowSubtask, WorkflowTask
from simcloud.models import SimHost, SimVm

from .conftest import VM_SPEC, make_request

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.skipif(connection.vendor != "mysql", reason="row locks and concurrent writers need MariaDB"),
    pytest.mark.django_db(transaction=True),
]

THREADS = 4


def _race(requests):
    """Submit each request from its own thread and connection, all at once; return the answers."""
    barrier = threading.Barrier(len(requests), timeout=30)
    answers, errors = [None] * len(requests), []

    def run(index, request):
        try:
            barrier.wait()
            answers[index] = submit(request)
        except Exception as exc:  # collected and re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a submit hung"
    assert errors == []
    return answers


def test_one_key_submitted_by_racing_consumers_makes_one_workflow_and_one_vm():
    request = make_request("create_vm", "vm-race", key="500:1", **VM_SPEC)

    answers = _race([request] * THREADS)

    assert WorkflowTask.objects.filter(idempotency_key="500:1").count() == 1
    wf = WorkflowTask.objects.get(idempotency_key="500:1")
    assert {a.workflow_task_id for a in answers} == {wf.pk}
    assert WorkflowSubtask.objects.filter(parent=wf).count() == 3
    assert SimVm.objects.filter(vm_id="vm-race").count() == 1
    assert AnswerStatus.DONE in {a.status for a in answers}
    assert {a.status for a in answers} <= {AnswerStatus.DONE, AnswerStatus.ACCEPTED}


def test_racing_placements_never_overbook_a_host():
    hosts = SimHost.objects.filter(site__site_id="cn-north-1").order_by("pk")
    only = hosts.first()
    hosts.exclude(pk=only.pk).update(enabled=False)
    SimHost.objects.filter(pk=only.pk).update(cpu_total=only.cpu_used + VM_SPEC["cpu"])  # room for exactly one

    answers = _race(
        [make_request("create_vm", f"vm-place-{n}", site_id="cn-north-1", **VM_SPEC) for n in range(THREADS)]
    )

    assert sorted(a.status for a in answers) == [AnswerStatus.DONE] + [AnswerStatus.ERROR] * (THREADS - 1)
    assert {a.error_code for a in answers if a.status == AnswerStatus.ERROR} == {"no_capacity"}
    only.refresh_from_db()
    assert only.cpu_used == only.cpu_total
    assert SimVm.objects.filter(vm_id__startswith="vm-place-").count() == 1
