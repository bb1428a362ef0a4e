"""The status tables of orders, sub-orders and renewals: every allowed edge, in one place.

Order (shop_order)::

    NEW ──pay──> PAID ──handed to the tasker──> PROVISIONING ──all tasks DONE──> SUCCEEDED
     │             │                              │
     │             └────────────> FAILED <────────┘ (a task ERROR/CANCELLED: reason + detail)
     ├──payment failed──> FAILED
     └──> CANCELLED

Sub-order (shop_suborder)::

    NEW ──> PROVISIONING ──task DONE──> ACTIVE <──renewed / fixed── SUSPENDED
     │           │                        │ └──grace period over──────────^
     │           └──task failed──> FAILED └──> CANCELLED (also from NEW, SUSPENDED)

Renewal (shop_suborder_renewal)::

    PENDING ──> SUCCEEDED (is_valid = 1)
       └──────> FAILED (is_valid = 0) ──retry fails──> FAILED
                   └──retry succeeds / marked valid──> SUCCEEDED
"""

from common.transitions import TransitionTable

from .models import OrderStatus, RenewalStatus, SubOrderStatus

ORDER_TRANSITIONS = TransitionTable.build(
    "shop_order.status",
    {
        OrderStatus.NEW: {OrderStatus.PAID, OrderStatus.FAILED, OrderStatus.CANCELLED},
        OrderStatus.PAID: {OrderStatus.PROVISIONING, OrderStatus.FAILED},
        OrderStatus.PROVISIONING: {OrderStatus.SUCCEEDED, OrderStatus.FAILED},
    },
)

SUBORDER_TRANSITIONS = TransitionTable.build(
    "shop_suborder.status",
    {
        SubOrderStatus.NEW: {SubOrderStatus.PROVISIONING, SubOrderStatus.FAILED, SubOrderStatus.CANCELLED},
        # A task may finish DONE after its order already failed on a sibling:
        # the resource exists, so the sub-order becomes ACTIVE and ops see it.
        SubOrderStatus.PROVISIONING: {SubOrderStatus.ACTIVE, SubOrderStatus.FAILED},
        SubOrderStatus.ACTIVE: {SubOrderStatus.SUSPENDED, SubOrderStatus.CANCELLED},
        SubOrderStatus.SUSPENDED: {SubOrderStatus.ACTIVE, SubOrderStatus.CANCELLED},
    },
)

RENEWAL_TRANSITIONS = TransitionTable.build(
    "shop_suborder_renewal.status",
    {
        RenewalStatus.PENDING: {RenewalStatus.SUCCEEDED, RenewalStatus.FAILED},
        RenewalStatus.FAILED: {RenewalStatus.FAILED, RenewalStatus.SUCCEEDED},
    },
)
