"""Celery app for test workers: the project's app, with coreTasker's stand-in when the real one is absent.

Started by the integration tests and the pipeline benchmark as
``celery -A tasks.tests.stub_worker worker ...``.
"""

import django

from opsplatform.celery import app

django.setup()

from tasks.tests import corestub  # noqa: E402  (needs the app registry)

if not corestub.real_coretasker_present():
    corestub.install()

__all__ = ["app"]
