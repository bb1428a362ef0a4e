"""Every admin page answers for a superuser, changelists stay at a fixed number of queries."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model,model_admin", REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_changelist_add_and_change_pages_answer(model, model_admin, admin_client_logged_in, demo_data):
    client = admin_client_logged_in
    assert client.get(url(model, "changelist")).status_code == 200
    add = client.get(url(model, "add"))
    assert add.status_code == (200 if model_admin.has_add_permission(_request(client)) else 403)
    obj = model._default_manager.order_by("pk").first()
    if obj is not None:
        assert client.get(url(model, "change", obj.pk)).status_code == 200


def _request(client):
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="root")
    return request


def test_demo_data_fills_every_changelist(demo_data):
    empty = [m._meta.label for m, _ in REGISTERED if not m._default_manager.exists()]
    allowed_empty = {
        "django_celery_beat.ClockedSchedule",
        "django_celery_beat.SolarSchedule",
        "django_celery_beat.IntervalSchedule",
        "django_celery_beat.CrontabSchedule",
        "django_celery_beat.PeriodicTask",
        "auth.Group",
        "auth.User",
        "authtoken.TokenProxy",
        "api.ApiClient",
    }
    assert [label for label in empty if label not in allowed_empty] == []


@pytest.mark.parametrize("model,model_admin", REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_changelist_queries_do_not_grow_with_rows(model, model_admin, admin_client_logged_in, demo_data):
    client = admin_client_logged_in
    seed = SEEDS.get(model._meta.label)
    if seed is not None and not model._default_manager.exists():
        seed(0)  # the demo data has none of these
    with CaptureQueriesContext(connection) as before:
        client.get(url(model, "changelist"))
    rows = list(model._default_manager.all()[:5])
    assert rows, f"no {model._meta.label} rows: add a seed to SEEDS"
    for number, row in enumerate(rows * 3):
        if seed is not None:
            seed(number + 1)
        else:
            _copy(row, number)
    with CaptureQueriesContext(connection) as after:
        assert client.get(url(model, "changelist")).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


def _user(prefix: str, number: int):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(f"{prefix}-{number}")


def _seed_api_client(number: int):
    from api.models import ApiClient

    ApiClient.objects.create(user=_user("client", number), customer_id=f"cust-seed-{number}")


def _seed_token(number: int):
    from rest_framework.authtoken.models import Token

    Token.objects.create(user=_user("token", number))


def _seed_clocked(number: int):
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import ClockedSchedule

    ClockedSchedule.objects.create(clocked_time=timezone.now() + timedelta(hours=number))


def _seed_crontab(number: int):
    from django_celery_beat.models import CrontabSchedule

    CrontabSchedule.objects.create(minute=str(number % 60), hour=str(number // 60))


def _seed_interval(number: int):
    from django_celery_beat.models import IntervalSchedule

    IntervalSchedule.objects.create(every=number + 1, period=IntervalSchedule.SECONDS)


def _seed_solar(number: int):
    from decimal import Decimal

    from django_celery_beat.models import SolarSchedule

    SolarSchedule.objects.create(event="sunrise", latitude=Decimal(number), longitude=Decimal(120))


def _seed_periodic_task(number: int):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name=f"seeded job {number}", task="taskdone.sweep_deadlines", interval=every)


# Admin models the demo data leaves empty: one fresh row per call, distinct by ``number``.
SEEDS = {
    "api.ApiClient": _seed_api_client,
    "authtoken.TokenProxy": _seed_token,
    "django_celery_beat.ClockedSchedule": _seed_clocked,
    "django_celery_beat.CrontabSchedule": _seed_crontab,
    "django_celery_beat.IntervalSchedule": _seed_interval,
    "django_celery_beat.SolarSchedule": _seed_solar,
    "django_celery_beat.PeriodicTask": _seed_periodic_task,
}


def _copy(row, number: int):
    """Insert copy ``number`` of ``row``: unique values made fresh, every timestamp shifted alike.

    A unique integer gets ``20000 + 100 * number`` added: distinct for every copy of
    rows whose values differ by less than 100 (a random offset could collide).
    """
    import uuid
    from datetime import timedelta

    model = type(row)
    shift = uuid.uuid4().int % 100000 + 1000
    in_unique_constraint = {name for c in model._meta.constraints for name in getattr(c, "fields", ())}
    fields = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        value = getattr(row, field.attname)
        kind = field.get_internal_type()
        if kind == "DateTimeField" and value is not None:
            value = value + timedelta(days=shift)
        elif field.unique or field.name in in_unique_constraint:
            if kind == "CharField":
                value = uuid.uuid4().hex[: field.max_length]
            elif kind.endswith("IntegerField") and not field.is_relation:
                value = (value or 0) + 20000 + 100 * number
            elif field.is_relation and field.null:
                value = None
        fields[field.attname] = value
    return model._default_manager.create(**fields)
