import codecs
import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Sum
from django.urls import reverse

from orders.models import (
    AccountLedgerEntry,
    RenewalLogAction,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
)
from orders.services import account_get, renewals_run

from .conftest import MONTH_PRICE, fund, local, make_suborder
from .test_renewals import WINDOW, failed_renewal

pytestmark = pytest.mark.django_db
LOGS = reverse("admin:orders_shoprenewallog_changelist")
EXPORT = reverse("admin:orders_shoprenewallog_export")


@pytest.fixture
def renewal_history(prices):
    """Renewal logs of two customers, two sites, both cycles, successes and failures, Chinese reasons."""
    fund("张三-cust", "100000.00")
    for index in range(3):
        make_suborder(customer_id="张三-cust", start=local(2026, 1, 10 + index, 9), resource_id=f"vm-{index}")
    make_suborder(customer_id="张三-cust", start=local(2025, 2, 9, 9), cycle="year", resource_id="vm-y")
    make_suborder(customer_id="poor", start=local(2026, 1, 10, 9), resource_id="vm-p")
    other = make_suborder(customer_id="张三-cust", start=local(2026, 1, 11, 9), resource_id="vm-o")
    ShopSubOrder.objects.filter(pk=other.pk).update(site_id="cn-north-1")
    renewals_run(now=local(2026, 2, 9), window=WINDOW)
    ShopRenewalLog.objects.filter(customer_id="poor").update(reason="余额不足，请充值")


def parse(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith(codecs.BOM_UTF8.decode("utf-8"))
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


@pytest.mark.parametrize(
    "query,filters",
    [
        ("", {}),
        ("?outcome__exact=succeeded", {"outcome": "succeeded"}),
        ("?billing_cycle__exact=year", {"billing_cycle": "year"}),
        ("?site_id__exact=cn-east-1&customer=张三-cust", {"site_id": "cn-east-1", "customer_id": "张三-cust"}),
        ("?fail_reason__exact=insufficient_balance", {"fail_reason": "insufficient_balance"}),
        ("?operator=celery-beat", {"operator_name": "celery-beat"}),
    ],
)
def test_csv_export_totals_equal_the_database_sum_under_the_same_filters(
    renewal_history, admin_client_logged_in, query, filters
):
    rows = parse(admin_client_logged_in.get(EXPORT + query))
    expected = ShopRenewalLog.objects.filter(**filters)
    assert len(rows) == expected.count() > 0
    total = sum((Decimal(row["amount"]) for row in rows if row["amount"]), Decimal(0))
    assert total == (expected.aggregate(total=Sum("amount"))["total"] or 0)
    assert {row["amount"] for row in rows if row["amount"]} <= {
        str(a) for a in expected.values_list("amount", flat=True)
    }


def test_csv_keeps_chinese_text_and_decimal_digits(renewal_history, admin_client_logged_in):
    rows = parse(admin_client_logged_in.get(EXPORT + "?customer=poor"))
    assert [row["reason"] for row in rows] == ["余额不足，请充值"]
    assert rows[0]["amount"] == "305.0000"
    response = admin_client_logged_in.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]


def test_changelist_shows_the_total_of_the_filtered_rows(renewal_history, admin_client_logged_in):
    page = admin_client_logged_in.get(LOGS + "?outcome__exact=succeeded&site_id__exact=cn-east-1")
    expected = ShopRenewalLog.objects.filter(outcome="succeeded", site_id="cn-east-1").aggregate(t=Sum("amount"))["t"]
    assert page.context["amount_totals"] == [{"currency": "CNY", "total": expected}]
    assert f"{expected} CNY" in page.content.decode()


def test_finance_reads_the_log_but_cannot_change_it_nor_export_without_permission(
    renewal_history, client, django_user_model
):
    finance = django_user_model.objects.create_user("finance", is_staff=True)
    finance.user_permissions.add(Permission.objects.get(codename="view_shoprenewallog"))
    client.force_login(finance)
    assert client.get(LOGS).status_code == 200
    assert client.get(EXPORT).status_code == 403
    log = ShopRenewalLog.objects.first()
    assert client.post(reverse("admin:orders_shoprenewallog_change", args=[log.pk]), {}).status_code == 403
    finance.user_permissions.add(Permission.objects.get(codename="export_renewallog"))
    assert client.get(EXPORT).status_code == 200


def test_mark_valid_admin_action_asks_for_a_reason_then_applies_once(prices, admin_client_logged_in, superuser):
    suborder, renewal = failed_renewal()
    fund("cust-1", "500.00")
    url = reverse("admin:orders_shopsuborderrenewal_changelist")
    data = {"action": "mark_renewal_valid", "_selected_action": [renewal.pk]}
    confirm = admin_client_logged_in.post(url, data)
    assert confirm.status_code == 200 and b"Reason" in confirm.content
    renewal.refresh_from_db()
    assert renewal.status == "FAILED"
    for _click in range(2):
        admin_client_logged_in.post(url, data | {"confirm": "yes", "reason": "客户已付款"})
    renewal.refresh_from_db()
    assert renewal.is_valid and renewal.status == "SUCCEEDED"
    assert AccountLedgerEntry.objects.filter(kind="debit").count() == 1
    assert account_get(customer_id="cust-1").balance == Decimal("600.00") - MONTH_PRICE
    log = ShopRenewalLog.objects.get(action=RenewalLogAction.MARK_VALID)
    assert (log.operator, log.reason) == (superuser, "客户已付款")


def test_credit_form_credits_once_per_form(admin_client_logged_in):
    url = reverse("admin:orders_customeraccount_credit")
    page = admin_client_logged_in.get(url + "?customer_id=cust-9")
    token = page.context["form"].initial["token"]
    data = {
        "customer_id": "cust-9",
        "amount": "88.50",
        "currency": "CNY",
        "reason": "补偿 compensation",
        "token": token,
    }
    first = admin_client_logged_in.post(url, data)
    assert first.status_code == 302
    admin_client_logged_in.post(url, data)  # submitted twice
    assert account_get(customer_id="cust-9").balance == Decimal("88.50")
    entry = AccountLedgerEntry.objects.get()
    assert (entry.kind, entry.reason) == ("credit", "补偿 compensation")


def test_credit_form_refuses_bad_input_and_users_without_permission(admin_client_logged_in, client, django_user_model):
    url = reverse("admin:orders_customeraccount_credit")
    bad = admin_client_logged_in.post(
        url, {"customer_id": "c", "amount": "1.001", "currency": "CNY", "reason": "x", "token": "t"}
    )
    assert bad.status_code == 200 and bad.context["form"].errors
    assert not AccountLedgerEntry.objects.exists()
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(url).status_code == 403


def test_failed_order_page_lists_provisioned_suborders(prices, admin_client_logged_in):
    from orders.models import ShopOrder

    order = ShopOrder.objects.create(order_no="F-1", customer_id="c", status="FAILED", fail_reason="no_capacity")
    make_suborder(customer_id="c", start=local(2026, 1, 1), order=order, resource_id="vm-kept")
    page = admin_client_logged_in.get(reverse("admin:orders_shoporder_change", args=[order.pk]))
    assert "vm-kept" in page.content.decode()


def test_renewal_rows_cannot_be_edited_by_hand(prices, admin_client_logged_in):
    _suborder, renewal = failed_renewal()
    url = reverse("admin:orders_shopsuborderrenewal_change", args=[renewal.pk])
    admin_client_logged_in.post(url, {"is_valid": "on", "status": "SUCCEEDED"})
    renewal.refresh_from_db()
    assert not renewal.is_valid
    assert ShopSuborderRenewal.objects.filter(is_valid=True).count() == 0


def test_customer_and_operator_filters_render_and_filter(renewal_history, admin_client_logged_in):
    page = admin_client_logged_in.get(LOGS + "?customer=poor&outcome__exact=failed")
    html = page.content.decode()
    assert 'name="customer" value="poor"' in html
    assert 'name="outcome__exact" value="failed"' in html  # kept when the text filter is submitted
    assert (
        page.context["cl"].result_count == ShopRenewalLog.objects.filter(customer_id="poor", outcome="failed").count()
    )
    page = admin_client_logged_in.get(LOGS + "?operator=nobody")
    assert page.context["cl"].result_count == 0
