from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from common.errors import Conflict, InvalidInput
from orders.models import OrderFailReason, OrderStatus, ShopOrder, ShopSubOrder, SubOrderStatus
from orders.periods import period_end
from orders.services import (
    ORDER_TASK_NAME,
    account_get,
    order_expand,
    order_pay,
    order_place,
    order_provisioned_suborders,
    order_task_finished,
)
from tasks.hooks import get_order_expander
from tasks.models import CloudTask, TaskStatus

from .conftest import MONTH_PRICE, SITE, SPEC, fund

pytestmark = pytest.mark.django_db


def item(**changes):
    return {
        "resource_type": "vm",
        "site_id": SITE,
        "spec": dict(SPEC),
        "billing_cycle": "month",
        "periods": 1,
    } | changes


def test_place_prices_each_suborder_from_billing(prices):
    order = order_place(customer_id="cust-1", items=[item(), item(periods=3), item(billing_cycle="year")])
    assert order.status == OrderStatus.NEW
    amounts = list(order.suborders.order_by("pk").values_list("amount", flat=True))
    assert amounts == [MONTH_PRICE, MONTH_PRICE * 3, MONTH_PRICE]
    assert order.total_amount == sum(amounts)
    assert order.order_no and ShopOrder.objects.filter(order_no=order.order_no).count() == 1


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"resource_type": "spaceship"}, "items[1].resource_type"),
        ({"billing_cycle": "week"}, "items[1].billing_cycle"),
        ({"periods": 0}, "items[1].periods"),
        ({"site_id": ""}, "items[1].site_id"),
        ({"site_id": "nowhere"}, "items[1].spec"),
        ({"spec": SPEC | {"cpu": -1}}, "items[1].spec.cpu"),
        ({"spec": SPEC | {"cpu_type": "z80"}}, "items[1].spec.cpu_type"),
        ({"auto_renew": "yes"}, "items[1].auto_renew"),
        ({"spec": SPEC | {"gpu": 1}}, "items[1].spec.gpu"),
    ],
)
def test_bad_items_are_refused_with_the_field_and_nothing_written(prices, bad, field):
    with pytest.raises(InvalidInput) as refusal:
        order_place(customer_id="cust-1", items=[item(), item(**bad)])
    assert refusal.value.field == field
    assert not ShopOrder.objects.exists() and not ShopSubOrder.objects.exists()


def test_an_order_needs_items(prices):
    with pytest.raises(InvalidInput) as refusal:
        order_place(customer_id="cust-1", items=[])
    assert refusal.value.field == "items"


def test_pay_debits_once_and_hands_the_order_to_the_tasker_after_commit(prices, django_capture_on_commit_callbacks):
    fund("cust-1", "1000.00")
    order = order_place(customer_id="cust-1", items=[item()])
    with mock.patch("opsplatform.celery.app.send_task") as send:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            paid = order_pay(order_id=order.pk)
        send.assert_not_called()
        for callback in callbacks:
            callback()
        send.assert_called_once_with(ORDER_TASK_NAME, args=[{"order_id": order.pk, "type": "order"}])
        assert order_pay(order_id=order.pk).status == OrderStatus.PAID
    assert paid.status == OrderStatus.PAID and paid.paid_at is not None
    assert account_get(customer_id="cust-1").balance == Decimal("1000.00") - MONTH_PRICE


def test_insufficient_balance_fails_the_order_with_payment_failed(prices):
    fund("cust-1", "10.00")
    order = order_place(customer_id="cust-1", items=[item()])
    failed = order_pay(order_id=order.pk)
    assert failed.status == OrderStatus.FAILED
    assert failed.fail_reason == OrderFailReason.PAYMENT_FAILED
    assert "10.00" in failed.fail_detail
    assert account_get(customer_id="cust-1").balance == Decimal("10.00")
    assert set(failed.suborders.values_list("status", flat=True)) == {SubOrderStatus.FAILED}
    with pytest.raises(Conflict):
        order_pay(order_id=order.pk)


def paid_order(n=2):
    fund("cust-1", "5000.00")
    order = order_place(customer_id="cust-1", items=[item() for _ in range(n)])
    with mock.patch("opsplatform.celery.app.send_task"):
        order_pay(order_id=order.pk)
    return order


def task_for(op: dict, status: str, error: str = "") -> CloudTask:
    return CloudTask.objects.create(
        task_type=op["task_type"],
        customer_id=op["customer_id"],
        resource_type=op["resource_type"],
        resource_id=op["resource_id"],
        site_id=op["site_id"],
        params=op["params"],
        status=status,
        order_id=op["order_id"],
        suborder_id=op["suborder_id"],
        error_msg=error,
        finished_at=timezone.now(),
    )


def test_expander_is_registered_and_gives_one_create_operation_per_suborder(prices):
    order = paid_order()
    assert get_order_expander() is order_expand
    ops = order_expand(order.pk)
    assert [op["suborder_id"] for op in ops] == list(order.suborders.order_by("pk").values_list("pk", flat=True))
    assert {op["task_type"] for op in ops} == {"create_vm"}
    assert all(op["resource_id"].startswith("vm-") and op["params"] == SPEC for op in ops)
    order.refresh_from_db()
    assert order.status == OrderStatus.PROVISIONING
    assert set(order.suborders.values_list("status", flat=True)) == {SubOrderStatus.PROVISIONING}
    # a redelivered order message sees the same list, in the same order, with the same resource IDs
    task_for(ops[0], TaskStatus.DONE)
    order_task_finished(CloudTask.objects.get().pk, TaskStatus.DONE)
    assert order_expand(order.pk) == ops


def test_all_tasks_done_succeeds_the_order_and_starts_the_service(prices):
    order = paid_order()
    ops = order_expand(order.pk)
    first = task_for(ops[0], TaskStatus.DONE)
    order_task_finished(first.pk, TaskStatus.DONE)
    order.refresh_from_db()
    assert order.status == OrderStatus.PROVISIONING
    order_task_finished(first.pk, TaskStatus.DONE)  # a duplicate notice changes nothing
    second = task_for(ops[1], TaskStatus.DONE)
    order_task_finished(second.pk, TaskStatus.DONE)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUCCEEDED and order.finished_at is not None
    suborder = ShopSubOrder.objects.get(pk=ops[0]["suborder_id"])
    assert suborder.status == SubOrderStatus.ACTIVE and suborder.task == first
    assert suborder.service_start == first.finished_at
    assert suborder.expire_at == period_end(first.finished_at, billing_cycle="month")


def test_a_failed_task_fails_the_order_with_reason_and_lists_what_was_provisioned(prices):
    order = paid_order(3)
    ops = order_expand(order.pk)
    order_task_finished(task_for(ops[0], TaskStatus.DONE).pk, TaskStatus.DONE)
    bad = task_for(ops[1], TaskStatus.ERROR, "no_capacity: no host in cn-east-1 has 2 cores free")
    before = account_get(customer_id="cust-1").balance
    order_task_finished(bad.pk, TaskStatus.ERROR)
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED
    assert order.fail_reason == OrderFailReason.NO_CAPACITY
    assert "no host in cn-east-1" in order.fail_detail
    # the failed sub-order is refunded once, however often the tasker reports it
    order_task_finished(bad.pk, TaskStatus.ERROR)
    assert account_get(customer_id="cust-1").balance == before + MONTH_PRICE
    order_task_finished(task_for(ops[2], TaskStatus.DONE).pk, TaskStatus.DONE)
    provisioned = list(order_provisioned_suborders(order_id=order.pk).values_list("pk", flat=True))
    assert provisioned == [ops[0]["suborder_id"], ops[2]["suborder_id"]]
    order.refresh_from_db()
    assert order.status == OrderStatus.FAILED


def test_an_unexplained_failure_is_a_program_error(prices):
    order = paid_order(1)
    [op] = order_expand(order.pk)
    task = task_for(op, TaskStatus.ERROR, "Traceback: KeyError 'mac'")
    order_task_finished(task.pk, TaskStatus.ERROR)
    order.refresh_from_db()
    assert order.fail_reason == OrderFailReason.PROGRAM_ERROR
