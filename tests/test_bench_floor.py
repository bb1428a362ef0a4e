"""The floor experiment's step (scripts/bench_pipeline_floor.py) does what its figures claim."""

import pytest
from django.db import connection
from kombu.messaging import Producer

from scripts import bench_celery


@pytest.fixture
def floor_table(db):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {bench_celery.FLOOR_TABLE} (id BIGINT PRIMARY KEY, step INTEGER NOT NULL)")
        cursor.execute(f"INSERT INTO {bench_celery.FLOOR_TABLE} (id, step) VALUES (1, 0)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {bench_celery.FLOOR_TABLE}")


def step_of(row):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT step FROM {bench_celery.FLOOR_TABLE} WHERE id = %s", [row])
        return cursor.fetchone()[0]


def test_a_floor_step_is_one_guarded_update_then_the_next_message(floor_table, monkeypatch, django_assert_num_queries):
    sent = []
    monkeypatch.setattr(Producer, "publish", lambda self, body, **options: sent.append(options["headers"]))
    body = {"id": 1, "step": 0, "last": 2}
    with django_assert_num_queries(1):
        bench_celery.bench_floor_step(body)
    assert step_of(1) == 1
    expected = (bench_celery.FLOOR_STEP, "[{'id': 1, 'step': 1, 'last': 2}]")
    assert [(h["task"], h["argsrepr"]) for h in sent] == [expected]

    bench_celery.bench_floor_step(body)  # the same message again: the guard refuses it, nothing sent
    assert step_of(1) == 1 and len(sent) == 1
    bench_celery.bench_floor_step({"id": 1, "step": 1, "last": 2})  # the chain's last message sends nothing
    assert step_of(1) == 2 and len(sent) == 1
