from datetime import datetime

import pytest

from orders.periods import add_months, anchor_day_of, period_end

from .conftest import local


@pytest.mark.parametrize(
    "start,months,anchor,expected",
    [
        (datetime(2025, 1, 31), 1, 31, datetime(2025, 2, 28)),
        (datetime(2024, 1, 31), 1, 31, datetime(2024, 2, 29)),
        (datetime(2025, 2, 28), 1, 31, datetime(2025, 3, 31)),
        (datetime(2025, 3, 31), 1, 31, datetime(2025, 4, 30)),
        (datetime(2025, 12, 15), 1, 15, datetime(2026, 1, 15)),
        (datetime(2024, 2, 29), 12, 29, datetime(2025, 2, 28)),
        (datetime(2025, 2, 28), 12, 29, datetime(2026, 2, 28)),
        (datetime(2027, 2, 28), 12, 29, datetime(2028, 2, 29)),
    ],
)
def test_add_months_keeps_the_anchor_day(start, months, anchor, expected):
    assert add_months(start, months, anchor_day=anchor) == expected


def test_a_chain_of_month_ends_comes_back_to_the_31st():
    start = local(2025, 1, 31, 10, 30)
    anchor = anchor_day_of(start)
    ends = []
    moment = start
    for _ in range(3):
        moment = period_end(moment, billing_cycle="month", anchor_day=anchor)
        ends.append(moment)
    assert [(m.month, m.day, m.hour, m.minute) for m in ends] == [(2, 28, 10, 30), (3, 31, 10, 30), (4, 30, 10, 30)]


def test_anchor_day_is_the_local_calendar_day():
    # 00:30 on Feb 1st in Shanghai is still Jan 31st in UTC: the customer's day counts.
    start = local(2025, 2, 1, 0, 30)
    assert anchor_day_of(start) == 1
    end = period_end(start, billing_cycle="month")
    assert (end.month, end.day, end.hour) == (3, 1, 0)


def test_year_cycle():
    assert period_end(local(2024, 2, 29, 8), billing_cycle="year").date().isoformat() == "2025-02-28"
