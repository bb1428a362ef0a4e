"""The renewal run's bulk statements: exactly the values given are written, and only the rows named are touched."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from orders.models import CustomerAccount, ShopRenewalLog, ShopSubOrder, ShopSuborderRenewal
from orders.services.bulksql import insert_rows, update_rows

from .conftest import local, make_suborder

pytestmark = pytest.mark.django_db

TRICKY = [
    "it's",
    'say "hi"',
    "back\\slash \\' \\\\",
    "100% %s %(x)s %%",
    "续约 ✓ ünïcode",
    "line\nbreak\ttab\r",
    "NUL\x00inside",
    "",
]


def test_update_rows_writes_each_rows_own_value_however_values_repeat():
    accounts = [CustomerAccount.objects.create(customer_id=f"c-{n}") for n in range(7)]
    balances = [Decimal("5"), Decimal("5.00"), Decimal("7.1234"), Decimal("5"), Decimal("0"), Decimal("7.1234"), 3]
    moment = timezone.now().replace(microsecond=0)
    update_rows(
        CustomerAccount, ("balance", "updated_at"), [(a.pk, b, moment) for a, b in zip(accounts, balances, strict=True)]
    )
    assert [a.balance for a in CustomerAccount.objects.order_by("pk")] == [Decimal(b) for b in balances]
    assert set(CustomerAccount.objects.values_list("updated_at", flat=True)) == {moment}


def test_update_rows_sets_repeated_distinct_and_null_values_row_by_row():
    start = local(2026, 1, 10, 9)
    suborders = [make_suborder(start=start, resource_id=f"vm-{n}") for n in range(6)]
    expiries = [start, start + timedelta(days=1), None, start, start + timedelta(days=1), start + timedelta(days=2)]
    statuses = ["ACTIVE", "SUSPENDED", "ACTIVE", "ACTIVE", "SUSPENDED", "ACTIVE"]
    update_rows(
        ShopSubOrder,
        ("expire_at", "status"),
        [(s.pk, e, st) for s, e, st in zip(suborders, expiries, statuses, strict=True)],
    )
    assert list(ShopSubOrder.objects.order_by("pk").values_list("expire_at", "status")) == list(
        zip(expiries, statuses, strict=True)
    )


def test_insert_rows_keeps_every_character_and_type_of_every_value():
    suborder = make_suborder(start=local(2026, 1, 10, 9))
    moment = local(2026, 2, 10, 9, 30, 15)
    fields = ("suborder_id", "customer_id", "action", "outcome", "reason", "amount", "period_start", "operator_name")
    fields += ("site_id", "billing_cycle", "fail_reason", "currency", "created_at")
    rows = [
        (
            suborder.pk,
            "cust-1",
            "attempt",
            "failed",
            text,
            amount,
            start,
            "celery-beat",
            text,
            "month",
            "",
            "CNY",
            moment,
        )
        for text, amount, start in zip(
            TRICKY,
            [None, Decimal("0.01"), Decimal("305.00"), Decimal("305.0000"), None, Decimal("1234567.8912"), 0, 1],
            [moment, None, moment, moment + timedelta(seconds=1), None, moment, moment, moment],
            strict=True,
        )
    ]
    insert_rows(ShopRenewalLog, fields, rows)
    stored = list(ShopRenewalLog.objects.order_by("pk").values_list(*fields))
    assert stored == rows


def test_insert_rows_returns_the_new_ids_in_row_order_and_stores_json_exactly():
    suborders = [make_suborder(start=local(2026, 1, 10, 9), resource_id=f"vm-{n}") for n in range(4)]
    shared = [{"item": text, "price_id": n} for n, text in enumerate(TRICKY)]
    lines = [shared, shared, [{"item": "other"}], list(shared)]
    start, end = local(2026, 2, 10, 9), local(2026, 3, 10, 9)
    fields = ("suborder_id", "period_start", "period_end", "price_lines", "status", "is_valid", "amount")
    fields += ("currency", "fail_reason", "fail_detail", "attempts", "created_at", "updated_at")
    ids = insert_rows(
        ShopSuborderRenewal,
        fields,
        [
            (s.pk, start, end, line, "SUCCEEDED", n % 2 == 0, Decimal("1.50"), "CNY", "", "", 1, start, start)
            for n, (s, line) in enumerate(zip(suborders, lines, strict=True))
        ],
        returning=True,
    )
    if ids is None:  # a database that cannot return them
        ids = list(ShopSuborderRenewal.objects.order_by("pk").values_list("pk", flat=True))
    by_id = {r.pk: r for r in ShopSuborderRenewal.objects.all()}
    assert [by_id[pk].suborder_id for pk in ids] == [s.pk for s in suborders]
    assert [by_id[pk].price_lines for pk in ids] == lines
    assert [by_id[pk].is_valid for pk in ids] == [True, False, True, False]


def _rows_read(cursor) -> int:
    cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
    return sum(int(value) for _name, value in cursor.fetchall())


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)  # ANALYZE TABLE commits
@pytest.mark.skipif(connection.vendor != "mysql", reason="the plan in question is MariaDB's/MySQL's")
def test_update_rows_reads_the_rows_it_writes_not_the_whole_table():
    # A large share of the table in one statement: the shape in which the optimizer, left
    # alone, walks the whole primary key, so the cost grows with the table, not the batch.
    CustomerAccount.objects.bulk_create([CustomerAccount(customer_id=f"acct-{n:04d}") for n in range(1000)])
    accounts = list(CustomerAccount.objects.order_by("pk"))
    written = accounts[::2]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE shop_customer_account")  # statistics as a live table has them
        cursor.fetchall()
        before = _rows_read(cursor)
        update_rows(CustomerAccount, ("balance",), [(a.pk, Decimal("1.00")) for a in written])
        read = _rows_read(cursor) - before
    assert read <= len(written) + 50, read
    assert {a.balance for a in CustomerAccount.objects.filter(pk__in=[a.pk for a in written])} == {Decimal("1.00")}
    assert not CustomerAccount.objects.exclude(pk__in=[a.pk for a in written]).exclude(balance=0).exists()
