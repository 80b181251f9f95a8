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


def format_minor_plain(amount_minor: int, currency: str) -> str:
    """The amount as a plain decimal for a form field ("25.00"): no symbol, no separators,
    so that `parse_minor` reads back exactly what it shows."""
    if not isinstance(amount_minor, int):
        raise TypeError("money is integer minor units")
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**exponent)
    return f"{sign}{whole}" + (f".{frac:0{exponent}d}" if exponent else "")


def parse_minor(text: str, currency: str) -> int:
    """What a person typed ("25", "25.5", "25.00", "€25.00") → integer minor units (2500).

    Refuses rather than guesses: more decimals than the currency has would need rounding,
    and a comma could be a thousands separator or a decimal one, so both are errors
    (ValueError, with a message meant for the person)."""
    exponent = minor_unit_exponent(currency)
    example = "25" + (f".{'0' * exponent}" if exponent else "")
    raw = (text or "").strip()
    symbol = _SYMBOLS.get(currency.upper())
    if symbol and raw.startswith(symbol):
        raw = raw[len(symbol) :].strip()
    if raw.upper().endswith(currency.upper()):
        raw = raw[: -len(currency)].strip()
    sign = 1
    if raw.startswith("-"):
        sign, raw = -1, raw[1:]
    if "," in raw:
        raise ValueError(f"Write the amount without commas, like {example}.")
    whole, dot, frac = raw.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()) or not whole.isascii() or not frac.isascii():
        raise ValueError(f"Enter an amount like {example}.")
    if len(frac) > exponent:
        raise ValueError(f"{currency.upper()} has {exponent} decimal places at most (like {example}).")
    minor: int = sign * (int(whole) * 10**exponent + (int(frac.ljust(exponent, "0")) if exponent else 0))
    return minor
