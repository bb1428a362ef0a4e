"""Usage metering: per-row errors, good rows stored, resent batches change nothing, 10,000 rows per call."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import UsageSample
from billing.usage import usage_record_batch
from common.errors import InvalidInput

from .conftest import hour_start, sample

pytestmark = pytest.mark.django_db


def test_bad_rows_are_reported_by_index_field_and_code_and_good_rows_are_stored(items):
    at = hour_start(1)
    rows = [
        sample("traffic", "1.5", at, sample_id="ok-1"),
        sample("nonesuch", "1", at),
        sample("traffic", "-1", at),
        sample("traffic", "1", timezone.now() + timedelta(hours=1)),
        sample("traffic", "1", at, unit="MB"),
        {**sample("traffic", "1", at), "resource_id": ""},
        sample("traffic", "abc", at),
        sample("traffic", "1", "yesterday"),
        sample("bandwidth", 5, at.isoformat(), sample_id="ok-2"),
    ]
    result = usage_record_batch(samples=rows)
    assert [(e.index, e.field, e.code) for e in result.errors] == [
        (1, "item", "unknown_item"),
        (2, "value", "negative"),
        (3, "sampled_at", "future"),
        (4, "unit", "wrong_unit"),
        (5, "resource_id", "required"),
        (6, "value", "invalid"),
        (7, "sampled_at", "invalid"),
    ]
    assert all(error.message for error in result.errors)
    assert (result.received, result.accepted, result.duplicates) == (9, 2, 0)
    assert sorted(UsageSample.objects.values_list("sample_id", "value")) == [
        ("ok-1", Decimal("1.5")),
        ("ok-2", Decimal("5")),
    ]
    assert result.as_dict()["rejected"] == 7


def test_a_resent_batch_changes_nothing(items):
    at = hour_start(1)
    rows = [sample("traffic", "2", at), sample("traffic", "5", at), sample("traffic", "3", at)]
    first = usage_record_batch(samples=rows)
    stored = list(UsageSample.objects.order_by("sample_id").values_list("sample_id", "value", "received_at"))
    resent = usage_record_batch(samples=[*rows, {**rows[0], "value": "99"}])
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (resent.accepted, resent.duplicates, resent.errors) == (0, 4, [])
    assert list(UsageSample.objects.order_by("sample_id").values_list("sample_id", "value", "received_at")) == stored


def test_a_sample_id_repeated_inside_a_batch_is_stored_once(items):
    row = sample("traffic", "1", hour_start(1))
    result = usage_record_batch(samples=[row, row])
    assert (result.accepted, result.duplicates) == (1, 1)
    assert UsageSample.objects.count() == 1


def test_10000_rows_in_one_call_with_bulk_inserts(items):
    at = hour_start(1)
    rows = [sample("traffic", "0.5", at + timedelta(seconds=n % 3600), resource=f"vm-{n % 500}") for n in range(10_000)]
    with CaptureQueriesContext(connection) as queries:
        result = usage_record_batch(samples=rows)
    assert (result.accepted, result.errors) == (10_000, [])
    assert UsageSample.objects.count() == 10_000
    # Multi-row statements, not one per row (SQLite caps the parameters of one statement: ~100 rows each).
    assert len(queries.captured_queries) < 10_000 / 50


def test_a_request_that_is_not_a_list_or_too_long_stores_nothing(items):
    with pytest.raises(InvalidInput) as refused:
        usage_record_batch(samples=[sample("traffic", "1", hour_start(1))] * 10_001)
    assert refused.value.code == "batch_too_large"
    with pytest.raises(InvalidInput):
        usage_record_batch(samples={"sample_id": "x"})
    assert not UsageSample.objects.exists()
