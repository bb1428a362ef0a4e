"""Prices for a whole renewal batch from one query, quoted the way billing quotes them.

``billing.pricing.quote_suborder`` reads one price row per item: right for one
order, thousands of round trips for a renewal batch. :class:`PriceBook` loads
every price row a batch can need at once and builds the same
:class:`billing.pricing.Quote` (same lines, same single rounding) in memory,
with billing's rule for which price is valid: ``valid_from <= at < valid_to``,
the latest ``valid_from`` winning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q

from billing.models import BillResourcesPrice
from billing.pricing import RESOURCE_ITEMS, CurrencyMismatch, NoValidPrice, Quote, QuoteLine, suborder_items


class PriceBook:
    def __init__(self, rows: Iterable[dict]):
        self._prices: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        for row in rows:
            self._prices[(row["item_type__code"], row["site_id"], row["billing_cycle"])].append(row)
        for rows_of_key in self._prices.values():
            rows_of_key.sort(key=lambda row: row["valid_from"], reverse=True)

    @classmethod
    def load(cls, *, site_ids: set[str], billing_cycles: set[str], earliest: datetime, latest: datetime) -> PriceBook:
        """Every price row of these sites and cycles valid at some moment in [earliest, latest]."""
        codes = {code for items in RESOURCE_ITEMS.values() for code, _key in items}
        rows = (
            BillResourcesPrice.objects.filter(
                site_id__in=site_ids,
                billing_cycle__in=billing_cycles,
                item_type__code__in=codes,
                valid_from__lte=latest,
            )
            .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=earliest))
            .values(
                "pk", "item_type__code", "site_id", "billing_cycle", "currency", "unit_price", "valid_from", "valid_to"
            )
        )
        return cls(rows)

    def price_at(self, *, item_code: str, site_id: str, billing_cycle: str, at: datetime) -> dict:
        for row in self._prices.get((item_code, site_id, billing_cycle), ()):
            if row["valid_from"] <= at and (row["valid_to"] is None or row["valid_to"] > at):
                return row
        raise NoValidPrice(
            f"no {billing_cycle} price for {item_code} at site {site_id} on {at:%Y-%m-%d %H:%M}", field="spec"
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
        """The same quote ``billing.pricing.quote_suborder`` gives, from the loaded rows."""
        lines = []
        for item_code, quantity in suborder_items(resource_type, spec):
            price = self.price_at(item_code=item_code, site_id=site_id, billing_cycle=billing_cycle, at=at)
            if price["currency"] != currency:
                raise CurrencyMismatch(
                    f"{item_code} is priced in {price['currency']}, the sub-order is in {currency}", field="currency"
                )
            lines.append(
                QuoteLine(
                    item_code=item_code,
                    quantity=quantity,
                    unit_price=price["unit_price"],
                    price_id=price["pk"],
                    exact=quantity * price["unit_price"] * periods,
                )
            )
        return Quote(currency=currency, periods=periods, lines=lines)
