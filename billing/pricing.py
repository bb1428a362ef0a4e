"""Prices: which unit price is valid when, and what a sub-order costs.

Orders and renewals price through :func:`quote_suborder`; charges for usage use
the same :func:`price_at` and :func:`billing.money.round_money`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Q

from common.errors import InvalidInput

from .models import BillResourcesPrice
from .money import round_money

#: What each resource type is billed by: (item code, spec key holding the quantity).
RESOURCE_ITEMS: dict[str, list[tuple[str, str]]] = {
    "vm": [("vcpu", "cpu"), ("memory", "memory_gb"), ("system_disk", "disk_gb"), ("bandwidth", "bandwidth_mbps")],
    "nic": [("public_ip", "public_ips")],
    "pipe": [("bandwidth", "bandwidth_mbps")],
}


class NoValidPrice(InvalidInput):
    code = "no_valid_price"


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"


@dataclass(frozen=True)
class QuoteLine:
    item_code: str
    quantity: Decimal
    unit_price: Decimal
    price_id: int
    exact: Decimal


@dataclass(frozen=True)
class Quote:
    currency: str
    periods: int
    lines: list[QuoteLine] = field(default_factory=list)

    @property
    def exact(self) -> Decimal:
        return sum((line.exact for line in self.lines), Decimal(0))

    @property
    def amount(self) -> Decimal:
        """The total, rounded once."""
        return round_money(self.exact, self.currency)

    def as_json(self) -> list[dict]:
        return [
            {
                "item": line.item_code,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "price_id": line.price_id,
                "exact": str(line.exact),
            }
            for line in self.lines
        ]


def price_at(*, item_code: str, site_id: str, billing_cycle: str, at: datetime) -> BillResourcesPrice:
    """The unit price of ``item_code`` valid at ``at`` (valid_from <= at < valid_to)."""
    price = (
        BillResourcesPrice.objects.filter(
            item_type__code=item_code, site_id=site_id, billing_cycle=billing_cycle, valid_from__lte=at
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at))
        .order_by("-valid_from")
        .first()
    )
    if price is None:
        raise NoValidPrice(
            f"no {billing_cycle} price for {item_code} at site {site_id} on {at:%Y-%m-%d %H:%M}", field="spec"
        )
    return price


def suborder_items(resource_type: str, spec: dict) -> list[tuple[str, Decimal]]:
    """The billed items of a resource with their quantities, from its spec."""
    try:
        items = RESOURCE_ITEMS[resource_type]
    except KeyError:
        raise InvalidInput(f"resource type {resource_type!r} is not sold", field="resource_type") from None
    found = []
    for item_code, key in items:
        quantity = Decimal(str(spec.get(key, 0) or 0))
        if quantity < 0:
            raise InvalidInput(f"{key} cannot be negative", field=f"spec.{key}")
        if quantity:
            found.append((item_code, quantity))
    return found


def quote_suborder(
    *, resource_type: str, spec: dict, site_id: str, billing_cycle: str, periods: int, at: datetime, currency: str
) -> Quote:
    """What ``periods`` periods of a resource cost, priced at ``at``, in ``currency``.

    Every line keeps the price row it used; the total is rounded once.
    """
    lines = []
    for item_code, quantity in suborder_items(resource_type, spec):
        price = price_at(item_code=item_code, site_id=site_id, billing_cycle=billing_cycle, at=at)
        if price.currency != currency:
            raise CurrencyMismatch(
                f"{item_code} is priced in {price.currency}, the order is in {currency}", field="currency"
            )
        lines.append(
            QuoteLine(
                item_code=item_code,
                quantity=quantity,
                unit_price=price.unit_price,
                price_id=price.pk,
                exact=quantity * price.unit_price * periods,
            )
        )
    return Quote(currency=currency, periods=periods, lines=lines)
