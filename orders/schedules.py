"""Periodic tasks of the orders app, installed into django-celery-beat by ``setup_periodic_tasks``.

Renewal runs every 5 minutes; overlapping runs are safe (rows are claimed with SKIP LOCKED).
"""

PERIODIC_TASKS = [
    {
        "name": "orders: renew due sub-orders",
        "task": "orders.renewals_run",
        "every": 300,  # seconds
        "kwargs": {},
    },
]
