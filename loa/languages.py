"""The languages a station may broadcast in: ISO 639 codes and their Vietnamese names.

Nghị định 49/2024/NĐ-CP asks commune stations to give essential information in Vietnamese
and the local ethnic-minority languages. One table, here: the schedule checks zones'
`languages:` against it, bulletins key their versions by it, the log and the reports
name languages through it. Codes are ISO 639-1 where one exists (vi, km, zh), else
ISO 639-3 (the individual language, e.g. Iu Mien for Dao, Tai Dam for Thái Đen) or
639-2 (hmn, the Hmong macrolanguage: Mông Hoa, Mông Xanh, Mông Đỏ …).
"""

from __future__ import annotations

import unicodedata

VI = "vi"  # the bulletin itself; every other language is a version of it

LANGUAGES: dict[str, str] = {
    "vi": "Tiếng Việt",
    "hmn": "Tiếng Mông",
    "tyz": "Tiếng Tày",
    "blt": "Tiếng Thái (Thái Đen)",
    "twh": "Tiếng Thái (Thái Trắng)",
    "nut": "Tiếng Nùng",
    "ium": "Tiếng Dao",
    "km": "Tiếng Khmer",
    "mtq": "Tiếng Mường",
    "rad": "Tiếng Ê Đê",
    "jra": "Tiếng Gia Rai",
    "bdq": "Tiếng Ba Na",
    "cjm": "Tiếng Chăm",
    "kpm": "Tiếng Cơ Ho",
    "sed": "Tiếng Xơ Đăng",
    "hre": "Tiếng Hrê",
    "mng": "Tiếng Mnông",
    "kjg": "Tiếng Khơ Mú",
    "bru": "Tiếng Bru - Vân Kiều",
    "ktv": "Tiếng Cơ Tu",
    "rog": "Tiếng Raglai",
    "sti": "Tiếng Xtiêng",
    "zh": "Tiếng Hoa",
}


# what officers write instead of the code
_ALIASES = {"vn": "vi", "viet": "vi", "kinh": "vi", "hmong": "hmn", "mong": "hmn",
            "h'mong": "hmn", "tay": "tyz", "nung": "nut", "dao": "ium", "thai": "blt",
            "khmer": "km", "muong": "mtq", "ede": "rad", "giarai": "jra", "bana": "bdq",
            "cham": "cjm", "hoa": "zh"}


def name_vi(code: str) -> str:
    """'Tiếng Mông' for 'hmn'; an unknown code (an old log row) as itself."""
    return LANGUAGES.get(code, code)


def lower_name(code: str) -> str:
    """'tiếng Mông', for the middle of a sentence."""
    name = name_vi(code)
    return name[0].lower() + name[1:] if name.startswith("Tiếng") else name


def _fold(text: str) -> str:
    """Lowercase without diacritics or spaces: 'Mông' and 'mong' meet."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D").lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.removeprefix("tieng")
    return "".join(c for c in text if c.isalnum())


def suggest(raw: object) -> str | None:
    """The code an officer probably meant ('mong', 'Tiếng Mông', 'hmm' -> 'hmn')."""
    import difflib

    if not isinstance(raw, str) or not raw.strip():
        return None
    folded = _fold(raw)
    if folded in _ALIASES:
        return _ALIASES[folded]
    for code, name in LANGUAGES.items():
        if folded and (folded == _fold(name) or folded == _fold(name.split("(")[0])):
            return code
    hint = difflib.get_close_matches(raw.strip().lower()[:20], list(LANGUAGES), n=1)
    if hint:
        return hint[0]
    names = {_fold(name): code for code, name in LANGUAGES.items()}
    hint = difflib.get_close_matches(folded[:40], list(names), n=1)
    return names[hint[0]] if hint else None


def unknown_vi(raw: object) -> str:
    """The Vietnamese message for a code not in the table, with a did-you-mean."""
    from loa.errors import excerpt

    hint = suggest(raw)
    if hint:
        tip = f" Có phải ý bạn là '{hint}' ({LANGUAGES[hint]})?"
    else:
        tip = " Các mã: " + ", ".join(f"{c} ({n})" for c, n in LANGUAGES.items()) + "."
    return f"mã ngôn ngữ '{excerpt(raw)}' không có trong bảng ngôn ngữ của loa.{tip}"
