"""Restore a plan's lost or misread diacritics, and flag a text's typos.

A syllable bigram language model with interpolated Kneser-Ney smoothing, trained on the
clean sample plans (loa/data/plans), backs off to a uniform prior over the syllable
inventory (loa/plan/syllables.py), so a syllable the plans never use is still possible.
Each word of a garbled text gets its candidates: the known syllables with the same bare
letters (`syllables.variants`), also after undoing Tesseract's known letter confusions
("li" read for "h": "cliong" -> "chong", "rn" for "m", "0" for "o", "1" and "l" for "l"
and "I"), seen in tests/data/unseen_plans/ocr-e-2026.txt. A noisy-channel cost says how
far the written word is from each candidate (a missing mark is cheap in a text that has
lost most of them, a wrong mark on a valid syllable is dear), and Viterbi picks the
sequence the model and the channel like best over each run of words.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from loa.plan import syllables

# One token: a run of letters and digits; digits are kept only when glued to letters as
# OCR misreads ("s0ng", "1uong"), otherwise the token is a number and left alone.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
# Between two words, these end a run: the model has no bigram across a sentence or a
# bracket. Commas, hyphens and line breaks inside a paragraph do not.
_BREAK = re.compile(r"[.;:!?()\[\]{}\"“”«»…/|•*=+<>]|\n\s*\n")
_START, _END = "<s>", "</s>"

DISCOUNT = 0.75  # Kneser-Ney absolute discount (the usual value for small counts)
LM_WEIGHT = 0.8  # the model's log-probabilities against the channel costs: below 1, a sparse
# model (15k syllables of training text) is trusted less than its raw ratios claim
# Channel costs (negative natural logs) come from how damaged the text is (`_damage`):
# a clean text keeps its words unless the model is very sure, a text that lost most of
# its marks lets the model choose. Constants tuned on benchmarks/plan_repair.py:
MARKED_SHARE = 0.87  # share of marked syllables in clean plans (quality.py: 84-91%)
MIN_LOST = 0.0005  # floor of P(a word lost its marks) even in a clean text
TYPO_SHARE = 0.003  # invalid marked words a clean plan has anyway (typos: 0-0.26%)
MIN_WRONG = 0.0001  # floor of P(a mark is wrong) in a clean text
PARTIAL = 2.0  # least cost of a tone or shape mark missing from a word with other marks
CONFUSION = 3.0  # each OCR letter confusion undone
EDIT = 6.0  # one letter changed, added or removed (typo suggestions only)
# typos(): how much more likely (natural log) a variant must be in its context before a
# known syllable is flagged; measured against false alarms on the clean plans.
CONTEXT_MARGIN = 7.0

_LETTERS = "abcdeghiklmnopqrstuvxyăâêôơưđ"


# ---------------------------------------------------------------- language model

@dataclass
class Model:
    """Syllable bigrams, interpolated Kneser-Ney over a uniform inventory prior."""

    bigrams: dict[tuple[str, str], int]
    context_count: dict[str, int]  # c(v •)
    followers: dict[str, int]  # N1+(v •)
    continuation: dict[str, int]  # N1+(• w)
    bigram_types: int
    vocabulary: int
    syllables: int  # training syllables, for reports
    _cache: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)

    def unigram(self, w: str) -> float:
        types = max(self.bigram_types, 1)
        seen = max(self.continuation.get(w, 0) - DISCOUNT, 0.0) / types
        rest = DISCOUNT * len(self.continuation) / types if self.bigram_types else 1.0
        return seen + rest / self.vocabulary

    def logp(self, prev: str, w: str) -> float:
        """log P(w | prev), natural log; keys as syllables.key gives them."""
        hit = self._cache.get((prev, w))
        if hit is not None:
            return hit
        total = self.context_count.get(prev, 0)
        uni = self.unigram(w)
        if total:
            p = (max(self.bigrams.get((prev, w), 0) - DISCOUNT, 0.0) / total
                 + DISCOUNT * self.followers[prev] / total * uni)
        else:
            p = uni
        value = math.log(p)
        if len(self._cache) < 2_000_000:
            self._cache[(prev, w)] = value
        return value

    def seen(self, prev: str, w: str) -> bool:
        return (prev, w) in self.bigrams


def _runs(text: str) -> Iterable[list[tuple[re.Match, str | None]]]:
    """Runs of word tokens with no sentence break between them: (match, kind) pairs where
    kind is None for a word to read, else "skip" (numbers, abbreviations: they end a run)."""
    run: list[tuple[re.Match, str | None]] = []
    last_end = 0
    for m in _TOKEN.finditer(text):
        if run and _BREAK.search(text, last_end, m.start()):
            yield run
            run = []
        last_end = m.end()
        if _kind(m.group(0)) != "word":
            if run:
                yield run
                run = []
            continue
        run.append((m, None))
    if run:
        yield run


def _is_abbreviation(token: str) -> bool:
    letters = [c for c in token if c.isalpha()]
    upper = sum(c.isupper() for c in letters)
    if upper >= 2 and upper < len(letters):
        # mixed case ("VNeID", "iHanoi") unless it is an upper word with an OCR "l" (TlN)
        return not all(c.isupper() or c == "l" for c in letters)
    if upper >= 2:
        return not _candidate_forms(token.lower())
    return len(letters) >= 2 and letters[0].islower() and any(c.isupper() for c in letters)


@functools.lru_cache(maxsize=65536)
def _kind(token: str) -> str:
    """'word' (a syllable to read or restore), 'number', 'abbreviation' or 'letter'."""
    if not any(c.isalpha() for c in token):
        return "number"
    if any(c.isdigit() for c in token):
        letters_only = token.replace("0", "o").replace("1", "l")
        if any(c.isdigit() for c in letters_only) or not letters_only[0].isalpha():
            return "number"  # "6h30", "5km", "2a"
        if sum(c.isalpha() for c in token) < 2:
            return "number"
    if _is_abbreviation(token):
        return "abbreviation"
    if len(token) == 1 and not syllables.variants(token):
        return "letter"  # list markers a) b) c)
    return "word"


def train(texts: Iterable[str]) -> Model:
    """A model from clean texts (NFC Vietnamese). Only known syllables are counted;
    anything else ends a run, as it does when restoring."""
    return _build(_count(texts, lambda w: True))


def _count(texts: Iterable[str], trusted) -> Counter[tuple[str, str]]:
    bigrams: Counter[tuple[str, str]] = Counter()
    inventory = syllables.inventory()
    for text in texts:
        text = unicodedata.normalize("NFC", text)
        for run in _runs(text):
            prev = _START
            for m, _ in run:
                k = syllables.key(m.group(0))
                if k not in inventory or not trusted(m.group(0)):
                    if prev != _START:
                        bigrams[(prev, _END)] += 1
                    prev = _START
                    continue
                bigrams[(prev, k)] += 1
                prev = k
            if prev != _START:
                bigrams[(prev, _END)] += 1
    return bigrams


def _build(bigrams: Counter[tuple[str, str]]) -> Model:
    inventory = syllables.inventory()
    count = sum(c for (_, w), c in bigrams.items() if w != _END)
    context: Counter[str] = Counter()
    followers: Counter[str] = Counter()
    continuation: Counter[str] = Counter()
    for (v, w), c in bigrams.items():
        context[v] += c
        followers[v] += 1
        continuation[w] += 1
    return Model(dict(bigrams), dict(context), dict(followers), dict(continuation),
                 len(bigrams), len(inventory) + 1, count)


# The text adapts the model: a pair of marked valid words it writes at least twice (a random
# misread mark rarely repeats) counts as if the plans had it. Measured (benchmark, 50% of
# marks stripped): unseen-topic plans 88% -> 91% of syllables right, shared plans unchanged.
ADAPT_MIN_COUNT = 2


def _adapt(model: Model, text: str) -> Model:
    """The model plus the bigrams of the text's own words that carry valid marks."""
    extra = _count([text], lambda w: _has_marks(w) and syllables.is_syllable(w))
    if not extra:
        return model
    merged = Counter(model.bigrams)
    for pair, c in extra.items():
        if c >= ADAPT_MIN_COUNT:
            merged[pair] += c
    return _build(merged)


@functools.cache
def default_model() -> Model:
    """The model of the shipped clean plans, built once per process."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(syllables.CLEAN_PLANS.glob("*.txt"))]
    return train(texts)


# ---------------------------------------------------------------- channel

def _marks(word: str) -> tuple[str | None, tuple[str, ...]]:
    """(tone mark or None, the shape of each letter: '' or the combining mark / 'đ')."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    tone = None
    shapes: list[str] = []
    for c in decomposed:
        if c in syllables.TONES:
            tone = tone or c
        elif c in "\u0302\u0306\u031b":
            if shapes:
                shapes[-1] = c
        elif c == "đ":
            shapes.append("đ")
        else:
            shapes.append("")
    return tone, tuple(shapes)


def _has_marks(word: str) -> bool:
    tone, shapes = _marks(word)
    return tone is not None or any(shapes)


@dataclass(frozen=True)
class _Costs:
    lost: float  # every mark lost
    missing: float  # one mark missing from a word that has others
    wrong: float  # a mark read as another


def _channel(written: str, candidate: str, costs: _Costs) -> float:
    """Cost of reading `candidate` where `written` (same bare letters) stands."""
    if syllables.key(written) == syllables.key(candidate):
        return 0.0
    if not _has_marks(written):
        return costs.lost if _has_marks(candidate) else 0.0
    wt, ws = _marks(written)
    ct, cs = _marks(candidate)
    cost = 0.0
    if wt != ct:
        cost += costs.missing if wt is None else costs.wrong
    for a, b in zip(ws, cs, strict=True):
        if a != b:
            cost += costs.missing if not a else costs.wrong
    return cost


# OCR confusions: (pattern in the lowercase word, replacement). "li" for "h" after a
# consonant (cliong, ngànli, tliường), "rn" for "m" (rnoi, giarn), digits for letters.
_CONFUSIONS = (
    (re.compile(r"(?<=[bcdđghklmnpqrstvx])li"), "h"),
    (re.compile(r"rn"), "m"),
    (re.compile(r"0"), "o"),
    (re.compile(r"1"), "l"),
)


@functools.lru_cache(maxsize=65536)
def _candidate_forms(lower: str) -> tuple[tuple[str, float], ...]:
    """The word itself and its OCR-confusion fixes, each with its cost; only forms whose
    bare letters some known syllable has."""
    forms = {lower: 0.0}
    for _ in range(2):  # at most two kinds of fix in one word
        for form, cost in list(forms.items()):
            for pattern, repl in _CONFUSIONS:
                for m in pattern.finditer(form):
                    fixed = form[:m.start()] + repl + form[m.end():]
                    c = cost + CONFUSION
                    if c < forms.get(fixed, math.inf):
                        forms[fixed] = c
    return tuple((f, c) for f, c in forms.items()
                 if not any(ch.isdigit() for ch in f) and syllables.variants(f))


@functools.lru_cache(maxsize=65536)
def _candidates(token: str, costs: _Costs) -> tuple[tuple[str, float], ...]:
    """(syllable key, channel cost) for a written token, best first."""
    lower = unicodedata.normalize("NFC", token.lower())
    if sum(c.isupper() for c in token) >= 2 and "l" in token:
        lower = "".join("i" if c == "l" else c.lower() for c in token)  # "TlN" -> "tin"
        lower = unicodedata.normalize("NFC", lower)
    best: dict[str, float] = {}
    own = syllables.key(lower)
    if own in syllables.inventory():
        best[own] = 0.0
    for form, cost in _candidate_forms(lower):
        for v in syllables.variants(form):
            c = cost + _channel(form, v, costs)
            k = syllables.key(v)
            if c < best.get(k, math.inf):
                best[k] = c
    return tuple(sorted(best.items(), key=lambda kv: kv[1]))


def _case_like(token: str, word: str) -> str:
    letters = [c for c in token if c.isalpha()]
    if len(letters) >= 2 and all(c.isupper() or c == "l" for c in letters) \
            and sum(c.isupper() for c in letters) >= 2:
        return word.upper()
    if letters and letters[0].isupper():
        return word[:1].upper() + word[1:]
    return word


def _damage(text: str) -> _Costs:
    """The channel's costs for this text: the share of words with marks says how many lost
    them; the share of marked words that are no syllable says how often marks are misread."""
    words = marked = invalid = 0
    for m in _TOKEN.finditer(text):
        w = m.group(0)
        if _kind(w) == "word" and len(w) >= 2 and not any(c.isdigit() for c in w):
            words += 1
            if _has_marks(w):
                marked += 1
                invalid += not syllables.is_syllable(w)
    share = marked / words if words else MARKED_SHARE
    lost = min(max(1.0 - share / MARKED_SHARE, MIN_LOST), 0.99)
    # a wrong tone gives an invalid syllable about 40% of the time: 2.5 x the invalid share
    wrong = min(max(2.5 * (invalid / max(marked, 1) - TYPO_SHARE), MIN_WRONG), 0.5)
    return _Costs(-math.log(lost), max(PARTIAL, -math.log(lost)), -math.log(wrong) + 1.0)


# ---------------------------------------------------------------- restore

@dataclass(frozen=True)
class Repaired:
    text: str
    syllables: int  # words read as syllables (numbers, abbreviations, list letters not)
    changed: int  # words rewritten
    unknown: int  # words still no known syllable: could not be restored
    unknown_words: tuple[str, ...] = ()  # distinct ones, in order, for the officer

    @property
    def share_unknown(self) -> float:
        return self.unknown / self.syllables if self.syllables else 0.0


def _viterbi(model: Model, cands: list[tuple[tuple[str, float], ...]]) -> list[str]:
    """Best key per position; positions with no candidate split the chain."""
    out: list[str] = []
    i = 0
    while i < len(cands):
        if not cands[i]:
            out.append("")
            i += 1
            continue
        j = i
        while j < len(cands) and cands[j]:
            j += 1
        out.extend(_viterbi_chain(model, cands[i:j]))
        i = j
    return out


def _viterbi_chain(model: Model, cands: list[tuple[tuple[str, float], ...]]) -> list[str]:
    scores = {_START: 0.0}
    back: list[dict[str, str]] = []
    for options in cands:
        new: dict[str, float] = {}
        ptr: dict[str, str] = {}
        for k, cost in options:
            best, arg = -math.inf, _START
            for prev, s in scores.items():
                v = s + LM_WEIGHT * model.logp(prev, k)
                if v > best:
                    best, arg = v, prev
            new[k] = best - cost
            ptr[k] = arg
        scores = new
        back.append(ptr)
    last = max(scores, key=lambda k: scores[k] + LM_WEIGHT * model.logp(k, _END))
    path = [last]
    for ptr in reversed(back[1:]):
        path.append(ptr[path[-1]])
    return path[::-1]


def restore(text: str, model: Model | None = None) -> Repaired:
    """Restore diacritics syllable by syllable; everything but the words (spacing, line
    breaks, punctuation, numbers, abbreviations) is kept as it is, and so is each word's
    case. A word no candidate fits is left as written and counted unknown."""
    model = model or default_model()
    text = unicodedata.normalize("NFC", text)
    costs = _damage(text)
    model = _adapt(model, text)
    pieces: list[str] = []
    pos = 0
    n = changed = unknown = 0
    unknown_words: dict[str, None] = {}
    for run in _runs(text):
        tokens = [m for m, _ in run]
        cands = [_candidates(m.group(0), costs) for m in tokens]
        best = _viterbi(model, cands)
        for m, k in zip(tokens, best, strict=True):
            token = m.group(0)
            n += 1
            pieces.append(text[pos:m.start()])
            pos = m.end()
            if not k:
                unknown += 1
                unknown_words.setdefault(token, None)
                pieces.append(token)
            elif k == syllables.key(token):
                pieces.append(token)  # keep the writer's tone placement and case
            else:
                changed += 1
                pieces.append(_case_like(token, syllables.spelled(k)))
    pieces.append(text[pos:])
    return Repaired("".join(pieces), n, changed, unknown, tuple(unknown_words))


# ---------------------------------------------------------------- typos

@dataclass(frozen=True)
class Typo:
    start: int  # offsets in the text given
    end: int
    found: str
    suggestion: str | None  # the word to write instead, in the found word's case
    reason: str  # "unknown": no known syllable; "context": a variant fits far better


_SHAPED = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdđghklmnprstvx])?[aăâeêioôơuưy]{1,3}"
    r"(?:ch|ng|nh|[cmnptiyou])?$")


def _looks_vietnamese(token: str) -> bool:
    """Shaped like a Vietnamese syllable (a loanword like 'infographic' or a name like
    'Kar' is not a typo to flag)."""
    base = "".join(c for c in unicodedata.normalize("NFD", token.lower())
                   if c not in syllables.TONES)
    return bool(_SHAPED.match(unicodedata.normalize("NFC", base)))


@functools.lru_cache(maxsize=16384)
def _edits(k: str) -> tuple[str, ...]:
    """Known syllables one letter away from key `k` (tone kept)."""
    tone = k[-1] if k and k[-1] in syllables.TONES else ""
    base = k[:-1] if tone else k
    inventory = syllables.inventory()
    found: set[str] = set()
    for i in range(len(base) + 1):
        for c in _LETTERS:
            found.add(base[:i] + c + base[i:])  # insert
            if i < len(base):
                found.add(base[:i] + c + base[i + 1:])  # replace
        if i < len(base):
            found.add(base[:i] + base[i + 1:])  # delete
    out = []
    for b in found:
        cand = syllables.key(unicodedata.normalize("NFC", b) + tone)
        if cand in inventory and cand != k:
            out.append(cand)
    return tuple(sorted(out))


_TYPO_COSTS = _Costs(2.0, 2.0, 4.0)  # an unknown word's own letters, marks aside


def _context_score(model: Model, prev: str, k: str, nxt: str) -> float:
    return model.logp(prev, k) + model.logp(k, nxt)


def typos(text: str, model: Model | None = None) -> list[Typo]:
    """Words of `text` that are likely typos, in order: unknown syllables (with the likely
    intended one by the model, among the same letters with other marks and the known
    syllables one letter away) and known syllables far less likely than a variant in
    their context ("phố biến" -> "phổ biến")."""
    model = model or default_model()
    inventory = syllables.inventory()
    found: list[Typo] = []
    for run in _runs(text):
        tokens = [m for m, _ in run]
        keys = [syllables.key(m.group(0)) for m in tokens]
        for i, m in enumerate(tokens):
            token = m.group(0)
            k = keys[i]
            prev = keys[i - 1] if i and keys[i - 1] in inventory else _START
            nxt = keys[i + 1] if i + 1 < len(keys) and keys[i + 1] in inventory else _END
            if k not in inventory:
                if any(c.isdigit() for c in token) or not _looks_vietnamese(token) or (
                        token.isupper() and not _has_marks(token)):
                    continue  # "CAP", "PAR" in capitals: abbreviations more likely than typos
                options = {syllables.key(v): _channel(token.lower(), v, _TYPO_COSTS)
                           for v in syllables.variants(token)}
                for e in _edits(k):
                    options.setdefault(e, EDIT)
                best = max(options, default=None,
                           key=lambda o: _context_score(model, prev, o, nxt) - options[o])
                suggestion = _case_like(token, syllables.spelled(best)) if best else None
                found.append(Typo(m.start(), m.end(), token, suggestion, "unknown"))
                continue
            if model.bigrams.get((prev, k), 0) > 1 or model.bigrams.get((k, nxt), 0) > 1:
                continue  # the plans write it so next to a neighbour (once may be a typo)
            own = _context_score(model, prev, k, nxt)
            best, best_score = None, own + CONTEXT_MARGIN
            for v in syllables.variants(token):
                o = syllables.key(v)
                # the variant must be what the plans write next to both neighbours
                if o == k or not ((prev == _START or model.seen(prev, o))
                                  and (nxt == _END or model.seen(o, nxt))):
                    continue
                score = _context_score(model, prev, o, nxt)
                if score > best_score:
                    best, best_score = o, score
            if best is not None:
                found.append(Typo(m.start(), m.end(), token,
                                  _case_like(token, syllables.spelled(best)), "context"))
    return found


# ---------------------------------------------------------------- measuring

def garble(text: str, seed: int = 0, strip: float = 0.85, wrong_tone: float = 0.08,
           confuse: float = 0.05) -> str:
    """`text` damaged as a poor OCR does, reproducibly (for the benchmark and the tests):
    most words lose every mark, some get another tone, and a few letters are misread
    ("h" -> "li", "m" -> "rn", "o" -> "0"). Word boundaries are kept, so the damaged text
    lines up with the clean one token by token."""
    import random

    rng = random.Random(seed)
    tones = list(syllables.TONES)

    def damage(m: re.Match) -> str:
        word = m.group(0)
        if _kind(word) != "word" or not syllables.is_syllable(word):
            return word
        decomposed = unicodedata.normalize("NFD", word)
        roll = rng.random()
        if roll < strip:
            decomposed = "".join(c for c in decomposed if c not in syllables.TONES
                                 and c not in "\u0302\u0306\u031b")
            decomposed = decomposed.replace("đ", "d").replace("Đ", "D")
        elif roll < strip + wrong_tone:
            base = "".join(c for c in decomposed if c not in syllables.TONES)
            vowels = [i for i, c in enumerate(base) if c.lower() in "aeiouy"]
            if vowels:
                i = (vowels[-1] if len(vowels) == 1 else vowels[-2]) + 1
                while i < len(base) and unicodedata.combining(base[i]):
                    i += 1  # after the vowel's shape mark, or NFC cannot compose both
                base = base[:i] + rng.choice(tones) + base[i:]
            decomposed = base
        out = unicodedata.normalize("NFC", decomposed)
        if rng.random() < confuse:
            swaps = [(r"(?<=[cpt])h", "li"), (r"m", "rn"), (r"o", "0")]
            pattern, repl = swaps[rng.randrange(len(swaps))]
            out = re.sub(pattern, repl, out, count=1)
        return out

    return _TOKEN.sub(damage, unicodedata.normalize("NFC", text))


def accuracy(clean: str, text: str) -> float:
    """Share of the clean text's known syllables that `text` spells the same (by key),
    token by token."""
    a = _TOKEN.findall(unicodedata.normalize("NFC", clean))
    b = _TOKEN.findall(unicodedata.normalize("NFC", text))
    if len(a) != len(b):
        raise ValueError("texts do not line up token by token")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if _kind(x) == "word" and syllables.is_syllable(x)]
    if not pairs:
        return 1.0
    return sum(syllables.key(x) == syllables.key(y) for x, y in pairs) / len(pairs)
