"""Customer accounts: a balance per customer, moved only with an append-only ledger entry."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from billing.money import round_money
from common.errors import Conflict, InvalidInput

from ..models import AccountLedgerEntry, CustomerAccount, LedgerKind
from ._common import require_perm


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


def account_get(*, customer_id: str) -> CustomerAccount:
    """The customer's account; a customer never seen before gets an empty one (balance 0, CNY)."""
    if not customer_id:
        raise InvalidInput(_("A customer ID is required."), field="customer_id")
    account, _created = CustomerAccount.objects.get_or_create(customer_id=customer_id)
    return account


def _checked_amount(amount, currency: str) -> Decimal:
    if not isinstance(amount, Decimal):
        raise InvalidInput(_("The amount must be a decimal number."), field="amount")
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput(_("The amount must be greater than zero."), field="amount")
    if round_money(amount, currency) != amount:
        raise InvalidInput(
            _("The amount has more decimal places than %(currency)s allows.") % {"currency": currency},
            field="amount",
        )
    return amount


def _locked_account(customer_id: str, currency: str) -> CustomerAccount:
    CustomerAccount.objects.get_or_create(customer_id=customer_id, defaults={"currency": currency})
    account = CustomerAccount.objects.select_for_update().get(customer_id=customer_id)
    if account.currency != currency:
        raise InvalidInput(
            _("The account of %(customer)s is kept in %(account)s, not %(currency)s.")
            % {"customer": customer_id, "account": account.currency, "currency": currency},
            field="currency",
        )
    return account


def account_credit(
    *, customer_id: str, amount: Decimal, currency: str, reason: str, user, idempotency_key: str
) -> AccountLedgerEntry:
    """Add ``amount`` to the customer's balance and write the ledger entry, exactly once per key.

    A second call with the same ``idempotency_key`` returns the first entry and
    changes nothing. Needs ``orders.credit_account`` when a user is given.
    """
    require_perm(user, "orders.credit_account")
    if not (reason or "").strip():
        raise InvalidInput(_("A reason is required."), field="reason")
    if not idempotency_key:
        raise InvalidInput(_("An idempotency key is required."), field="idempotency_key")
    return _post(
        LedgerKind.CREDIT,
        customer_id=customer_id,
        amount=amount,
        currency=(currency or "").upper(),
        reason=reason.strip(),
        key=idempotency_key,
        user=user,
    )


def account_debit(
    *,
    customer_id: str,
    amount: Decimal,
    currency: str,
    reason: str,
    idempotency_key: str,
    order_id: int | None = None,
    renewal_id: int | None = None,
    user=None,
) -> AccountLedgerEntry:
    """Take ``amount`` from the customer's balance, exactly once per ``idempotency_key``.

    Runs in the caller's transaction when there is one (an order payment, a
    renewal), under the account's row lock. Raises :class:`InsufficientBalance`
    and changes nothing when the balance does not cover the amount.
    """
    return _post(
        LedgerKind.DEBIT,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        reason=reason,
        key=idempotency_key,
        user=user,
        order_id=order_id,
        renewal_id=renewal_id,
    )


def insufficient_balance_message(*, balance: Decimal, currency: str, amount: Decimal) -> str:
    """Why a debit of ``amount`` was refused: the one wording, for a single debit and the renewal run alike."""
    return _("Insufficient balance: %(balance)s %(currency)s, %(amount)s needed.") % {
        "balance": balance,
        "currency": currency,
        "amount": amount,
    }


def _post(kind: str, *, customer_id, amount, currency, reason, key, user, **refs) -> AccountLedgerEntry:
    """Move the balance by one ledger entry, once per key, under the account's row lock."""
    _checked_amount(amount, currency)
    with transaction.atomic():
        account = _locked_account(customer_id, currency)
        existing = AccountLedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _same_request(existing, customer_id=customer_id, kind=kind, amount=amount)
        if kind == LedgerKind.DEBIT and account.balance < amount:
            raise InsufficientBalance(
                insufficient_balance_message(balance=account.balance, currency=currency, amount=amount)
            )
        return _write(account, kind, amount, reason=reason, key=key, user=user, **refs)


def _same_request(entry: AccountLedgerEntry, *, customer_id: str, kind: str, amount: Decimal) -> AccountLedgerEntry:
    if entry.customer_id != customer_id or entry.kind != kind or entry.amount != amount:
        raise Conflict(
            _("The idempotency key %(key)s was already used for another entry.") % {"key": entry.idempotency_key},
            code="idempotency_key_reused",
        )
    return entry


def _write(account: CustomerAccount, kind: str, amount: Decimal, *, reason, key, user, **refs) -> AccountLedgerEntry:
    delta = amount if kind == LedgerKind.CREDIT else -amount
    # The row is locked; F() keeps the arithmetic in the database all the same.
    CustomerAccount.objects.filter(pk=account.pk).update(balance=F("balance") + delta)
    account.refresh_from_db(fields=["balance"])
    try:
        with transaction.atomic():
            return AccountLedgerEntry.objects.create(
                account=account,
                customer_id=account.customer_id,
                kind=kind,
                amount=amount,
                balance_after=account.balance,
                currency=account.currency,
                reason=reason,
                idempotency_key=key,
                created_by=user,
                **refs,
            )
    except IntegrityError:
        # Only reachable when the caller bypassed the lock; the outer rollback undoes the balance.
        raise Conflict(_("This charge was already recorded."), code="duplicate_charge") from None
