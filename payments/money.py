"""The one place that turns integer minor units into text. Money is never a float."""
from __future__ import annotations

# ISO 4217 currencies whose minor unit is not 1/100.
_EXPONENTS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def minor_unit_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def format_minor(amount_minor: int, currency: str) -> str:
    if not isinstance(amount_minor, int):
        raise TypeError("money is integer minor units")
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**exponent)
    symbol = _SYMBOLS.get(currency.upper())
    number = f"{whole:,}" + (f".{frac:0{exponent}d}" if exponent else "")
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency.upper()}"
