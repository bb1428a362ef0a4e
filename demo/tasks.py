"""Celery entry point of the living demo: a thin caller of :func:`demo.services.demo_tick`."""

import logging
import random

from celery import shared_task
from django.conf import settings

from .services import demo_tick

logger = logging.getLogger(__name__)


@shared_task(name="demo.tick", ignore_result=True)
def tick() -> dict | None:
    """celery-beat's demo tick (see ``demo.schedules``); does nothing outside demo mode."""
    if not settings.DEMO_MODE:
        logger.warning("demo.tick skipped: DEMO_MODE is off")
        return None
    return demo_tick(rng=random.Random()).as_dict()
