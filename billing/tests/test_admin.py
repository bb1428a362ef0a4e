"""Billing admin: price history with the current price, used prices locked, filtered totals, CSV export."""

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from billing.charges import charge_period
from billing.models import BillResourcesPrice, ChargeLine

from .conftest import hour_start, hourly_price, record, sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(items):
    start = hour_start(3)
    hourly_price("traffic", "0.333")
    record(
        sample("traffic", "3", start, customer="cust-1", resource="vm-1"),
        sample("traffic", "1.005", start, customer="cust-2", resource="vm-2"),
        sample("traffic", "10", start, customer="cust-2", resource="vm-3"),
    )
    charge_period(period_start=start)
    return start


def test_charge_lines_filtered_by_customer_show_the_filtered_total(admin_client_logged_in, charged):
    url = reverse("admin:billing_chargeline_changelist")
    everything = admin_client_logged_in.get(url)
    assert [(t["currency"], t["amount"]) for t in everything.context["totals"]] == [("CNY", Decimal("4.66"))]
    one = admin_client_logged_in.get(url, {"customer_id": "cust-2"})
    # 1.005 x 0.333 = 0.334665 -> 0.33; 10 x 0.333 = 3.33
    assert [(t["lines"], t["amount"]) for t in one.context["totals"]] == [(2, Decimal("3.66"))]
    assert b"3.66" in one.content
    by_item = admin_client_logged_in.get(url, {"item_type__id__exact": ChargeLine.objects.first().item_type_id})
    assert by_item.context["totals"][0]["lines"] == 3


def test_csv_export_is_permission_gated_and_keeps_decimals_as_stored(client, django_user_model, charged):
    staff = django_user_model.objects.create_user("finance", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_chargeline"))
    client.force_login(staff)
    export = reverse("admin:billing_chargeline_export")
    assert client.get(export).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="export_chargeline"))
    response = client.get(export, {"customer_id": "cust-1"})
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 1
    stored = ChargeLine.objects.get(customer_id="cust-1")
    assert (rows[0]["amount"], rows[0]["amount_exact"], rows[0]["unit_price"]) == (
        str(stored.amount),
        str(stored.amount_exact),
        str(stored.unit_price),
    )
    assert Decimal(rows[0]["amount"]) == Decimal("1.00") and rows[0]["item"] == "traffic"
    # Times in the platform's zone with its offset, like the renewal-log export: the same instant.
    assert rows[0]["created_at"] == timezone.localtime(stored.created_at).isoformat()
    assert datetime.fromisoformat(rows[0]["created_at"]) == stored.created_at


def test_export_action_on_selected_rows(admin_client_logged_in, charged):
    ids = list(ChargeLine.objects.filter(customer_id="cust-2").values_list("pk", flat=True))
    response = admin_client_logged_in.post(
        reverse("admin:billing_chargeline_changelist"), {"action": "export_csv", "_selected_action": ids}
    )
    text = b"".join(response.streaming_content).decode("utf-8")
    assert len(text.strip().splitlines()) == 1 + 2


def test_a_used_price_cannot_be_edited_or_deleted_in_the_admin(admin_client_logged_in, charged):
    price = BillResourcesPrice.objects.get()
    change = reverse("admin:billing_billresourcesprice_change", args=[price.pk])
    page = admin_client_logged_in.get(change)
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    admin_client_logged_in.post(change, {"unit_price": "9", "item_type": price.item_type_id})
    price.refresh_from_db()
    assert price.unit_price == Decimal("0.333")
    delete = admin_client_logged_in.get(reverse("admin:billing_billresourcesprice_delete", args=[price.pk]))
    assert delete.status_code == 403


def test_change_price_from_a_date_page_calls_the_service(admin_client_logged_in, charged):
    price = BillResourcesPrice.objects.get()
    url = reverse("admin:billing_billresourcesprice_change_from_date", args=[price.pk])
    refused = admin_client_logged_in.post(url, {"unit_price": "0.5", "effective_from": charged.isoformat()})
    assert refused.status_code == 200 and BillResourcesPrice.objects.count() == 1  # charges used it then
    later = (charged + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    done = admin_client_logged_in.post(url, {"unit_price": "0.5", "effective_from": later})
    assert done.status_code == 302
    assert list(BillResourcesPrice.objects.order_by("valid_from").values_list("unit_price", flat=True)) == [
        Decimal("0.333"),
        Decimal("0.5"),
    ]


def test_price_history_on_the_item_marks_the_current_price(admin_client_logged_in, items):
    old = hourly_price("traffic", "0.7", days_back=60)
    old.valid_to = hour_start(24 * 30)
    old.save(update_fields=["valid_to"])
    hourly_price("traffic", "0.8")
    page = admin_client_logged_in.get(reverse("admin:billing_billingitemtype_change", args=[items["traffic"].pk]))
    content = page.content.decode()
    assert content.count('alt="True"') == 1 and content.count('alt="False"') >= 1
    listing = admin_client_logged_in.get(
        reverse("admin:billing_billresourcesprice_changelist"), {"validity": "current"}
    )
    assert [p.unit_price for p in listing.context["cl"].result_list] == [Decimal("0.80000000")]


def test_the_add_form_refuses_an_overlapping_price(admin_client_logged_in, items):
    hourly_price("traffic", "0.8")
    response = admin_client_logged_in.post(
        reverse("admin:billing_billresourcesprice_add"),
        {
            "item_type": items["traffic"].pk,
            "site_id": "cn-east-1",
            "billing_cycle": "hour",
            "currency": "CNY",
            "unit_price": "0.9",
            "valid_from_0": hour_start(1).strftime("%Y-%m-%d"),
            "valid_from_1": hour_start(1).strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 200 and "Overlaps" in response.content.decode()
    assert BillResourcesPrice.objects.count() == 1


def test_the_add_form_creates_a_price_through_the_service(admin_client_logged_in, items, superuser):
    start = hour_start(1)
    response = admin_client_logged_in.post(
        reverse("admin:billing_billresourcesprice_add"),
        {
            "item_type": items["traffic"].pk,
            "site_id": "cn-east-1",
            "billing_cycle": "hour",
            "currency": "CNY",
            "unit_price": "0.12345678",
            "valid_from_0": start.strftime("%Y-%m-%d"),
            "valid_from_1": start.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    price = BillResourcesPrice.objects.get()
    assert (price.unit_price, price.created_by, price.valid_from) == (Decimal("0.12345678"), superuser, start)
