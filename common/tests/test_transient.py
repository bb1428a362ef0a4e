"""Transient database errors: recognised by code, and retried by the Celery entry points."""

import threading

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction

from common.transient import is_transient, retry_delay
from coretasker import tasks as core_entries
from tasks import tasks as entries
from tasks.models import ResUserOperation

DEADLOCK = OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (DEADLOCK, True),
        (OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"), True),
        (OperationalError(2006, "Server has gone away"), True),
        (OperationalError(2013, "Lost connection to server during query"), True),
        (OperationalError("database is locked"), True),
        (OperationalError(1054, "Unknown column 'x' in 'field list'"), False),
        (OperationalError("no such table: x"), False),
        (IntegrityError(1062, "Duplicate entry"), False),
        (ValueError("deadlock"), False),
    ],
)
def test_transient_errors_are_told_apart_by_code(exc, transient):
    assert is_transient(exc) is transient


def test_retries_back_off_and_are_capped():
    assert [retry_delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


@pytest.fixture
def failing(monkeypatch):
    """Make the taskdone service raise the given errors in turn, then succeed; returns the calls seen."""
    calls = []

    def install(*errors):
        queue = list(errors)

        def consume(*, body):
            calls.append(body)
            if queue:
                raise queue.pop(0)
            return "done"

        monkeypatch.setattr(entries, "taskdone_consume", consume)
        return calls

    return install


def test_a_deadlock_victim_runs_its_message_again(failing):
    calls = failing(DEADLOCK, DEADLOCK)
    result = entries.taskdone_consume_entry.apply(args=[{"task_id": 1, "type": "task"}])
    assert result.successful()
    assert len(calls) == 3


def test_other_database_errors_are_not_retried(failing):
    calls = failing(OperationalError(1054, "Unknown column"))
    result = entries.taskdone_consume_entry.apply(args=[{"task_id": 1, "type": "task"}])
    assert result.failed() and isinstance(result.result, OperationalError)
    assert len(calls) == 1


def test_retries_are_bounded(failing, settings):
    settings.TASKER_TRANSIENT_RETRIES = 2
    calls = failing(*[DEADLOCK] * 5)
    result = entries.taskdone_consume_entry.apply(args=[{"task_id": 1, "type": "task"}])
    assert result.failed() and is_transient(result.result)
    assert len(calls) == 3  # the first run and two retries


def test_core_tasker_entry_points_retry_too(monkeypatch):
    calls = []

    def run(*, subtask_id):
        calls.append(subtask_id)
        if len(calls) == 1:
            raise DEADLOCK

    monkeypatch.setattr(core_entries.services, "subtask_run", run)
    assert core_entries.run_subtask.apply(args=[7]).successful()
    assert calls == [7, 7]


@pytest.mark.skipif(connection.vendor != "mysql", reason="a real deadlock needs MariaDB's row locks")
@pytest.mark.django_db(transaction=True)
def test_a_real_mariadb_deadlock_is_recognised():
    """Two transactions lock two rows in opposite orders: MariaDB rolls one back, with a code we retry."""
    first, second = (
        ResUserOperation.objects.create(customer_id="c", task_type="start_vm", resource_type="vm", resource_id=name)
        for name in ("a", "b")
    )
    both_hold_one = threading.Barrier(2, timeout=10)
    errors = []

    def lock(mine, theirs):
        try:
            with transaction.atomic():
                ResUserOperation.objects.select_for_update().get(pk=mine.pk)
                both_hold_one.wait()
                ResUserOperation.objects.select_for_update().get(pk=theirs.pk)
        except OperationalError as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=lock, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 1, errors
    assert errors[0].args[0] == 1213 and is_transient(errors[0])
