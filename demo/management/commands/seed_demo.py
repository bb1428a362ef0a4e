"""Load a small demo data set so a newcomer finds every admin page populated.

Safe to run twice: rows are keyed by fixed demo identifiers and created once.
"""

from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing.demo import demo_price, load_billing_demo
from billing.models import BillingCycle
from coretasker.models import CpuTypeTpl, TargetType, WorkflowStatus, WorkflowSubtask, WorkflowTask
from orders.models import (
    OrderFailReason,
    OrderStatus,
    RenewalFailReason,
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopOrder,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from orders.services import account_credit, account_debit
from tasks.models import (
    CloudTask,
    CloudTaskErrorLog,
    CloudTaskSubtask,
    OperationStatus,
    ResUserOperation,
    SubtaskMode,
    SubtaskStatus,
    TaskStatus,
)

SITES = [("cn-east-1", "East China 1"), ("cn-north-1", "North China 1")]
#: Monthly demo prices (CNY) of billing's item types; the types themselves (and how each is
#: charged) come from billing's data migration, looked up here by code.
MONTHLY_PRICES = [
    ("vcpu", "45.000000"),
    ("memory", "20.000000"),
    ("system_disk", "0.500000"),
    ("bandwidth", "23.000000"),
    ("traffic", "0.800000"),
]


class Command(BaseCommand):
    help = "Load the demo data set (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        if ShopOrder.objects.filter(order_no="DEMO-0001").exists():
            self.stdout.write("Demo data already loaded.")
            return
        now = timezone.now()
        self._billing(now)
        cpu = CpuTypeTpl.objects.order_by("code").first()
        cpu_code = cpu.code if cpu else "intel_xeon_gold_6248"

        ok_order = ShopOrder.objects.create(
            order_no="DEMO-0001",
            customer_id="cust-1001",
            status=OrderStatus.SUCCEEDED,
            total_amount=Decimal("1340.0000"),
            paid_at=now - timedelta(days=29),
            finished_at=now - timedelta(days=29),
        )
        failed_order = ShopOrder.objects.create(
            order_no="DEMO-0002",
            customer_id="cust-1002",
            status=OrderStatus.FAILED,
            total_amount=Decimal("670.0000"),
            fail_reason=OrderFailReason.PROGRAM_ERROR,
            fail_detail="程序出错: create_vm raised an unexpected error on host sim-host-3",
            paid_at=now - timedelta(days=2),
            finished_at=now - timedelta(days=2),
        )
        ShopOrder.objects.create(order_no="DEMO-0003", customer_id="cust-1001", total_amount=Decimal("45.0000"))

        spec = {"cpu_type": cpu_code, "cpu": 2, "memory_gb": 4, "disk_gb": 40, "bandwidth_mbps": 5}
        for index in range(2):
            vm_id = f"vm-demo-{index + 1}"
            operation = ResUserOperation.objects.create(
                customer_id="cust-1001",
                task_type="create_vm",
                resource_type="vm",
                resource_id=vm_id,
                site_id=SITES[0][0],
                params=spec,
                task_status=OperationStatus.DONE,
                order_id=ok_order.pk,
            )
            task = CloudTask.objects.create(
                operation=operation,
                task_type="create_vm",
                customer_id="cust-1001",
                resource_type="vm",
                resource_id=vm_id,
                site_id=SITES[0][0],
                params=spec,
                status=TaskStatus.DONE,
                order_id=ok_order.pk,
                started_at=now - timedelta(days=29, minutes=5),
                finished_at=now - timedelta(days=29),
            )
            self._subtasks(task, now - timedelta(days=29, minutes=5), SubtaskStatus.DONE)
            suborder = ShopSubOrder.objects.create(
                order=ok_order,
                customer_id="cust-1001",
                resource_type="vm",
                resource_id=vm_id,
                site_id=SITES[0][0],
                spec=spec,
                billing_cycle="month",
                periods=1,
                unit_price=Decimal("670.0000"),
                amount=Decimal("670.0000"),
                status=SubOrderStatus.ACTIVE,
                service_start=now - timedelta(days=29),
                expire_at=now + timedelta(days=1 + index * 3),
                task=task,
            )
            self._renewals(suborder, failed=index == 1)

        operation = ResUserOperation.objects.create(
            customer_id="cust-1002",
            task_type="create_vm",
            resource_type="vm",
            resource_id="vm-demo-3",
            site_id=SITES[1][0],
            params=spec,
            task_status=OperationStatus.ERROR,
            order_id=failed_order.pk,
        )
        failed = CloudTask.objects.create(
            operation=operation,
            task_type="create_vm",
            customer_id="cust-1002",
            resource_type="vm",
            resource_id="vm-demo-3",
            site_id=SITES[1][0],
            params=spec,
            status=TaskStatus.ERROR,
            order_id=failed_order.pk,
            error_msg="create_vm: no capacity left on site cn-north-1",
            started_at=now - timedelta(days=2, minutes=3),
            finished_at=now - timedelta(days=2),
        )
        bad = self._subtasks(failed, now - timedelta(days=2, minutes=3), SubtaskStatus.ERROR)
        CloudTaskErrorLog.objects.create(
            task=failed,
            subtask=bad,
            step=bad.step,
            attempt=bad.attempts,
            error_class="DriverRefusal",
            message="no_capacity: no host in cn-north-1 has 2 cores and 4 GB free (simulated cloud)",
            traceback='Traceback (most recent call last):\n  File "coretasker/services.py", line 1\nDriverRefusal',
        )
        ShopSubOrder.objects.create(
            order=failed_order,
            customer_id="cust-1002",
            resource_type="vm",
            resource_id="vm-demo-3",
            site_id=SITES[1][0],
            spec=spec,
            billing_cycle="month",
            periods=1,
            unit_price=Decimal("670.0000"),
            amount=Decimal("670.0000"),
            status=SubOrderStatus.FAILED,
            task=failed,
        )
        self._accounts(ok_order)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))

    def _accounts(self, paid_order):
        """Balances and ledgers through the account services, so they agree with each other."""
        for customer_id, amount in (("cust-1001", "5000.00"), ("cust-1002", "12.00")):
            account_credit(
                customer_id=customer_id,
                amount=Decimal(amount),
                currency="CNY",
                reason="演示充值 demo top-up",
                user=None,
                idempotency_key=f"demo:top-up:{customer_id}",
            )
        account_debit(
            customer_id=paid_order.customer_id,
            amount=paid_order.total_amount,
            currency=paid_order.currency,
            reason=f"Payment of order {paid_order.order_no}",
            idempotency_key=f"order:{paid_order.pk}",
            order_id=paid_order.pk,
        )

    def _billing(self, now):
        for code, price in MONTHLY_PRICES:
            for site_id, _name in SITES:
                demo_price(
                    item_code=code,
                    site_id=site_id,
                    billing_cycle=BillingCycle.MONTH,
                    unit_price=Decimal(price),
                    valid_from=now - timedelta(days=365),
                )
        load_billing_demo(site_id=SITES[0][0], customer_id="cust-1001", vm_ids=["vm-demo-1", "vm-demo-2"])

    def _subtasks(self, task, start, last_status):
        steps = [("check_spec", SubtaskMode.SYNC), ("create_vm", SubtaskMode.ASYNC), ("start_vm", SubtaskMode.ASYNC)]
        subtask = None
        for number, (action, mode) in enumerate(steps, start=1):
            status = SubtaskStatus.DONE if number < len(steps) else last_status
            workflow = WorkflowTask.objects.create(
                target_type=TargetType.VM if action != "check_spec" else TargetType.ACTION,
                task_type=action,
                target_obj=task.resource_id,
                task_info=f"{action} for task {task.pk} (simulated cloud)",
                status=WorkflowStatus.DONE if status == SubtaskStatus.DONE else WorkflowStatus.ERROR,
                step=1,
                progress=100 if status == SubtaskStatus.DONE else 40,
                params=task.params,
                site_id=task.site_id,
                site_name=dict(SITES).get(task.site_id, ""),
                queue="queue_coretasker",
                customer_id=task.customer_id,
                run_dev="sim-host-1",
                idempotency_key=f"demo-{task.pk}-{number}",
            )
            WorkflowSubtask.objects.create(
                parent=workflow, step=1, status=workflow.status, agent="simcloud", params=task.params, is_last=True
            )
            subtask = CloudTaskSubtask.objects.create(
                task=task,
                step=number,
                group=number,
                action=action,
                mode=mode,
                status=status,
                attempts=1,
                max_attempts=3,
                params=task.params,
                progress=100 if status == SubtaskStatus.DONE else 40,
                workflow_task=workflow,
                started_at=start + timedelta(seconds=60 * (number - 1)),
                finished_at=start + timedelta(seconds=60 * number),
            )
        return subtask

    def _renewals(self, suborder, *, failed):
        start = suborder.service_start
        end = suborder.expire_at
        renewal = ShopSuborderRenewal.objects.create(
            suborder=suborder,
            period_start=end,
            period_end=end + timedelta(days=30),
            amount=suborder.unit_price,
            is_valid=not failed,
            status=RenewalStatus.FAILED if failed else RenewalStatus.SUCCEEDED,
            fail_reason=RenewalFailReason.INSUFFICIENT_BALANCE if failed else "",
            fail_detail="balance 12.00 CNY < 670.00 CNY" if failed else "",
            attempts=1,
            applied_at=None if failed else start,
        )
        ShopRenewalLog.objects.create(
            renewal=renewal,
            suborder=suborder,
            customer_id=suborder.customer_id,
            site_id=suborder.site_id,
            billing_cycle=suborder.billing_cycle,
            period_start=renewal.period_start,
            period_end=renewal.period_end,
            action=RenewalLogAction.ATTEMPT,
            outcome=RenewalLogOutcome.FAILED if failed else RenewalLogOutcome.SUCCEEDED,
            reason="余额不足 insufficient balance" if failed else "",
            fail_reason=RenewalFailReason.INSUFFICIENT_BALANCE if failed else "",
            amount=renewal.amount,
            operator_name="celery-beat",
        )
