"""Billing's periodic jobs, declared as data; a management command installs them in celery-beat.

- Every hour, 5 minutes past (samples of the last minutes of the hour still
  arrive in time): charge the last 2 complete hours. The older one is normally
  charged already and skipped; it is there so a single missed run catches up.
- Every day at 00:20: sweep the previous 24 hours, charging any hour the hourly
  job missed (beat or workers down). Running it twice changes nothing.
"""

PERIODIC_TASKS = [
    {
        "name": "billing: charge the previous hour",
        "task": "billing.charge_previous_period",
        "crontab": {"minute": "5", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "kwargs": {"billing_cycle": "hour", "periods": 2},
    },
    {
        "name": "billing: catch up on the previous day's hours",
        "task": "billing.charge_previous_period",
        "crontab": {"minute": "20", "hour": "0", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
        "kwargs": {"billing_cycle": "hour", "periods": 24},
    },
]
