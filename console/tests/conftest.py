import pytest
from django.contrib.auth.models import Group, Permission

from console.roles import roles_sync


@pytest.fixture
def roles(db):
    """The three groups, synchronised with every permission the installed apps declare now."""
    roles_sync(group_model=Group, permission_model=Permission)


@pytest.fixture
def user_in_role(roles, django_user_model):
    """``user_in_role("Ops")`` -> a staff user in that group (``None``: staff, no group)."""

    def make(role):
        name = (role or "nobody").lower()
        user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw-for-tests", is_staff=True)
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def make_renewal(db):
    """``make_renewal(is_valid=False)`` -> a failed renewal of a fresh order and sub-order."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from orders.models import RenewalStatus, ShopOrder, ShopSubOrder, ShopSuborderRenewal

    counter = iter(range(1, 10_000))

    def make(*, is_valid=False, status=RenewalStatus.FAILED, expire_in=timedelta(days=3)):
        n = next(counter)
        now = timezone.now()
        order = ShopOrder.objects.create(order_no=f"T-{n:05d}", customer_id=f"cust-{n}")
        suborder = ShopSubOrder.objects.create(
            order=order,
            customer_id=order.customer_id,
            resource_type="vm",
            resource_id=f"vm-{n}",
            site_id="cn-east-1",
            billing_cycle="month",
            expire_at=now + expire_in,
        )
        return ShopSuborderRenewal.objects.create(
            suborder=suborder,
            period_start=suborder.expire_at,
            period_end=suborder.expire_at + timedelta(days=30),
            amount=Decimal("10.0000"),
            is_valid=is_valid,
            status=status,
        )

    return make


@pytest.fixture
def make_task(db):
    """``make_task(status, subtasks=[(action, status, progress), ...])`` -> a task with its subtasks."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import CloudTask, CloudTaskSubtask

    def make(status="DOING", subtasks=(), *, created_at=None, started_at=None):
        now = timezone.now()
        task = CloudTask.objects.create(
            task_type="create_vm",
            customer_id="cust-1",
            resource_type="vm",
            resource_id="vm-1",
            status=status,
            started_at=started_at or now - timedelta(minutes=10),
        )
        if created_at:
            CloudTask.objects.filter(pk=task.pk).update(created_at=created_at)
        for step, (action, sub_status, progress) in enumerate(subtasks, start=1):
            CloudTaskSubtask.objects.create(
                task=task,
                step=step,
                group=step,
                action=action,
                status=sub_status,
                progress=progress,
                attempts=1,
                started_at=task.started_at + timedelta(minutes=step),
                finished_at=task.started_at + timedelta(minutes=step + 1) if sub_status in ("DONE", "ERROR") else None,
            )
        return task

    return make
