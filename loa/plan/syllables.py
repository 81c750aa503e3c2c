"""Which Vietnamese syllables exist: the inventory that OCR correction, `loa plan repair` and
the drafts' spelling checks all ask.

Source: Debian's `hunspell-vi` word list (/usr/share/hunspell/vi_VN.dic, from LibreOffice's
dictionaries, MPL-2.0: 6,630 syllables), plus loa/data/syllables-extra.txt (syllables it
lacks, such as "sạc", and loanwords plans use: "zalo", "video"). Without hunspell-vi the
syllables of the clean sample plans in loa/data/plans stand in (a smaller list: more words
are then reported unknown, none are accepted wrongly).

Syllables are compared by `key`: lowercase NFC with the tone mark taken off its vowel and
put last, so the old and new tone placements ("hòa"/"hoà", "thủy"/"thuỷ") are one syllable.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

from loa.settings import PACKAGE_DATA

HUNSPELL = Path("/usr/share/hunspell/vi_VN.dic")
EXTRA = PACKAGE_DATA / "syllables-extra.txt"
CLEAN_PLANS = PACKAGE_DATA / "plans"
TONES = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng (combining)
_SHAPES = "\u0302\u0306\u031b"  # â ê ô, ă, ơ ư
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)  # a run of letters: one syllable in Vietnamese


def key(word: str) -> str:
    """Lowercase NFC, tone mark last: the form syllables are compared in."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = [c for c in decomposed if c in TONES]
    base = "".join(c for c in decomposed if c not in TONES)
    return unicodedata.normalize("NFC", base) + "".join(tones[:1])


def strip_marks(word: str) -> str:
    """The bare letters: 'Phổ' -> 'pho', 'đường' -> 'duong'."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if c not in TONES and c not in _SHAPES)


def spelled(k: str) -> str:
    """A key in its written form (tone on its vowel, as the inventory spells it)."""
    return _entries()[2].get(k, k)


@functools.cache
def _entries() -> tuple[frozenset[str], str, dict[str, str]]:
    words: dict[str, str] = {}
    source = "hunspell-vi"
    try:
        lines = HUNSPELL.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
        source = "kế hoạch mẫu"
        for plan in sorted(CLEAN_PLANS.glob("*.txt")):
            for w in WORD.findall(unicodedata.normalize("NFC", plan.read_text(encoding="utf-8"))):
                if not (w.isupper() and len(w) > 1):
                    words.setdefault(key(w), w.lower())
    for line in lines[1:]:  # the first line is the entry count
        w = line.split("/", 1)[0].strip()
        if w and not (w.isupper() and len(w) > 1):  # abbreviations (ASCII, HCM) are no syllables
            words.setdefault(key(w), unicodedata.normalize("NFC", w.lower()))
    for line in EXTRA.read_text(encoding="utf-8").splitlines():
        w = line.split("#", 1)[0].strip()
        if w:
            words.setdefault(key(w), unicodedata.normalize("NFC", w.lower()))
    return frozenset(words), source, words


def inventory() -> frozenset[str]:
    """Every known syllable, as `key`s."""
    return _entries()[0]


def source() -> str:
    """Where the inventory came from (Vietnamese, for messages): 'hunspell-vi' or the plans."""
    return _entries()[1]


def is_syllable(word: str) -> bool:
    """A known syllable (any case, either tone placement)? Single letters (list markers
    'b', 'c') are not syllables."""
    return key(word) in inventory()


@functools.cache
def _by_bare() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for k in inventory():
        groups[strip_marks(k)].append(spelled(k))
    return {bare: tuple(sorted(forms)) for bare, forms in groups.items()}


def variants(word: str) -> tuple[str, ...]:
    """Known syllables with the same bare letters, lowercase: 'pho' -> ('pho', 'phò', 'phó',
    'phô', 'phố', 'phổ', …). What a lost or misread diacritic may have been."""
    return _by_bare().get(strip_marks(word), ())
