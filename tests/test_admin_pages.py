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
    with CaptureQueriesContext(connection) as before:
        client.get(url(model, "changelist"))
    rows = list(model._default_manager.all()[:5])
    if not rows:
        pytest.skip("no rows to copy")
    for number, row in enumerate(rows * 3):
        _copy(row, number)
    with CaptureQueriesContext(connection) as after:
        assert client.get(url(model, "changelist")).status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


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
