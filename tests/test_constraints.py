"""Constraints that protect data live in the database: they hold without Python checks."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import BillingItemType, BillResourcesPrice, ChargeKind
from coretasker.models import CpuTypeTpl, TargetType, WorkflowTask
from orders.models import ShopOrder, ShopSubOrder, ShopSuborderRenewal

pytestmark = pytest.mark.django_db(transaction=True)


def make_suborder():
    order = ShopOrder.objects.create(order_no="T-1", customer_id="c1")
    return ShopSubOrder.objects.create(
        order=order, customer_id="c1", resource_type="vm", site_id="s1", billing_cycle="month"
    )


def test_one_renewal_per_suborder_and_period():
    suborder = make_suborder()
    start = timezone.now()
    ShopSuborderRenewal.objects.create(suborder=suborder, period_start=start, period_end=start + timedelta(days=30))
    with pytest.raises(IntegrityError), transaction.atomic():
        ShopSuborderRenewal.objects.create(suborder=suborder, period_start=start, period_end=start + timedelta(days=31))
    assert ShopSuborderRenewal.objects.count() == 1


def test_renewal_period_must_end_after_it_starts():
    suborder = make_suborder()
    start = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ShopSuborderRenewal.objects.create(suborder=suborder, period_start=start, period_end=start)


def test_order_number_is_unique():
    ShopOrder.objects.create(order_no="T-1", customer_id="c1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ShopOrder.objects.create(order_no="T-1", customer_id="c2")


def test_cpu_type_code_is_unique():
    CpuTypeTpl.objects.create(name="x", code="test_cpu")
    with pytest.raises(IntegrityError), transaction.atomic():
        CpuTypeTpl.objects.create(name="y", code="test_cpu")


def test_workflow_task_progress_cannot_pass_100():
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowTask.objects.create(target_type=TargetType.VM, task_type="create_vm", progress=101)


def test_workflow_idempotency_key_is_unique():
    WorkflowTask.objects.create(target_type=TargetType.VM, task_type="create_vm", idempotency_key="k1")
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowTask.objects.create(target_type=TargetType.VM, task_type="create_vm", idempotency_key="k1")


def test_price_cannot_be_negative_or_end_before_it_starts():
    item = BillingItemType.objects.create(code="t_vcpu", name="vCPU", unit="core", charge_kind=ChargeKind.NUMBER)
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        BillResourcesPrice.objects.create(
            item_type=item, site_id="s1", billing_cycle="month", unit_price=Decimal("-1"), valid_from=now
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        BillResourcesPrice.objects.create(
            item_type=item,
            site_id="s1",
            billing_cycle="month",
            unit_price=Decimal("1"),
            valid_from=now,
            valid_to=now - timedelta(days=1),
        )
