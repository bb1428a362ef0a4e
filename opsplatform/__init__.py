"""The project package (the design card's ``platform/``).

It is not called ``platform`` because a top-level package of that name shadows
Python's standard ``platform`` module, which ``uuid``, pytest and Celery import.
"""

from .celery import app as celery_app

__all__ = ("celery_app",)
