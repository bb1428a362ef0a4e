"""Periodic tasks of the orders app, installed into django-celery-beat by ``setup_periodic_tasks``."""

PERIODIC_TASKS = [
    {
        "name": "orders: renew due sub-orders",
        "task": "orders.renewals_run",
        "schedule": {"every": 300, "period": "seconds"},
        "kwargs": {},
    },
]
