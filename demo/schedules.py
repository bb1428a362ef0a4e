"""The living demo's periodic job, installed by ``setup_periodic_tasks``: enabled only in demo mode.

``settings.DEMO_MODE`` (env ``DEMO_MODE``, default false) is read when this
module is imported, so run ``setup_periodic_tasks`` with the mode you want:
``make run`` sets ``DEMO_MODE=true``; any other installation leaves the row
disabled.
"""

from django.conf import settings

PERIODIC_TASKS = [
    {
        "name": "demo: keep the demo data moving",
        "task": "demo.tick",
        "every": 20,
        "enabled": bool(settings.DEMO_MODE),
        "description": "Demo mode only: places a few operations, sometimes an order, and makes renewals fall due.",
    },
]
