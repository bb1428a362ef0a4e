"""The living demo: keep demo data moving on the simulated cloud (``make run``, demo mode only).

Each tick places a few operations for the demo customers (``demo-...``): new VMs
and pipes, everyday actions on the demo VMs that exist, and a start of a VM
that does not exist, which the simulated cloud refuses every attempt, so a
failed task shows up. A later tick creates the missing VM and retries the
failed task, so the failure turns DONE. Sometimes a tick places and pays an
order (topping the customer's account up first), and sometimes it moves an
active demo sub-order's expiry close, so the next renewal run renews it.
Every row it makes belongs to a ``demo-`` customer.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from common.errors import DomainError, InvalidInput
from coretasker.models import CpuTypeTpl
from orders.models import OrderStatus, ShopSubOrder, SubOrderStatus
from orders.services import account_credit, account_get, order_pay, order_place
from tasks.models import CloudTask, ResUserOperation, TaskStatus
from tasks.services import operation_place, task_retry

logger = logging.getLogger(__name__)

#: Every customer the demo acts for; everything it makes carries one of these.
DEMO_PREFIX = "demo-"
DEMO_CUSTOMERS = ("demo-alice", "demo-bob", "demo-carol")
DEMO_SITES = ("cn-east-1", "cn-north-1")
#: The demo keeps at most this many of its own VMs (not bought by an order); past it, it deletes.
MAX_DEMO_VMS = 12
#: A customer's account is topped up to cover at least this much besides what is being paid.
TOP_UP = Decimal("5000.00")
#: A sub-order made to fall due expires this many minutes from now (inclusive bounds).
DUE_IN_MINUTES = (2, 30)
#: Prefix of the VMs the demo starts without creating them: those starts fail.
MISSING_PREFIX = "demo-missing-"
RETRY_REASON = "demo: the missing VM exists now"

_ACTIVE = (TaskStatus.NEW, TaskStatus.DOING)


@dataclass
class DemoTickReport:
    """What one tick did: ids of what it placed, paid, retried and moved."""

    operations: list[int] = field(default_factory=list)
    orders: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    fell_due: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "operations": self.operations,
            "orders": self.orders,
            "retried": self.retried,
            "fell_due": self.fell_due,
            "refused": self.refused,
        }


def _new_id(kind: str) -> str:
    return f"{DEMO_PREFIX}{kind}-{uuid.uuid4().hex[:10]}"


def _cpu_type() -> str:
    code = CpuTypeTpl.objects.order_by("code").values_list("code", flat=True).first()
    if code is None:
        raise DomainError(_("The demo needs at least one CPU type template."))
    return code


def _demo_vms() -> tuple[list[str], list[str]]:
    """(demo VMs that exist and are idle, those of them the demo made itself and may delete)."""
    demo = CloudTask.objects.filter(customer_id__startswith=DEMO_PREFIX, resource_type="vm")
    created = dict(demo.filter(task_type="create_vm", status=TaskStatus.DONE).values_list("resource_id", "order_id"))
    deleted = set(demo.filter(task_type="delete_vm", status=TaskStatus.DONE).values_list("resource_id", flat=True))
    busy = set(demo.filter(status__in=_ACTIVE).values_list("resource_id", flat=True))
    idle = sorted(vm for vm in created if vm not in deleted and vm not in busy)
    return idle, [vm for vm in idle if created[vm] is None]


def _place(report: DemoTickReport, customer_id: str, task_type: str, resource_type: str, resource_id: str, **params):
    try:
        operation = operation_place(
            customer_id=customer_id,
            task_type=task_type,
            resource_type=resource_type,
            resource_id=resource_id,
            site_id=params.pop("site_id", DEMO_SITES[0]),
            params=params,
        )
    except DomainError as refusal:
        report.refused.append(f"{task_type} {resource_id}: {refusal.message}")
        return None
    report.operations.append(operation.pk)
    return operation


def _one_operation(rng: random.Random, report: DemoTickReport, cpu_type: str, used: set[str]) -> None:
    """Place one operation; ``used`` holds the VMs this tick already acted on (one operation per VM per tick)."""
    idle, own = _demo_vms()
    idle = [vm for vm in idle if vm not in used]
    own = [vm for vm in own if vm not in used]
    customer = rng.choice(DEMO_CUSTOMERS)
    kind = rng.choices(["create_vm", "act", "fail", "create_pipe"], weights=[3, 5, 1, 1])[0]
    if kind == "act" and not idle:
        kind = "create_vm"
    if kind == "create_vm" and len(own) >= MAX_DEMO_VMS:
        kind = "act"
    if kind == "create_vm":
        _place(
            report,
            customer,
            "create_vm",
            "vm",
            _new_id("vm"),
            site_id=rng.choice(DEMO_SITES),
            cpu_type=cpu_type,
            cpu=rng.choice([1, 2, 4]),
            memory_gb=rng.choice([2, 4, 8]),
            disk_gb=rng.choice([20, 40, 80]),
            bandwidth_mbps=rng.choice([5, 10, 50]),
        )
    elif kind == "create_pipe":
        _place(report, customer, "create_pipe", "pipe", _new_id("pipe"), bandwidth_mbps=rng.choice([10, 50, 100]))
    elif kind == "fail":
        # The simulated cloud refuses to start a VM it does not have: the task ends ERROR.
        _place(report, customer, "start_vm", "vm", f"{MISSING_PREFIX}{uuid.uuid4().hex[:10]}")
    else:
        vm = rng.choice(idle)
        owner, site = CloudTask.objects.filter(resource_id=vm, task_type="create_vm").values_list(
            "customer_id", "site_id"
        )[0]
        action = rng.choices(["reboot_vm", "set_bandwidth", "resize_vm", "create_nic", "delete_vm"], [3, 3, 2, 2, 1])[0]
        if len(own) >= MAX_DEMO_VMS or (action == "delete_vm" and vm not in own):
            action = "delete_vm" if own else "reboot_vm"
            vm = rng.choice(own) if own else vm
            owner, site = CloudTask.objects.filter(resource_id=vm, task_type="create_vm").values_list(
                "customer_id", "site_id"
            )[0]
        used.add(vm)
        params = {"site_id": site}
        if action == "set_bandwidth":
            params["bandwidth_mbps"] = rng.choice([5, 10, 20, 100])
        elif action == "resize_vm":
            params.update(cpu_type=cpu_type, cpu=rng.choice([1, 2, 4]), memory_gb=rng.choice([2, 4, 8]))
        elif action == "create_nic":
            _place(report, owner, "create_nic", "nic", _new_id("nic"), vm_id=vm, **params)
            return
        _place(report, owner, action, "vm", vm, **params)


def _recover_one(rng: random.Random, report: DemoTickReport, cpu_type: str) -> None:
    """Take one failed start of a missing VM a step further: create the VM, or retry the start once it exists."""
    failed = (
        CloudTask.objects.filter(
            customer_id__startswith=DEMO_PREFIX,
            task_type="start_vm",
            resource_id__startswith=MISSING_PREFIX,
            status=TaskStatus.ERROR,
        )
        .order_by("pk")
        .first()
    )
    if failed is None:
        return
    creates = CloudTask.objects.filter(resource_id=failed.resource_id, task_type="create_vm")
    if creates.filter(status=TaskStatus.DONE).exists():
        try:
            task_retry(task_id=failed.pk, user=None, reason=RETRY_REASON)
        except DomainError as refusal:
            report.refused.append(f"retry task {failed.pk}: {refusal.message}")
        else:
            report.retried.append(failed.pk)
    elif (
        not ResUserOperation.objects.filter(resource_id=failed.resource_id, task_type="create_vm").exists()
        and rng.random() < 0.5  # leave some failures for a person to look at
    ):
        _place(
            report,
            failed.customer_id,
            "create_vm",
            "vm",
            failed.resource_id,
            site_id=failed.site_id or DEMO_SITES[0],
            cpu_type=cpu_type,
            cpu=1,
            memory_gb=2,
            disk_gb=20,
        )


def _ensure_balance(customer_id: str, needed: Decimal, key: str) -> None:
    account = account_get(customer_id=customer_id)
    if account.balance < needed:
        account_credit(
            customer_id=customer_id,
            amount=needed - account.balance + TOP_UP,
            currency=account.currency,
            reason="demo: top-up",
            user=None,
            idempotency_key=key,
        )


def _one_order(rng: random.Random, report: DemoTickReport, cpu_type: str) -> None:
    customer = rng.choice(DEMO_CUSTOMERS)
    spec = {
        "cpu_type": cpu_type,
        "cpu": rng.choice([1, 2]),
        "memory_gb": rng.choice([2, 4]),
        "disk_gb": 40,
        "bandwidth_mbps": 5,
    }
    item = {"resource_type": "vm", "site_id": rng.choice(DEMO_SITES), "spec": spec, "billing_cycle": "month"}
    try:
        order = order_place(customer_id=customer, items=[item])
        _ensure_balance(customer, order.total_amount, f"demo-topup:order:{order.order_no}")
        order = order_pay(order_id=order.pk)
    except DomainError as refusal:
        report.refused.append(f"order for {customer}: {refusal.message}")
        return
    if order.status != OrderStatus.FAILED:
        report.orders.append(order.pk)


def _one_falls_due(rng: random.Random, report: DemoTickReport, now: datetime) -> None:
    """Move one active demo sub-order's expiry a few minutes ahead, so the renewal run renews it."""
    candidates = list(
        ShopSubOrder.objects.filter(
            customer_id__startswith=DEMO_PREFIX,
            status=SubOrderStatus.ACTIVE,
            auto_renew=True,
            expire_at__gt=now + timedelta(hours=1),
        ).values_list("pk", "customer_id", "amount")[:50]
    )
    if not candidates:
        return
    pk, customer, amount = rng.choice(candidates)
    due = now + timedelta(minutes=rng.randint(*DUE_IN_MINUTES))
    with transaction.atomic():
        moved = ShopSubOrder.objects.filter(pk=pk, status=SubOrderStatus.ACTIVE).update(expire_at=due, updated_at=now)
        if moved:
            _ensure_balance(customer, amount, f"demo-topup:renewal:{pk}:{due:%Y%m%d%H%M}")
    if moved:
        report.fell_due.append(pk)


def demo_tick(
    *,
    rng: random.Random,
    operations: int = 2,
    order_chance: float = 0.25,
    due_chance: float = 0.15,
    now: datetime | None = None,
) -> DemoTickReport:
    """One step of the living demo, for demo customers only (ids ``demo-...``).

    Places ``operations`` valid operations (some of which the simulated cloud
    refuses at run time, so failures show), takes one earlier failure a step
    towards recovery (creates its VM, or retries it), and with the given chances
    places and pays an order (crediting the account first when its balance is
    short, with an idempotency key) and makes an active sub-order fall due
    within minutes. Each write goes through the owning service; messages leave
    after their commits. Refusals are collected in the report, never raised.
    """
    if isinstance(operations, bool) or not isinstance(operations, int) or operations < 0:
        raise InvalidInput(
            _("Must be a whole number, 0 or more (got %(value)r).") % {"value": operations}, field="operations"
        )
    for name, chance in (("order_chance", order_chance), ("due_chance", due_chance)):
        if not 0 <= chance <= 1:
            raise InvalidInput(_("Must be between 0 and 1 (got %(value)r).") % {"value": chance}, field=name)
    now = now or timezone.now()
    report = DemoTickReport()
    cpu_type = _cpu_type()
    _recover_one(rng, report, cpu_type)
    used: set[str] = set()
    for _index in range(operations):
        _one_operation(rng, report, cpu_type, used)
    if rng.random() < order_chance:
        _one_order(rng, report, cpu_type)
    if rng.random() < due_chance:
        _one_falls_due(rng, report, now)
    logger.info("demo tick: %s", report.as_dict())
    return report
