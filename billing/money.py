"""Money: Decimal only, rounded once, here.

Amounts are exact ``Decimal`` values until a charge line or a price quote is
final; then :func:`round_money` rounds them ROUND_HALF_UP to the currency's minor
unit (0 decimals for JPY/KRW, 2 for CNY/USD/EUR, ...).
"""

from decimal import ROUND_HALF_UP, Decimal

#: Digits after the decimal point of each currency's minor unit (ISO 4217).
MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "GBP": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}


def minor_units(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        from common.errors import InvalidInput

        raise InvalidInput(f"unknown currency {currency!r}", code="unknown_currency", field="currency") from None


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` ROUND_HALF_UP to ``currency``'s minor unit: the platform's one rounding rule."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
