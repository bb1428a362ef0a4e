from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction

from common.errors import Conflict, Forbidden, InvalidInput
from orders.models import AccountLedgerEntry, CustomerAccount
from orders.services import InsufficientBalance, account_credit, account_debit, account_get

pytestmark = pytest.mark.django_db


def credit(amount="100.00", key="k1", user=None, customer_id="cust-1", reason="top-up 充值"):
    return account_credit(
        customer_id=customer_id, amount=Decimal(amount), currency="CNY", reason=reason, user=user, idempotency_key=key
    )


def test_credit_then_debit_moves_the_balance_and_writes_the_ledger():
    credit("100.00")
    entry = account_debit(
        customer_id="cust-1", amount=Decimal("30.50"), currency="CNY", reason="order", idempotency_key="order:1"
    )
    assert account_get(customer_id="cust-1").balance == Decimal("69.50")
    assert entry.balance_after == Decimal("69.50")
    assert list(AccountLedgerEntry.objects.order_by("pk").values_list("kind", "amount")) == [
        ("credit", Decimal("100.00")),
        ("debit", Decimal("30.50")),
    ]


def test_a_retried_charge_never_charges_twice():
    credit("100.00")
    first = account_debit(customer_id="cust-1", amount=Decimal("40"), currency="CNY", reason="x", idempotency_key="o:9")
    again = account_debit(customer_id="cust-1", amount=Decimal("40"), currency="CNY", reason="x", idempotency_key="o:9")
    assert again.pk == first.pk
    assert account_get(customer_id="cust-1").balance == Decimal("60")
    assert AccountLedgerEntry.objects.filter(kind="debit").count() == 1


def test_the_database_keeps_idempotency_keys_unique():
    entry = credit("10")
    with pytest.raises(IntegrityError), transaction.atomic():
        AccountLedgerEntry.objects.create(
            account=entry.account,
            customer_id="cust-1",
            kind="credit",
            amount=Decimal(1),
            balance_after=Decimal(11),
            reason="dup",
            idempotency_key="k1",
        )


def test_a_reused_key_for_another_amount_is_refused():
    credit("10", key="same")
    with pytest.raises(Conflict):
        credit("20", key="same")
    assert account_get(customer_id="cust-1").balance == Decimal("10")


def test_insufficient_balance_changes_nothing():
    credit("10")
    with pytest.raises(InsufficientBalance):
        account_debit(customer_id="cust-1", amount=Decimal("10.01"), currency="CNY", reason="x", idempotency_key="o:1")
    assert account_get(customer_id="cust-1").balance == Decimal("10")
    assert AccountLedgerEntry.objects.count() == 1


@pytest.mark.parametrize(
    "amount,field",
    [("0", "amount"), ("-5", "amount"), ("1.001", "amount")],
)
def test_bad_amounts_are_refused_with_the_field(amount, field):
    with pytest.raises(InvalidInput) as refusal:
        credit(amount)
    assert refusal.value.field == field
    assert not CustomerAccount.objects.exists()


def test_reason_is_required():
    with pytest.raises(InvalidInput) as refusal:
        credit(reason="  ")
    assert refusal.value.field == "reason"


def test_crediting_needs_the_permission(django_user_model):
    clerk = django_user_model.objects.create_user("clerk")
    with pytest.raises(Forbidden):
        credit(user=clerk)
    clerk.user_permissions.add(Permission.objects.get(codename="credit_account"))
    clerk = django_user_model.objects.get(pk=clerk.pk)
    entry = credit(user=clerk)
    assert entry.created_by == clerk
