from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test.utils import override_settings

from common.errors import Conflict, Forbidden, InvalidInput
from orders.models import AccountLedgerEntry, RenewalLogAction, ShopRenewalLog, ShopSuborderRenewal, SubOrderStatus
from orders.services import account_get, renewal_mark_valid, renewals_run

from .conftest import MONTH_PRICE, fund, local, make_suborder
from .test_renewals import WINDOW, failed_renewal

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_user(django_user_model):
    user = django_user_model.objects.create_user("ops-li")
    user.user_permissions.add(Permission.objects.get(codename="mark_renewal_valid"))
    return django_user_model.objects.get(pk=user.pk)


def test_insufficient_balance_then_mark_valid_applies_once(prices, ops_user):
    suborder, renewal = failed_renewal()
    fund("cust-1", "500.00")
    fixed = renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="客户已充值 topped up by phone")
    assert (fixed.status, fixed.is_valid, fixed.amount) == ("SUCCEEDED", True, MONTH_PRICE)
    suborder.refresh_from_db()
    assert suborder.expire_at == local(2026, 3, 10, 9)
    assert account_get(customer_id="cust-1").balance == Decimal("600.00") - MONTH_PRICE
    log = ShopRenewalLog.objects.get(action=RenewalLogAction.MARK_VALID)
    assert (log.operator, log.operator_name, log.reason, log.outcome) == (
        ops_user,
        "ops-li",
        "客户已充值 topped up by phone",
        "fixed",
    )
    # a later scheduled run does not charge the same period again
    renewals_run(now=local(2026, 2, 9, 12), window=WINDOW)
    assert AccountLedgerEntry.objects.filter(kind="debit").count() == 1


def test_double_click_changes_nothing_the_second_time(prices, ops_user):
    suborder, renewal = failed_renewal()
    fund("cust-1", "500.00")
    renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="fixed")
    balance = account_get(customer_id="cust-1").balance
    suborder.refresh_from_db()
    expiry = suborder.expire_at
    with pytest.raises(Conflict) as refusal:
        renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="fixed again")
    assert refusal.value.code == "renewal_already_valid"
    suborder.refresh_from_db()
    assert suborder.expire_at == expiry
    assert account_get(customer_id="cust-1").balance == balance
    assert ShopRenewalLog.objects.filter(action=RenewalLogAction.MARK_VALID).count() == 1


def test_a_renewal_that_succeeded_is_refused_with_a_message(prices, ops_user):
    fund("cust-1", "1000.00")
    make_suborder(start=local(2026, 1, 10, 9))
    renewals_run(now=local(2026, 2, 9), window=WINDOW)
    renewal = ShopSuborderRenewal.objects.get()
    with pytest.raises(Conflict) as refusal:
        renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="why not")
    assert "already succeeded" in refusal.value.message


def test_still_insufficient_balance_is_refused_and_nothing_changes(prices, ops_user):
    suborder, renewal = failed_renewal()
    with pytest.raises(Conflict):
        renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="try")
    renewal.refresh_from_db()
    assert renewal.status == "FAILED" and not renewal.is_valid
    assert not ShopRenewalLog.objects.filter(action=RenewalLogAction.MARK_VALID).exists()


def test_reason_and_permission_are_required(prices, ops_user, django_user_model):
    _suborder, renewal = failed_renewal()
    with pytest.raises(InvalidInput) as refusal:
        renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason=" ")
    assert refusal.value.field == "reason"
    with pytest.raises(Forbidden):
        renewal_mark_valid(renewal_id=renewal.pk, user=django_user_model.objects.create_user("nobody"), reason="x")


def test_mark_valid_lifts_a_suspension_and_places_the_start_operation(prices, ops_user, placed_operations):
    with override_settings(RENEWAL_GRACE_DAYS=1):
        suborder, renewal = failed_renewal()
        renewals_run(now=local(2026, 2, 11, 10), window=WINDOW)
        suborder.refresh_from_db()
        assert suborder.status == SubOrderStatus.SUSPENDED
        fund("cust-1", "500.00")
        renewal_mark_valid(renewal_id=renewal.pk, user=ops_user, reason="paid at the counter")
        suborder.refresh_from_db()
        assert suborder.status == SubOrderStatus.ACTIVE
        assert [op["task_type"] for op in placed_operations()] == ["stop_vm", "start_vm"]
        assert ShopRenewalLog.objects.filter(action=RenewalLogAction.RESUME, operator=ops_user).count() == 1
