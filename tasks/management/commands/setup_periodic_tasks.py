"""Install every app's periodic jobs (``<app>/schedules.py: PERIODIC_TASKS``) as celery-beat rows.

Idempotent: run it at every deploy. A job is found by its name and brought in
line with its declaration; rows of jobs no longer declared are left alone
(listed, so a person can remove them).
"""

import json
from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def declared_periodic_tasks() -> list[dict]:
    """Every ``PERIODIC_TASKS`` entry of every installed app, with the app's label."""
    found = []
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedules")
        except ModuleNotFoundError as missing:
            if missing.name != f"{config.name}.schedules":
                raise
            continue
        for entry in getattr(module, "PERIODIC_TASKS", []):
            found.append({**entry, "app": config.label})
    return found


def install(entry: dict) -> tuple[PeriodicTask, bool]:
    if ("every" in entry) == ("crontab" in entry):
        raise CommandError(f"{entry.get('name')}: give exactly one of 'every' and 'crontab'")
    defaults = {
        "task": entry["task"],
        "kwargs": json.dumps(entry.get("kwargs", {})),
        "queue": entry.get("queue"),
        "description": entry.get("description", ""),
        "enabled": entry.get("enabled", True),
        "interval": None,
        "crontab": None,
    }
    if "every" in entry:
        defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=int(entry["every"]), period=IntervalSchedule.SECONDS
        )
    else:
        cron = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
        cron.update(entry["crontab"])
        defaults["crontab"] = CrontabSchedule.objects.filter(**cron).first() or CrontabSchedule.objects.create(**cron)
    return PeriodicTask.objects.update_or_create(name=entry["name"], defaults=defaults)


class Command(BaseCommand):
    help = "Install or update the periodic jobs every app declares in <app>/schedules.py (PERIODIC_TASKS)."

    def handle(self, *args, **options):
        say = self.stdout.write if options["verbosity"] >= 1 else (lambda _text: None)
        entries = declared_periodic_tasks()
        names = [entry["name"] for entry in entries]
        if len(names) != len(set(names)):
            raise CommandError("two periodic jobs share a name: " + ", ".join(sorted(names)))
        with transaction.atomic():
            for entry in entries:
                _task, created = install(entry)
                verb = "created" if created else "up to date"
                say(f"{entry['app']}: {entry['name']} ({entry['task']}): {verb}")
        undeclared = PeriodicTask.objects.exclude(name__in=names).exclude(name__startswith="celery.")
        for task in undeclared:
            say(f"not declared by any app (left alone): {task.name}")
