"""Writing prices: create a price, change a price from a date.

A price row that a charge line used is never edited in place. A change is a new
row valid from a date; the row valid before it ends at that date (its
``valid_to`` is set), which is allowed only while no charge for a period starting
at or after that date used it. Validity never overlaps for one item, site and
billing cycle: checked here under a lock on the item type row (so two concurrent
writers are serialised) and again by the database's triggers (migration 0004).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from common.errors import Conflict, InvalidInput, NotFound

from .models import BillingCycle, BillingItemType, BillResourcesPrice, ChargeLine
from .money import minor_units
from .pricing import valid_at

#: Digits after the decimal point a unit price may carry (the column keeps 8).
PRICE_DECIMALS = 8


def price_overlapping(
    *,
    item_type_id: int,
    site_id: str,
    billing_cycle: str,
    valid_from: datetime,
    valid_to: datetime | None,
    exclude_id=None,
):
    """The prices of the same item, site and cycle whose validity meets [valid_from, valid_to)."""
    rows = BillResourcesPrice.objects.filter(item_type_id=item_type_id, site_id=site_id, billing_cycle=billing_cycle)
    rows = rows.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from))
    if valid_to is not None:
        rows = rows.filter(valid_from__lt=valid_to)
    if exclude_id is not None:
        rows = rows.exclude(pk=exclude_id)
    return rows


def price_is_used(*, price_id: int) -> bool:
    """True once a charge line used this price: from then on the row is never edited."""
    return ChargeLine.objects.filter(price_id=price_id).exists()


def _lock_item(item_code: str) -> BillingItemType:
    item = BillingItemType.objects.select_for_update().filter(code=item_code).first()
    if item is None:
        raise NotFound(_("Unknown billing item %(code)s.") % {"code": item_code}, field="item_code")
    return item


def _clean_price(unit_price, currency: str, billing_cycle: str) -> Decimal:
    if billing_cycle not in BillingCycle.values:
        raise InvalidInput(_("Unknown billing cycle %(cycle)s.") % {"cycle": billing_cycle}, field="billing_cycle")
    minor_units(currency)  # raises InvalidInput for an unknown currency
    if isinstance(unit_price, float):
        raise InvalidInput(_("A unit price must be a Decimal or a string, not a float."), field="unit_price")
    try:
        price = Decimal(str(unit_price))
    except InvalidOperation:
        raise InvalidInput(_("The unit price is not a number."), field="unit_price") from None
    if not price.is_finite() or price < 0:
        raise InvalidInput(_("The unit price cannot be negative."), field="unit_price")
    if -price.as_tuple().exponent > PRICE_DECIMALS:
        raise InvalidInput(_("A unit price has at most %(n)d decimals.") % {"n": PRICE_DECIMALS}, field="unit_price")
    return price


def _refuse_overlap(item: BillingItemType, site_id, billing_cycle, valid_from, valid_to, exclude_id=None):
    clash = price_overlapping(
        item_type_id=item.pk,
        site_id=site_id,
        billing_cycle=billing_cycle,
        valid_from=valid_from,
        valid_to=valid_to,
        exclude_id=exclude_id,
    ).first()
    if clash is not None:
        raise Conflict(
            _("Overlaps the price valid from %(start)s (%(price)s %(currency)s).")
            % {"start": clash.valid_from.isoformat(), "price": clash.unit_price, "currency": clash.currency},
            code="price_overlap",
            field="valid_from",
        )


def _insert(item, site_id, billing_cycle, price, currency, valid_from, valid_to, user) -> BillResourcesPrice:
    """Write a price row once no price of its item, site and cycle overlaps it (item row locked by the caller)."""
    _refuse_overlap(item, site_id, billing_cycle, valid_from, valid_to)
    return BillResourcesPrice.objects.create(
        item_type=item,
        site_id=site_id,
        billing_cycle=billing_cycle,
        unit_price=price,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=user,
    )


def price_create(
    *,
    item_code: str,
    site_id: str,
    billing_cycle: str,
    unit_price: Decimal | str,
    currency: str,
    valid_from: datetime,
    valid_to: datetime | None = None,
    user=None,
) -> BillResourcesPrice:
    """Add a price valid over [valid_from, valid_to).

    Guarantees: the row is written only if no price of the same item, site and
    cycle overlaps it (checked under a lock on the item type row, then by the
    database); otherwise ``Conflict(code="price_overlap")`` and nothing changes.
    """
    price = _clean_price(unit_price, currency, billing_cycle)
    if not site_id:
        raise InvalidInput(_("A price needs a site."), field="site_id")
    if valid_to is not None and valid_to <= valid_from:
        raise InvalidInput(_("A price must end after it starts."), field="valid_to")
    with transaction.atomic():
        item = _lock_item(item_code)
        return _insert(item, site_id, billing_cycle, price, currency, valid_from, valid_to, user)


def price_change(
    *,
    item_code: str,
    site_id: str,
    billing_cycle: str,
    unit_price: Decimal | str,
    effective_from: datetime,
    currency: str | None = None,
    user=None,
) -> BillResourcesPrice:
    """Change a price from ``effective_from``: a new row, the previous row ends there.

    The price valid at ``effective_from`` (if any) gets ``valid_to =
    effective_from``; the new row runs until the next later price starts (or
    open-ended). Refused with ``Conflict`` when a price already starts at that
    instant, or when a charge for a period starting at or after
    ``effective_from`` already used the previous row (that charge would no
    longer match its price). ``currency`` defaults to the previous row's.
    """
    with transaction.atomic():
        item = _lock_item(item_code)
        rows = BillResourcesPrice.objects.filter(item_type=item, site_id=site_id, billing_cycle=billing_cycle)
        previous = rows.filter(valid_at(effective_from)).first()
        if previous is None and currency is None:
            raise InvalidInput(_("No price to change: give the currency of the first price."), field="currency")
        currency = currency or previous.currency
        price = _clean_price(unit_price, currency, billing_cycle)
        if previous is not None:
            if previous.valid_from == effective_from:
                raise Conflict(
                    _("A price already starts at that instant; change it from another date."),
                    code="price_overlap",
                    field="effective_from",
                )
            if ChargeLine.objects.filter(price=previous, usage_period_start__gte=effective_from).exists():
                raise Conflict(
                    _("Charges from that date on already used the current price; change it from a later date."),
                    code="price_used",
                    field="effective_from",
                )
        following = rows.filter(valid_from__gt=effective_from).order_by("valid_from").first()
        valid_to = following.valid_from if following is not None else None
        if previous is not None:
            if previous.valid_to is not None and (valid_to is None or previous.valid_to < valid_to):
                valid_to = previous.valid_to
            previous.valid_to = effective_from
            previous.save(update_fields=["valid_to"])
        return _insert(item, site_id, billing_cycle, price, currency, effective_from, valid_to, user)
