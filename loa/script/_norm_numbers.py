"""Vietnamese number words: cardinals, digit strings, decimals, ordinals, roman numerals."""

from __future__ import annotations

import re

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")

# Month names differ from cardinals only for April ("tháng tư").
MONTHS = (
    "",
    "một",
    "hai",
    "ba",
    "tư",
    "năm",
    "sáu",
    "bảy",
    "tám",
    "chín",
    "mười",
    "mười một",
    "mười hai",
)

_VARIANTS = {
    "north": {"thousand": "nghìn", "odd": "linh"},
    "south": {"thousand": "ngàn", "odd": "lẻ"},
}

_ROMAN = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def check_variant(variant: str) -> dict[str, str]:
    try:
        return _VARIANTS[variant]
    except KeyError:
        raise ValueError(f"variant must be 'north' or 'south', not {variant!r}") from None


def _triple(n: int, full: bool, odd: str) -> str:
    """Read 0..999; `full` means a higher group was already said, so say 'không trăm'/'linh'."""
    hundreds, rest = divmod(n, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append(odd)
            words.append(DIGITS[units])
    elif tens == 1:
        words.append("mười")
        if units:
            words.append("lăm" if units == 5 else DIGITS[units])
    else:
        words += [DIGITS[tens], "mươi"]
        if units:
            words.append({1: "mốt", 4: "tư", 5: "lăm"}.get(units, DIGITS[units]))
    return " ".join(words)


def read_number(n: int, variant: str = "north") -> str:
    """Read an integer the way a Vietnamese announcer says it.

    >>> read_number(2026)
    'hai nghìn không trăm hai mươi sáu'
    """
    v = check_variant(variant)
    n = int(n)
    if n < 0:
        return "âm " + read_number(-n, variant)
    if n == 0:
        return "không"
    billions, rest = divmod(n, 1_000_000_000)
    parts: list[str] = []
    full = False
    if billions:
        parts.append(read_number(billions, variant) + " tỷ")
        full = True
    for value, unit in (
        (rest // 1_000_000, "triệu"),
        (rest // 1000 % 1000, v["thousand"]),
        (rest % 1000, ""),
    ):
        if value:
            parts.append((_triple(value, full, v["odd"]) + " " + unit).strip())
            full = True
    return " ".join(parts)


def read_digits(s: str) -> str:
    """Read every ASCII digit of `s` one by one; anything else is skipped.

    >>> read_digits("0912")
    'không chín một hai'
    """
    return " ".join(DIGITS[ord(c) - 48] for c in s if "0" <= c <= "9")


def read_int_text(s: str, variant: str = "north") -> str:
    """Read a digit string: long zero-led strings are codes (digit by digit), else a value."""
    if len(s) >= 4 and s[0] == "0":
        return read_digits(s)
    return read_number(int(s), variant)


def read_fraction_part(s: str, variant: str = "north") -> str:
    """Digits after a decimal comma: '5' -> 'năm', '25' -> 'hai mươi lăm', '05' -> 'không năm'."""
    if s[0] == "0" or len(s) > 3:
        return read_digits(s)
    return read_number(int(s), variant)


def read_ordinal(n: int, variant: str = "north") -> str:
    """Word after 'thứ': 1 -> 'nhất', 4 -> 'tư', else the cardinal."""
    return {1: "nhất", 4: "tư"}.get(n) or read_number(n, variant)


def roman_value(s: str) -> int | None:
    """Value of a well-formed upper-case roman numeral, or None."""
    if not s or not _ROMAN.match(s):
        return None
    total = 0
    for i, ch in enumerate(s):
        value = _ROMAN_VALUES[ch]
        if i + 1 < len(s) and _ROMAN_VALUES[s[i + 1]] > value:
            total -= value
        else:
            total += value
    return total
