"""Prices: which unit price is valid when, and what a sub-order costs.

One rule picks a price: the row of the item, site and billing cycle with
``valid_from <= at < valid_to`` (``valid_to`` empty: open-ended), the latest
``valid_from`` winning. :class:`PriceBook` holds that rule: it loads, in one
query, every row of a set of items, sites and cycles valid somewhere in a time
range, then picks and quotes in memory. :func:`quote_suborder` (one order) and
the renewal run (a whole batch) both quote through it, so they give the same
:class:`Quote` for the same inputs. Charges for usage select rows with the same
:func:`valid_at` and compute lines with the same :func:`line_exact`; every amount
is rounded by :func:`billing.money.round_money`.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q
from django.utils.translation import gettext as _

from common.errors import InvalidInput

from .models import BillResourcesPrice
from .money import round_money

#: What each resource type is billed by: (item code, spec key holding the quantity).
RESOURCE_ITEMS: dict[str, list[tuple[str, str]]] = {
    "vm": [("vcpu", "cpu"), ("memory", "memory_gb"), ("system_disk", "disk_gb"), ("bandwidth", "bandwidth_mbps")],
    "nic": [("public_ip", "public_ips")],
    "pipe": [("bandwidth", "bandwidth_mbps")],
}
#: Every item code a sub-order can be billed by.
RESOURCE_ITEM_CODES = frozenset(code for items in RESOURCE_ITEMS.values() for code, _key in items)


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


def valid_at(at: datetime) -> Q:
    """The price rows valid at ``at``: ``valid_from <= at < valid_to`` (no ``valid_to``: open-ended)."""
    return valid_during(at, at)


def valid_during(earliest: datetime, latest: datetime) -> Q:
    """The price rows valid at some moment of [earliest, latest]."""
    return Q(valid_from__lte=latest) & (Q(valid_to__isnull=True) | Q(valid_to__gt=earliest))


#: Wide enough that no product of a quantity, a unit price and a number of periods is rounded.
_EXACT = decimal.Context(prec=60)


def line_exact(quantity: Decimal, unit_price: Decimal, periods: int = 1) -> Decimal:
    """The exact (unrounded) amount of one line: quantity x unit price x periods."""
    exact = _EXACT.multiply(quantity, unit_price)
    return exact if periods == 1 else _EXACT.multiply(exact, periods)


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


class PriceBook:
    """The price rows of some items, sites and cycles over a time range, loaded by one query.

    ``price_at`` and ``quote`` answer exactly as if each price were read on its
    own: the rule is applied here, in memory, to the loaded rows.
    """

    def __init__(self, rows: Iterable[BillResourcesPrice]):
        self._prices: dict[tuple[str, str, str], list[BillResourcesPrice]] = defaultdict(list)
        for row in rows:
            self._prices[(row.item_code, row.site_id, row.billing_cycle)].append(row)
        for rows_of_key in self._prices.values():
            rows_of_key.sort(key=lambda row: row.valid_from, reverse=True)

    @classmethod
    def load(
        cls,
        *,
        site_ids: Iterable[str],
        billing_cycles: Iterable[str],
        earliest: datetime,
        latest: datetime,
        item_codes: Iterable[str] = RESOURCE_ITEM_CODES,
    ) -> PriceBook:
        """Every price row of these items, sites and cycles valid at some moment in [earliest, latest]."""
        rows = (
            BillResourcesPrice.objects.filter(
                valid_during(earliest, latest),
                site_id__in=set(site_ids),
                billing_cycle__in=set(billing_cycles),
                item_type__code__in=set(item_codes),
            )
            .annotate(item_code=F("item_type__code"))
            .only("pk", "site_id", "billing_cycle", "currency", "unit_price", "valid_from", "valid_to")
        )
        return cls(rows)

    def price_at(self, *, item_code: str, site_id: str, billing_cycle: str, at: datetime) -> BillResourcesPrice:
        """The unit price of ``item_code`` valid at ``at``; :class:`NoValidPrice` when there is none."""
        for row in self._prices.get((item_code, site_id, billing_cycle), ()):
            if row.valid_from <= at and (row.valid_to is None or row.valid_to > at):
                return row
        raise NoValidPrice(
            _("No %(cycle)s price for %(item)s at site %(site)s on %(at)s.")
            % {"cycle": billing_cycle, "item": item_code, "site": site_id, "at": f"{at:%Y-%m-%d %H:%M}"},
            field="spec",
        )

    def quote(
        self,
        *,
        resource_type: str,
        spec: dict,
        site_id: str,
        billing_cycle: str,
        periods: int,
        at: datetime,
        currency: str,
    ) -> Quote:
        """What ``periods`` periods of a resource cost, priced at ``at``, in ``currency``.

        Every line keeps the price row it used; the total is rounded once.
        Raises :class:`NoValidPrice` or :class:`CurrencyMismatch` (both InvalidInput).
        """
        lines = []
        for item_code, quantity in suborder_items(resource_type, spec):
            price = self.price_at(item_code=item_code, site_id=site_id, billing_cycle=billing_cycle, at=at)
            if price.currency != currency:
                raise CurrencyMismatch(
                    _("%(item)s is priced in %(price_currency)s, the order is in %(currency)s.")
                    % {"item": item_code, "price_currency": price.currency, "currency": currency},
                    field="currency",
                )
            lines.append(
                QuoteLine(
                    item_code=item_code,
                    quantity=quantity,
                    unit_price=price.unit_price,
                    price_id=price.pk,
                    exact=line_exact(quantity, price.unit_price, periods),
                )
            )
        return Quote(currency=currency, periods=periods, lines=lines)


def price_at(*, item_code: str, site_id: str, billing_cycle: str, at: datetime) -> BillResourcesPrice:
    """The unit price of ``item_code`` valid at ``at`` (one query); :class:`NoValidPrice` when there is none."""
    book = PriceBook.load(
        site_ids=[site_id], billing_cycles=[billing_cycle], earliest=at, latest=at, item_codes=[item_code]
    )
    return book.price_at(item_code=item_code, site_id=site_id, billing_cycle=billing_cycle, at=at)


def quote_suborder(
    *, resource_type: str, spec: dict, site_id: str, billing_cycle: str, periods: int, at: datetime, currency: str
) -> Quote:
    """What ``periods`` periods of a resource cost, priced at ``at``, in ``currency`` (one query).

    The same quote as :meth:`PriceBook.quote` on a book covering ``at``: every
    line keeps the price row it used; the total is rounded once.
    """
    items = suborder_items(resource_type, spec)  # a bad spec is refused before any query
    book = PriceBook.load(
        site_ids=[site_id],
        billing_cycles=[billing_cycle],
        earliest=at,
        latest=at,
        item_codes=[code for code, _quantity in items],
    )
    return book.quote(
        resource_type=resource_type,
        spec=spec,
        site_id=site_id,
        billing_cycle=billing_cycle,
        periods=periods,
        at=at,
        currency=currency,
    )
