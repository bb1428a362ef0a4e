"""Celery entry points: routing, bounded redelivery, orders."""

import logging
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from opsplatform.celery import app
from tasks import hooks
from tasks import tasks as entries
from tasks.models import CloudTask, MessageDelivery, OperationStatus, ResUserOperation, TaskStatus
from tasks.services import OrderExpanderMissing, operation_place, process_order_task
from tasks.services.delivery import delivery_count
from tasks.tests.conftest import vm_params

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "name,queue",
    [
        ("taskercenter.consume", "queue_operation_task_V3"),
        ("taskconsumer.consume", "queue_subtask_V3"),
        ("taskdone.consume", "queue_taskdone_V3"),
        ("taskdone.sweep_deadlines", "queue_taskdone_V3"),
        ("taskercenter.sweep_lost_messages", "queue_operation_task_V3"),
    ],
)
def test_entry_points_are_registered_and_routed_to_their_queue(name, queue):
    assert name in app.tasks
    assert app.amqp.router.route({}, name)["queue"].name == queue


def test_delivery_count_writes_only_for_redelivered_messages():
    assert delivery_count(message_id="m1", redelivered=False, task_name="t", body={}) == 1
    assert not MessageDelivery.objects.exists()
    assert delivery_count(message_id="m1", redelivered=True, task_name="t", body={}) == 2
    assert delivery_count(message_id="m1", redelivered=True, task_name="t", body={}) == 3


def request(message_id, redelivered):
    return SimpleNamespace(id=message_id, delivery_info={"redelivered": redelivered})


def test_a_message_that_keeps_killing_its_worker_ends_as_error(bus, core, settings):
    settings.TASKER_MAX_DELIVERIES = 3
    operation = bus.run(
        operation_place, customer_id="c", task_type="start_vm", resource_type="vm", resource_id="v", params={}
    )
    body = {"operation_id": operation.pk, "type": "operation"}
    # The first delivery died half-way: the operation is LOCK with a NEW task.
    ResUserOperation.objects.filter(pk=operation.pk).update(task_status=OperationStatus.LOCK)
    from tasks.services import save_task

    task = save_task(operation=ResUserOperation.objects.get(pk=operation.pk))
    assert not entries._delivered_too_often(request("m-op", True), "taskercenter.consume", body)  # 2nd
    assert not entries._delivered_too_often(request("m-op", True), "taskercenter.consume", body)  # 3rd
    assert bus.run(entries._delivered_too_often, request("m-op", True), "taskercenter.consume", body)  # 4th
    task.refresh_from_db()
    assert task.status == TaskStatus.ERROR
    assert task.error_logs.get().error_class == "TooManyDeliveries"
    assert ResUserOperation.objects.get(pk=operation.pk).task_status == OperationStatus.ERROR


def test_an_operation_without_a_task_also_ends_as_error(bus, settings):
    settings.TASKER_MAX_DELIVERIES = 1
    operation = bus.run(
        operation_place, customer_id="c", task_type="start_vm", resource_type="vm", resource_id="v", params={}
    )
    body = {"operation_id": operation.pk, "type": "operation"}
    assert entries._delivered_too_often(request("m2", True), "taskercenter.consume", body)
    operation.refresh_from_db()
    assert operation.task_status == OperationStatus.ERROR and "delivered 2 times" in operation.error_msg


@pytest.fixture
def expander(monkeypatch, cpu_type):
    calls = []

    def expand(order_id):
        calls.append(order_id)
        return [
            {
                "customer_id": "cust",
                "task_type": "create_vm",
                "resource_type": "vm",
                "resource_id": f"o{order_id}-vm-{n}",
                "site_id": "s1",
                "params": vm_params(cpu_type),
                "suborder_id": 100 + n,
            }
            for n in range(2)
        ]

    monkeypatch.setattr(hooks, "_order_expander", expand)
    return calls


def test_process_order_task_places_one_operation_per_suborder_once(bus, core, expander):
    operations = bus.run(process_order_task, order_id=7)
    assert [(o.order_id, o.suborder_id, o.task_type) for o in operations] == [
        (7, 100, "create_vm"),
        (7, 101, "create_vm"),
    ]
    assert bus.names() == ["taskercenter.consume", "taskercenter.consume"]
    again = bus.run(process_order_task, order_id=7)  # a redelivered order message
    assert [o.pk for o in again] == [o.pk for o in operations]
    assert ResUserOperation.objects.count() == 2 and len(bus.sent) == 2
    bus.drain()
    assert list(CloudTask.objects.values_list("order_id", "suborder_id", "status")) == [
        (7, 101, TaskStatus.DONE),
        (7, 100, TaskStatus.DONE),
    ]


def test_order_message_through_the_entry_point_twice(bus, core, expander):
    bus.deliver("taskercenter.consume", {"order_id": 8, "type": "order"})
    bus.deliver("taskercenter.consume", {"order_id": 8, "type": "order"})
    assert ResUserOperation.objects.filter(order_id=8).count() == 2


def test_an_order_without_an_expander_fails_clearly_and_is_retried_not_lost(monkeypatch, settings, caplog):
    monkeypatch.setattr(hooks, "_order_expander", None)
    with pytest.raises(OrderExpanderMissing, match="No order expander"):
        process_order_task(order_id=9)
    settings.TASKER_ORDER_RETRIES = 2
    settings.TASKER_ORDER_RETRY_SECONDS = 0
    with caplog.at_level(logging.ERROR):
        result = entries.taskercenter_consume.apply(args=[{"order_id": 9, "type": "order"}])
    assert isinstance(result.result, OrderExpanderMissing)  # given up only after the bounded retries
    messages = [r.getMessage() for r in caplog.records]
    assert sum("No order expander" in m and "retry" in m for m in messages) == 2
    assert any("dropped after 2 retries" in m for m in messages)
    assert not ResUserOperation.objects.exists()


def test_setup_periodic_tasks_installs_every_declared_job_idempotently(capsys):
    call_command("setup_periodic_tasks")
    call_command("setup_periodic_tasks")
    jobs = {job.name: job for job in PeriodicTask.objects.all()}
    assert {"tasker: time out subtasks past their deadline", "tasker: re-send lost messages"} <= set(jobs)
    assert jobs["tasker: time out subtasks past their deadline"].task == "taskdone.sweep_deadlines"
    assert jobs["tasker: time out subtasks past their deadline"].interval.every == 30
    assert PeriodicTask.objects.filter(task="taskdone.sweep_deadlines").count() == 1
    assert "up to date" in capsys.readouterr().out


def test_published_messages_carry_a_plain_repr_of_their_body(monkeypatch):
    """What monitoring shows of a message (its ``argsrepr`` header) is the body, built without saferepr."""
    from kombu.messaging import Producer

    from tasks.services import messages

    sent = []
    monkeypatch.setattr(Producer, "publish", lambda self, body, **options: sent.append(options["headers"]))
    messages._publish(messages.SUBTASK_ENTRY, {"subtask_id": 7, "type": "subtask"})
    assert [(h["task"], h["argsrepr"], h["kwargsrepr"]) for h in sent] == [
        ("taskconsumer.consume", "[{'subtask_id': 7, 'type': 'subtask'}]", "{}")
    ]
