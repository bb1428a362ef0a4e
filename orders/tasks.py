"""Celery entry points of the orders app: thin callers of the services."""

from celery import shared_task
from django.conf import settings

from .services import renewals_run


@shared_task(name="orders.renewals_run", ignore_result=True)
def run_renewals(batch_size: int | None = None) -> dict:
    """celery-beat's renewal run (see ``orders.schedules``); overlapping runs are safe."""
    return renewals_run(batch_size=batch_size or settings.RENEWAL_BATCH_SIZE).as_dict()
