"""The tasker's periodic jobs, installed by ``manage.py setup_periodic_tasks``.

Any installed app may declare its own in ``<app>/schedules.py`` as a
``PERIODIC_TASKS`` list of dicts: ``name`` (unique, the beat row's name),
``task`` (the Celery task name), ``every`` (seconds) or ``crontab`` (a dict of
``minute``, ``hour``, ``day_of_week``, ``day_of_month``, ``month_of_year``),
and optionally ``kwargs`` (dict), ``queue`` and ``description``.
"""

PERIODIC_TASKS = [
    {
        "name": "tasker: time out subtasks past their deadline",
        "task": "taskdone.sweep_deadlines",
        "every": 30,
        "description": "Running subtasks past their deadline become ERROR with a timeout error log.",
    },
    {
        "name": "tasker: re-send lost messages",
        "task": "taskercenter.sweep_lost_messages",
        "every": 60,
        "description": "Operations and tasks left waiting get their message again.",
    },
]
