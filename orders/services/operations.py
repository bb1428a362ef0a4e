"""Stop and start operations for suspended sub-orders, placed through the tasker's front door."""

from __future__ import annotations

#: What suspending and resuming a resource asks the tasker to do, per resource type.
SUSPEND_OPERATIONS = {"vm": ("stop_vm", "start_vm")}


def place_suspend_operation(*, suborder, resume: bool, user=None):
    """Place stop (or, on ``resume``, start) for the sub-order's resource; None for types without one.

    Runs inside the caller's transaction: ``operation_place`` writes its row there
    and sends its message only after the commit.
    """
    from tasks.services import operation_place

    names = SUSPEND_OPERATIONS.get(suborder.resource_type)
    if names is None or not suborder.resource_id:
        return None
    return operation_place(
        customer_id=suborder.customer_id,
        task_type=names[1] if resume else names[0],
        resource_type=suborder.resource_type,
        resource_id=suborder.resource_id,
        site_id=suborder.site_id,
        params=None,  # stop_vm and start_vm take no parameters
        user=user,
        order_id=suborder.order_id,
        suborder_id=suborder.pk,
    )
