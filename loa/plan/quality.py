"""Is this text readable Vietnamese, or OCR damage / text stripped of its diacritics?"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
_SHAPES = {"\u0302", "\u0306", "\u031b"}  # â ê ô, ă, ơ ư
_ONSET = r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?"
_NUCLEUS = r"[aăâeêioôơuưy]{1,3}"
_CODA = r"(?:ch|ng|nh|[cmnptiyou])?"
_SYLLABLE = re.compile(f"^{_ONSET}{_NUCLEUS}{_CODA}$")
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*|\S*\d\S*", re.UNICODE)
# Plain-ASCII words that are also Vietnamese syllables are common ("anh", "cho", "ban"),
# so a diacritic-free text is judged by how few words carry marks, not by validity.
# Measured: clean plans 84-91% marked, clean drafts >= 76%, invalid <= 2.8%; a half-lost
# OCR plan 51% (its drafts 59-65%), text stripped of marks 0%, letter-swapping OCR 20% invalid.
MIN_MARKED = 0.70
MAX_INVALID = 0.05
# A number with a time or a unit glued on ("6h30", "14h", "5km", "300m2", "10ha") is how
# Vietnamese writes them, and the reading rules speak them: not OCR damage.
_NUMBER_UNIT = re.compile(r"\W*\d+(?:[.,]\d+)*(?:h\d{0,2}'?|km2?|m[23]?|cm|mm|ha|kg)\W*")


@dataclass(frozen=True)
class TextQuality:
    words: int
    marked: float  # share of Vietnamese-looking words with a diacritic
    invalid: float  # share of words that are no Vietnamese syllable (OCR damage)
    samples: tuple[str, ...]  # a few damaged words, to show the officer

    @property
    def garbled(self) -> bool:
        return self.words >= 8 and (self.marked < MIN_MARKED or self.invalid > MAX_INVALID)

    def describe(self) -> str:
        """Vietnamese summary for the officer."""
        parts = [f"{self.marked:.0%} số chữ có dấu tiếng Việt"]
        if self.invalid:
            parts.append(f"{self.invalid:.0%} số chữ không phải tiếng Việt hợp lệ")
        text = ", ".join(parts)
        if self.samples:
            text += " (ví dụ: " + ", ".join(self.samples) + ")"
        return text


def _base(word: str) -> tuple[str, bool]:
    decomposed = unicodedata.normalize("NFD", word.lower())
    marked = any(c in _TONES or c in _SHAPES for c in decomposed)
    kept = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", kept), marked


@functools.lru_cache(maxsize=65536)
def _judge(w: str) -> tuple[int, int, tuple[str, ...]]:
    """One word's share: (words counted, words marked, damaged pieces). Cached: a text of
    any length repeats a few thousand syllables."""
    if any(c.isdigit() for c in w):
        if _NUMBER_UNIT.fullmatch(w):
            return 0, 0, ()
        if re.search(r"[^\W\d_]\d|\d[^\W\d_]{2,}", w) and not re.fullmatch(r"[\w/.-]*[A-Z]\w*", w):
            return 1, 0, (w,)  # "th1s", "c0ng": digits inside a word
        return 0, 0, ()
    if len(w) >= 2 and sum(c.isupper() for c in w) >= 2:
        return 0, 0, ()  # abbreviations: UBND, VNeID, TTHC
    words = marked = 0
    invalid: list[str] = []
    for piece in w.split("-"):
        base, has_mark = _base(piece)
        if len(base) < 2 and base not in ("a", "y", "ở", "ô", "ừ", "ý", "ê", "ơ", "u", "ư"):
            continue  # list markers b) c) d), not words
        words += 1
        marked += has_mark
        if not _SYLLABLE.match(base) or any(not ("a" <= c <= "z" or c in "ăâêôơưđ")
                                            for c in base):
            invalid.append(piece)
    return words, marked, tuple(invalid)


def assess(text: str) -> TextQuality:
    words = 0
    marked = 0
    invalid: list[str] = []
    for m in _WORD.finditer(text):
        n_words, n_marked, bad = _judge(m.group(0))
        words += n_words
        marked += n_marked
        invalid.extend(bad)
    n = max(words, 1)
    samples = tuple(dict.fromkeys(invalid))[:5]
    return TextQuality(words, marked / n, len(invalid) / n, samples)
