"""Fixing a failed renewal by hand: "mark renewal valid (is_valid=1)" (将is_valid手动更改为1)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.pricing import quote_suborder
from common.errors import Conflict, InvalidInput, NotFound
from common.transitions import transition

from ..models import (
    RenewalLogAction,
    RenewalLogOutcome,
    RenewalStatus,
    ShopRenewalLog,
    ShopSubOrder,
    ShopSuborderRenewal,
    SubOrderStatus,
)
from ..states import RENEWAL_TRANSITIONS, SUBORDER_TRANSITIONS
from ._common import operator_name, require_perm
from .accounts import account_debit
from .operations import place_suspend_operation
from .renewals import renewal_key


def renewal_mark_valid(*, renewal_id: int, user, reason: str) -> ShopSuborderRenewal:
    """Apply a FAILED renewal after a person fixed its cause, and record who and why.

    Sets ``is_valid = 1`` and SUCCEEDED, prices the period at its start, debits the
    account once (ledger key shared with the scheduled run, so the two can never
    both charge), extends the expiry, lifts a suspension (placing the start
    operation) and writes a ``mark_valid`` log row with the user and reason.
    Refuses with :class:`Conflict`, changing nothing, a renewal that already
    succeeded (so a second click does nothing), one that is not the sub-order's
    current period, or one the balance still does not cover. Needs
    ``orders.mark_renewal_valid``.
    """
    require_perm(user, "orders.mark_renewal_valid")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("A reason is required."), field="reason")
    suborder_id = ShopSuborderRenewal.objects.filter(pk=renewal_id).values_list("suborder_id", flat=True).first()
    if suborder_id is None:
        raise NotFound(_("Renewal %(id)s does not exist.") % {"id": renewal_id})
    with transaction.atomic():
        # Sub-order before renewal: the same order as the renewal run, so the two never deadlock.
        suborder = ShopSubOrder.objects.select_for_update().get(pk=suborder_id)
        renewal = ShopSuborderRenewal.objects.select_for_update().get(pk=renewal_id)
        if renewal.status == RenewalStatus.SUCCEEDED:
            raise Conflict(
                _("Renewal %(id)s already succeeded (is_valid=1); there is nothing to fix.") % {"id": renewal.pk},
                code="renewal_already_valid",
            )
        if renewal.status != RenewalStatus.FAILED:
            raise Conflict(_("Only a failed renewal can be marked valid."), code="renewal_not_failed")
        if suborder.status not in (SubOrderStatus.ACTIVE, SubOrderStatus.SUSPENDED):
            raise Conflict(
                _("Sub-order %(id)s is %(status)s and cannot be renewed.")
                % {"id": suborder.pk, "status": suborder.get_status_display()},
                code="suborder_not_renewable",
            )
        if suborder.expire_at != renewal.period_start:
            raise Conflict(
                _("Renewal %(id)s is not for the sub-order's current period.") % {"id": renewal.pk},
                code="renewal_not_current",
            )
        quote = quote_suborder(
            resource_type=suborder.resource_type,
            spec=suborder.spec,
            site_id=suborder.site_id,
            billing_cycle=suborder.billing_cycle,
            periods=1,
            at=renewal.period_start,
            currency=suborder.currency,
        )
        if quote.amount > 0:
            account_debit(
                customer_id=suborder.customer_id,
                amount=quote.amount,
                currency=suborder.currency,
                reason=_("Renewal of sub-order %(id)s marked valid: %(reason)s")
                % {"id": suborder.pk, "reason": reason},
                idempotency_key=renewal_key(suborder.pk, renewal.period_start),
                renewal_id=renewal.pk,
                user=user,
            )
        now = timezone.now()
        transition(
            ShopSuborderRenewal,
            renewal.pk,
            table=RENEWAL_TRANSITIONS,
            to=RenewalStatus.SUCCEEDED,
            from_states=[RenewalStatus.FAILED],
            is_valid=True,
            amount=quote.amount,
            price_lines=quote.as_json(),
            applied_at=now,
            next_retry_at=None,
        )
        resumed = suborder.status == SubOrderStatus.SUSPENDED
        if resumed:
            transition(
                ShopSubOrder,
                suborder.pk,
                table=SUBORDER_TRANSITIONS,
                to=SubOrderStatus.ACTIVE,
                from_states=[SubOrderStatus.SUSPENDED],
                expire_at=renewal.period_end,
            )
        else:
            ShopSubOrder.objects.filter(pk=suborder.pk).update(expire_at=renewal.period_end, updated_at=now)
        common = {
            "renewal": renewal,
            "suborder": suborder,
            "customer_id": suborder.customer_id,
            "site_id": suborder.site_id,
            "billing_cycle": suborder.billing_cycle,
            "period_start": renewal.period_start,
            "period_end": renewal.period_end,
            "currency": suborder.currency,
            "operator": user,
            "operator_name": operator_name(user),
        }
        ShopRenewalLog.objects.create(
            action=RenewalLogAction.MARK_VALID,
            outcome=RenewalLogOutcome.FIXED,
            reason=reason,
            fail_reason=renewal.fail_reason,
            amount=quote.amount,
            **common,
        )
        if resumed:
            ShopRenewalLog.objects.create(
                action=RenewalLogAction.RESUME, outcome=RenewalLogOutcome.SUCCEEDED, reason=reason, **common
            )
            suborder.refresh_from_db()
            place_suspend_operation(suborder=suborder, resume=True, user=user)
    renewal.refresh_from_db()
    return renewal
