"""The Celery app. Queues and routes are declared in settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsplatform.settings")

# filesystem:// messages are renamed into place whole (see opsplatform/broker.py).
TRANSPORT_ALIASES["filesystem"] = "opsplatform.broker:Transport"

app = Celery("opsplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def reuse_database_connections(**kwargs) -> None:
    """Workers keep their database connection for ``WORKER_DATABASE_CONN_MAX_AGE`` seconds.

    Runs in the worker's main process before the pool forks, so every pool
    process inherits it. ``CELERY_DB_REUSE_MAX`` (settings) stops Celery's Django
    fixup from closing connections around every task; :func:`recycle_connections`
    closes one only when it is older than that or unusable, and with health checks
    on, a reused connection is pinged before its first query of each task.
    """
    from django.conf import settings
    from django.db import connections

    max_age = settings.WORKER_DATABASE_CONN_MAX_AGE
    if max_age <= 0:
        return
    for alias in connections:
        for settings_dict in (settings.DATABASES[alias], connections.settings[alias], connections[alias].settings_dict):
            settings_dict["CONN_MAX_AGE"] = max_age
            settings_dict["CONN_HEALTH_CHECKS"] = True


@task_prerun.connect
@task_postrun.connect
def recycle_connections(sender=None, **kwargs) -> None:
    """Around each task, close a connection past its age or broken (Django's per-request rule).

    Not for eager calls: they run inside the caller's connection and transaction.
    """
    from django.conf import settings
    from django.db import close_old_connections

    if settings.WORKER_DATABASE_CONN_MAX_AGE <= 0 or getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
