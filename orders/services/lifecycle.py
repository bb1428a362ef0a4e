"""The order lifecycle: place, pay, hand to the tasker, follow its tasks to success or failure."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.money import round_money
from billing.pricing import quote_suborder
from common.errors import Conflict, InvalidInput, NotFound
from common.transitions import transition
from coretasker.models import CpuTypeTpl

from ..models import OrderFailReason, OrderStatus, ShopOrder, ShopSubOrder, SubOrderStatus
from ..periods import CYCLE_MONTHS, period_end
from ..states import ORDER_TRANSITIONS, SUBORDER_TRANSITIONS
from .accounts import InsufficientBalance, account_credit, account_debit

#: The tasker's entry point for ``{"order_id": N, "type": "order"}`` on queue_operation_task_V3.
ORDER_TASK_NAME = "taskercenter.consume"
MAX_PERIODS = 36
VM_SPEC_KEYS = ("cpu", "memory_gb", "disk_gb")
#: Every key a VM spec may hold: what the tasker's create_vm operation takes.
VM_SPEC_ALLOWED = {"cpu_type", "cpu", "memory_gb", "disk_gb", "bandwidth_mbps"}

#: Words in a failed task's error that name a fixed failure reason; anything else is a program error.
_FAIL_MARKERS = [
    (OrderFailReason.NO_CAPACITY, ("no_capacity", "no capacity")),
    (OrderFailReason.INVALID_SPEC, ("invalid_spec", "invalid spec")),
]


def _new_order_no() -> str:
    return f"O{timezone.now():%Y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def _clean_item(index: int, item) -> dict:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise InvalidInput(_("Each item must be an object."), field=where)
    resource_type = item.get("resource_type")
    site_id = item.get("site_id")
    spec = item.get("spec") or {}
    billing_cycle = item.get("billing_cycle")
    periods = item.get("periods", 1)
    auto_renew = item.get("auto_renew", True)
    if not resource_type or not isinstance(resource_type, str):
        raise InvalidInput(_("A resource type is required."), field=f"{where}.resource_type")
    if not site_id or not isinstance(site_id, str):
        raise InvalidInput(_("A site is required."), field=f"{where}.site_id")
    if not isinstance(spec, dict):
        raise InvalidInput(_("The spec must be an object."), field=f"{where}.spec")
    if billing_cycle not in CYCLE_MONTHS:
        raise InvalidInput(_("The billing cycle must be month or year."), field=f"{where}.billing_cycle")
    if isinstance(periods, bool) or not isinstance(periods, int) or not 1 <= periods <= MAX_PERIODS:
        raise InvalidInput(
            _("The number of periods must be a whole number from 1 to %(max)d.") % {"max": MAX_PERIODS},
            field=f"{where}.periods",
        )
    if not isinstance(auto_renew, bool):
        raise InvalidInput(_("auto_renew must be true or false."), field=f"{where}.auto_renew")
    if resource_type == "vm":
        unknown = sorted(set(spec) - VM_SPEC_ALLOWED)
        if unknown:
            raise InvalidInput(
                _("A VM spec takes no %(key)r (it takes: %(allowed)s).")
                % {"key": unknown[0], "allowed": ", ".join(sorted(VM_SPEC_ALLOWED))},
                field=f"{where}.spec.{unknown[0]}",
            )
        cpu_type = spec.get("cpu_type")
        if not cpu_type or not CpuTypeTpl.objects.filter(code=cpu_type).exists():
            raise InvalidInput(_("Unknown CPU type %(code)r.") % {"code": cpu_type}, field=f"{where}.spec.cpu_type")
        for key in VM_SPEC_KEYS:
            value = spec.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InvalidInput(
                    _("%(key)s must be a positive whole number.") % {"key": key}, field=f"{where}.spec.{key}"
                )
    return {
        "resource_type": resource_type,
        "site_id": site_id,
        "spec": spec,
        "billing_cycle": billing_cycle,
        "periods": periods,
        "auto_renew": auto_renew,
    }


def order_place(*, customer_id: str, items: list[dict], currency: str = "CNY", user=None) -> ShopOrder:
    """Create an unpaid order (NEW) with one sub-order per item, priced now from billing's prices.

    Every item is checked and priced before anything is written: bad input raises
    :class:`InvalidInput` naming the field (``items[0].spec.cpu``) and leaves the
    database unchanged.
    """
    if not customer_id or not isinstance(customer_id, str):
        raise InvalidInput(_("A customer ID is required."), field="customer_id")
    if not isinstance(items, list) or not items:
        raise InvalidInput(_("An order needs at least one item."), field="items")
    currency = (currency or "").upper()
    round_money(Decimal(0), currency)  # unknown currency -> InvalidInput(field="currency")
    now = timezone.now()
    priced = []
    for index, raw in enumerate(items):
        item = _clean_item(index, raw)
        try:
            quote = quote_suborder(
                resource_type=item["resource_type"],
                spec=item["spec"],
                site_id=item["site_id"],
                billing_cycle=item["billing_cycle"],
                periods=item["periods"],
                at=now,
                currency=currency,
            )
        except InvalidInput as refusal:
            raise InvalidInput(
                refusal.message, code=refusal.code, field=f"items[{index}].{refusal.field or 'spec'}"
            ) from None
        if not quote.lines:
            raise InvalidInput(_("The spec orders nothing billable."), field=f"items[{index}].spec")
        priced.append((item, quote))
    with transaction.atomic():
        order = ShopOrder.objects.create(
            order_no=_new_order_no(),
            customer_id=customer_id,
            currency=currency,
            total_amount=sum((quote.amount for _item, quote in priced), Decimal(0)),
            created_by=user,
        )
        ShopSubOrder.objects.bulk_create(
            ShopSubOrder(
                order=order,
                customer_id=customer_id,
                resource_type=item["resource_type"],
                site_id=item["site_id"],
                spec=item["spec"],
                billing_cycle=item["billing_cycle"],
                periods=item["periods"],
                auto_renew=item["auto_renew"],
                currency=currency,
                unit_price=round_money(quote.exact / item["periods"], currency),
                amount=quote.amount,
            )
            for item, quote in priced
        )
    return order


def order_pay(*, order_id: int, user=None) -> ShopOrder:
    """Pay a NEW order from the customer's account and hand it to the tasker.

    The debit carries the idempotency key ``order:<id>``, so paying twice never
    charges twice: a second call on a paid order returns it unchanged. When the
    balance does not cover the total, the order moves to FAILED with reason
    ``payment_failed`` and the shortfall as detail (nothing is charged); the
    order is returned either way, so callers read ``status``. Paying a FAILED or
    CANCELLED order raises :class:`Conflict`. The tasker hears of a paid order
    only after the commit.
    """
    with transaction.atomic():
        order = ShopOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise NotFound(_("Order %(id)s does not exist.") % {"id": order_id})
        if order.status in (OrderStatus.PAID, OrderStatus.PROVISIONING, OrderStatus.SUCCEEDED):
            return order
        if order.status != OrderStatus.NEW:
            raise Conflict(
                _("Order %(no)s is %(status)s and cannot be paid.")
                % {"no": order.order_no, "status": order.get_status_display()},
                code="order_not_payable",
            )
        now = timezone.now()
        try:
            with transaction.atomic():
                if order.total_amount > 0:
                    account_debit(
                        customer_id=order.customer_id,
                        amount=order.total_amount,
                        currency=order.currency,
                        reason=_("Payment of order %(no)s") % {"no": order.order_no},
                        idempotency_key=f"order:{order.pk}",
                        order_id=order.pk,
                        user=user,
                    )
                transition(ShopOrder, order.pk, table=ORDER_TRANSITIONS, to=OrderStatus.PAID, paid_at=now)
        except InsufficientBalance as refusal:
            transition(
                ShopOrder,
                order.pk,
                table=ORDER_TRANSITIONS,
                to=OrderStatus.FAILED,
                fail_reason=OrderFailReason.PAYMENT_FAILED,
                fail_detail=refusal.message,
                finished_at=now,
            )
            ShopSubOrder.objects.filter(order=order, status=SubOrderStatus.NEW).update(
                status=SubOrderStatus.FAILED, updated_at=now
            )
        else:
            transaction.on_commit(lambda: order_send_to_tasker(order_id=order.pk))
    order.refresh_from_db()
    return order


def order_send_to_tasker(*, order_id: int) -> None:
    """Send ``{"order_id": N, "type": "order"}`` to the tasker (call after commit only)."""
    from opsplatform.celery import app

    app.send_task(ORDER_TASK_NAME, args=[{"order_id": order_id, "type": "order"}])


def order_expand(order_id: int) -> list[dict]:
    """The tasker's order expander: one ``operation_place`` keyword set per sub-order, in a stable order.

    Moves the order PAID -> PROVISIONING and its NEW sub-orders to PROVISIONING,
    giving each a resource ID. Called again for the same order (a redelivered
    message) it returns the same list in the same order (every sub-order, by
    id), so the tasker's per-index request keys find the operations it already
    placed; an order that is no longer paid or provisioning gets none.
    """
    with transaction.atomic():
        order = ShopOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None or order.status not in (OrderStatus.PAID, OrderStatus.PROVISIONING):
            return []
        if order.status == OrderStatus.PAID:
            transition(ShopOrder, order.pk, table=ORDER_TRANSITIONS, to=OrderStatus.PROVISIONING)
        placed = []
        for suborder in ShopSubOrder.objects.filter(order=order).order_by("pk"):
            if suborder.status == SubOrderStatus.NEW:
                changes = {}
                if not suborder.resource_id:
                    suborder.resource_id = changes["resource_id"] = f"{suborder.resource_type}-{uuid.uuid4().hex[:16]}"
                transition(
                    ShopSubOrder, suborder.pk, table=SUBORDER_TRANSITIONS, to=SubOrderStatus.PROVISIONING, **changes
                )
            placed.append(
                {
                    "customer_id": order.customer_id,
                    "task_type": f"create_{suborder.resource_type}",
                    "resource_type": suborder.resource_type,
                    "resource_id": suborder.resource_id,
                    "site_id": suborder.site_id,
                    "params": dict(suborder.spec),
                    "order_id": order.pk,
                    "suborder_id": suborder.pk,
                }
            )
    return placed


def _fail_reason(error: str) -> str:
    lowered = (error or "").lower()
    for reason, markers in _FAIL_MARKERS:
        if any(marker in lowered for marker in markers):
            return reason
    return OrderFailReason.PROGRAM_ERROR


def order_task_finished(task_id: int, status: str) -> None:
    """The tasker's task-finished listener: move the sub-order and its order on.

    Only a provisioning task counts (its sub-order is PROVISIONING); a stop or
    start task of a suspension, or a duplicate notice, changes nothing. DONE:
    the sub-order becomes ACTIVE with its service period, and the order
    SUCCEEDED when every sub-order is. ERROR/CANCELLED: the sub-order FAILED and
    refunded, the order FAILED with a fixed reason and the task's error as detail;
    sub-orders already provisioned stay ACTIVE (``order_provisioned_suborders``).
    """
    from tasks.models import CloudTask, TaskStatus

    # What this reads of the task, not its parameters and results (registered with suborders_only,
    # it is not called for the tasks without a sub-order: most of them).
    task = CloudTask.objects.filter(pk=task_id).only("suborder_id", "finished_at", "resource_id", "error_msg").first()
    if task is None or task.suborder_id is None:
        return
    with transaction.atomic():
        suborder = ShopSubOrder.objects.select_for_update().filter(pk=task.suborder_id).first()
        if suborder is None or suborder.status != SubOrderStatus.PROVISIONING:
            return
        order = ShopOrder.objects.select_for_update().get(pk=suborder.order_id)
        now = timezone.now()
        if status == TaskStatus.DONE:
            start = task.finished_at or now
            transition(
                ShopSubOrder,
                suborder.pk,
                table=SUBORDER_TRANSITIONS,
                to=SubOrderStatus.ACTIVE,
                task=task,
                resource_id=task.resource_id or suborder.resource_id,
                service_start=start,
                expire_at=period_end(start, billing_cycle=suborder.billing_cycle, periods=suborder.periods),
            )
            unfinished = order.suborders.exclude(status=SubOrderStatus.ACTIVE).exists()
            if order.status == OrderStatus.PROVISIONING and not unfinished:
                transition(ShopOrder, order.pk, table=ORDER_TRANSITIONS, to=OrderStatus.SUCCEEDED, finished_at=now)
            return
        detail = task.error_msg or _("task %(id)s ended %(status)s") % {"id": task.pk, "status": status}
        transition(ShopSubOrder, suborder.pk, table=SUBORDER_TRANSITIONS, to=SubOrderStatus.FAILED, task=task)
        if suborder.amount > 0:
            account_credit(
                customer_id=suborder.customer_id,
                amount=suborder.amount,
                currency=suborder.currency,
                reason=_("Refund of failed sub-order %(id)s of order %(no)s")
                % {"id": suborder.pk, "no": order.order_no},
                user=None,
                idempotency_key=f"refund:suborder:{suborder.pk}",
            )
        if order.status in ORDER_TRANSITIONS.sources(OrderStatus.FAILED):
            transition(
                ShopOrder,
                order.pk,
                table=ORDER_TRANSITIONS,
                to=OrderStatus.FAILED,
                fail_reason=_fail_reason(detail),
                fail_detail=_("sub-order %(id)s (%(type)s): %(detail)s")
                % {"id": suborder.pk, "type": suborder.resource_type, "detail": detail},
                finished_at=now,
            )


def order_provisioned_suborders(*, order_id: int):
    """Sub-orders of an order whose resource exists (ACTIVE or SUSPENDED): what ops must clean up or keep."""
    return ShopSubOrder.objects.filter(
        order_id=order_id, status__in=[SubOrderStatus.ACTIVE, SubOrderStatus.SUSPENDED]
    ).order_by("pk")
