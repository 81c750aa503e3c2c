"""Draft resident-facing bulletins from plan topics, inside the station's template."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError
from loa.schema import Field, Invalid, Number, Schema, Value
from loa.settings import PACKAGE_DATA
from loa.yamlio import Checker, LineDict, load_yaml

if TYPE_CHECKING:  # the plan reader loads only where a plan is read
    from loa.plan.content import Plan, Topic

DEFAULT_TEMPLATE = PACKAGE_DATA / "template.yaml"
_NUMBER_KEYS = ("max_minutes", "chars_per_second")
_FIELDS_ALLOWED = ("station", "issuer", "plan", "topic", "part", "parts", "why")
_MISSING_FIELDS = ("station", "issuer", "facts")
# "{{" and "}}" are literal braces, "{name}" a placeholder, any other brace stands alone.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_EXCERPT = 40  # of a bad placeholder, in a message
# What the officer must still do; approval refuses a text that has one (see open_markers).
MISSING_TAG = "CẦN BỔ SUNG"
CHECK_TAG = "KIỂM TRA"
_MARKER = re.compile(r"\[[^\[\]\n]{0,400}\]")
_TAGS_FOLDED = ("can bo sung", "kiem tra")


def template_problems(text: str, allowed: tuple[str, ...] = _FIELDS_ALLOWED) -> list[str]:
    """What is wrong with a template text, in Vietnamese; empty when it renders.

    Only the known names are placeholders: no attribute, index or format spec (str.format
    would let "{station.__class__}" reach into the program)."""
    problems = []
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        if token in ("{{", "}}"):
            continue
        if token in ("{", "}"):
            problems.append(f"dấu ngoặc nhọn '{token}' đứng lẻ ở ký tự {m.start() + 1}; chỗ điền "
                            "viết như {topic}, còn muốn in chính dấu ngoặc thì viết '{{' hoặc "
                            "'}}'.")
        elif m.group(1) not in allowed:
            name = m.group(1)
            shown = name if len(name) <= _EXCERPT else name[:_EXCERPT] + "…"
            hint = ("; chỉ viết tên chỗ điền, không kèm '.', '[', '!' hay ':'"
                    if re.search(r"[.\[!:]", name) else "")
            problems.append(f"chỗ điền '{{{shown}}}' không có (dùng: "
                            f"{', '.join('{' + f + '}' for f in allowed)}){hint}.")
    return problems


def render(text: str, fill: dict[str, object]) -> str:
    """Put the values in a template text checked by template_problems; values are data:
    braces in them are not read again."""

    def one(m: re.Match) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = m.group(1)
        if name is None or name not in fill:
            raise LoaError(f"mẫu bản tin có chỗ điền sai: '{token[:_EXCERPT]}'.")
        return str(fill[name])

    return _TOKEN.sub(one, text)


def _fold(text: str) -> str:
    from loa.plan.syllables import strip_marks

    return strip_marks(text)


def open_markers(text: str) -> list[str]:
    """The [CẦN BỔ SUNG: …] and [KIỂM TRA: …] markers left in a text, as written; any case,
    with or without diacritics ("[can bo sung: …]")."""
    return [m.group(0) for m in _MARKER.finditer(text or "")
            if _fold(m.group(0)[1:]).lstrip().startswith(_TAGS_FOLDED)]


def clear_markers(text: str) -> str:
    """The text once the officer has dealt with its markers: each marker taken out, the
    suggested spelling it follows kept. For an officer who has checked the draft (and for
    tests); a [CẦN BỔ SUNG: …] should rather be replaced by the facts."""
    for marker in open_markers(text):
        text = text.replace(marker, "", 1)
    return re.sub(r"\s+([,.;:!?])", r"\1", " ".join(text.split()))


@dataclass(frozen=True)
class Template:
    station: str
    greeting: str
    opening: str
    part_opening: str
    details: str
    closing: str
    max_minutes: float
    chars_per_second: float
    max_words: int = 25
    drop_leadins: tuple[str, ...] = ()
    facts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    missing: str = f"[{MISSING_TAG}: điều bà con cần làm, kèm {{facts}}]"
    why: str = ""
    reasons: tuple[tuple[str, tuple[str, ...]], ...] = ()
    leads: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def lead_starts(self) -> tuple[tuple[str, str], ...]:
        """(folded first words, lead) for short_sentences, longest start first."""
        pairs = [(" ".join(_fold(w) for w in _WORDS.findall(c)), lead)
                 for lead, cues in self.leads for c in cues]
        return tuple(sorted(((c, lead) for c, lead in pairs if c), key=lambda p: -len(p[0])))

    def seconds(self, text: str) -> float:
        return len(text) / self.chars_per_second


class _TemplateText(Value):
    """Text whose placeholders are checked: each problem is its own error."""

    kind = "template"

    def __init__(self, allowed: tuple[str, ...] = _FIELDS_ALLOWED):
        self.allowed = allowed

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, str):
            raise Invalid(f"'{key}' phải là một đoạn chữ.")
        for problem in template_problems(raw, self.allowed):
            report(f"'{key}': {problem}")
        return raw


class _MissingMarker(_TemplateText):
    def parse(self, raw, key, ctx, report):
        raw = super().parse(raw, key, ctx, report)
        if not open_markers(raw.strip()[:400]) or not _fold(raw.strip()).startswith(
                "[can bo sung"):
            raise Invalid(f"'{key}' phải bắt đầu bằng “[{MISSING_TAG}:” và kết thúc bằng “]” "
                          "(loa nhận ra dấu này để không cho duyệt bản tin còn thiếu).")
        return raw.strip()


class _Phrases(Value):
    """A list of short phrases (the lead-ins to drop)."""

    kind = "texts"

    def parse(self, raw, key, ctx, report):
        items = raw if isinstance(raw, list) else None
        if items is None or not all(isinstance(x, str) and x.strip() for x in items):
            raise Invalid(f"'{key}' phải là danh sách các cụm chữ, mỗi dòng một cụm "
                          "(viết '- tiếp tục').")
        return tuple(" ".join(x.split()) for x in items)

    def dump(self, value):
        return list(value)


# The cue patterns a station may list under 'facts'.
_DOC_REF = re.compile(r"\d+[\w.-]*/[\w/.-]*[A-ZĐ][\w/.-]*(?:,?\s+ngày\s+\d{1,2}/\d{1,2}/\d{2,4})?")
_CUE_PATTERNS = {
    "<ngày>": re.compile(r"(?<![\d/])\d{1,2}/\d{1,2}(?:/\d{2,4})?(?![\d/])"
                         r"|\bngày\s+\d{1,2}(?:\s+tháng\s+\d{1,2})?\b", re.IGNORECASE),
    "<giờ>": re.compile(r"(?<![\d/])\d{1,2}\s*(?:giờ|h)(?:\s*\d{1,2}(?:\s*phút)?)?(?!\w)"
                        r"|(?<![\d:])\d{1,2}:\d{2}(?![\d:])", re.IGNORECASE),
    "<số điện thoại>": re.compile(r"(?<![\d/])(?:0|\+84)\d{2,3}[\s.]?\d{3}[\s.]?\d{3,4}(?![\d/])"
                                  r"|(?<![\d/])1[089]00[\s.]?\d{4}(?![\d/])"
                                  r"|(?<![\d/])11[345](?![\d/])"),
    "<số tiền>": re.compile(r"\d[\d.,]*\s*(?:nghìn\s+|ngàn\s+|triệu\s+|tỷ\s+)?"
                            r"(?:đồng|VNĐ|VND)(?!\w)", re.IGNORECASE),
    # "tại" or "ở" before a name (its first letter upper case: checked in facts_found)
    "<nơi>": re.compile(r"(?<!\w)(?:[Tt]ại|[Ởở])\s+(?:các\s+)?(\w)"),
}


class _Facts(Value):
    """Names (kinds of resident facts, or reasons to listen), each with the cues that show a
    topic is about it."""

    kind = "facts"

    def __init__(self, what: str = "loại thông tin", sample: str = "địa điểm: [<nơi>, nhà văn hóa]"):
        self.what, self.sample = what, sample

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, dict) or not raw:
            raise Invalid(f"'{key}' phải là bảng '{self.what}: [các chữ nhận biết]', ví dụ "
                          f"'{self.sample}'.")
        out = []
        for name, cues in raw.items():
            items = cues if isinstance(cues, list) else [cues]
            if not isinstance(name, str) or not name.strip() or not items or not all(
                    isinstance(c, str) and c.strip() for c in items):
                report(f"'{key}': '{str(name)[:_EXCERPT]}' phải có danh sách các chữ nhận "
                       "biết, ví dụ [<ngày>, hằng ngày].")
                continue
            if "{" in name or "}" in name:
                report(f"'{key}': '{name[:_EXCERPT]}' không dùng được dấu ngoặc nhọn {{ }}.")
                continue
            for c in items:
                if c.strip().startswith("<") and c.strip() not in _CUE_PATTERNS:
                    report(f"'{key}': mẫu '{c.strip()[:_EXCERPT]}' không có (dùng: "
                           f"{', '.join(_CUE_PATTERNS)}).")
            out.append((" ".join(name.split()), tuple(" ".join(c.split()) for c in items)))
        return tuple(out)

    def dump(self, value):
        return {name: list(cues) for name, cues in value}


class _StationName(Value):
    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, str):
            raise Invalid(f"'{key}' phải là một đoạn chữ.")
        if "{" in raw or "}" in raw:  # the name is read as written: a placeholder is a mistake
            raise Invalid("'station' là tên đài, viết thẳng tên (không dùng dấu ngoặc nhọn "
                          "{ }).")
        return raw


@cache
def _shipped() -> dict:
    return load_yaml(DEFAULT_TEMPLATE)


_POSITIVE = "'{key}' phải là số lớn hơn 0"
# A station's template, key by key; the defaults are the shipped template.yaml.
TEMPLATE_SCHEMA = Schema("mẫu bản tin", [
    Field("station", _StationName(), "Tên đài", "để trống thì lấy theo cơ quan ban hành"),
    Field("greeting", _TemplateText(), "Lời chào"),
    Field("opening", _TemplateText(), "Lời mở đầu", "đài nào nói, vì sao bà con cần nghe"),
    Field("part_opening", _TemplateText(), "Lời mở đầu mỗi phần", "{part}, {parts}"),
    Field("why", _TemplateText(), "Vì sao bà con cần nghe",
          "khi không lý do nào trong 'reasons' hợp với nội dung"),
    Field("reasons", _Facts("câu nói vì sao cần nghe", "Những điều này giúp bảo vệ sức khỏe "
                            "cả gia đình.: [tiêm, y tế]"), "Vì sao bà con cần nghe, theo nội dung",
          "câu: các chữ nhận biết; câu đầu tiên hợp được dùng cho {why}"),
    Field("leads", _Facts("lời dẫn", "Bà con cũng có thể làm: [qua]"),
          "Lời dẫn cho mẩu câu bị tách", "lời dẫn: các chữ đầu mẩu câu cần lời dẫn"),
    Field("details", _TemplateText(), "Trước các ý chính"),
    Field("closing", _TemplateText(), "Lời kết"),
    Field("max_words", Number(8, 100, integer=True), "Câu dài tối đa (chữ)",
          "câu dài hơn được tách thành câu ngắn",
          error_vi="'{key}' phải là số nguyên từ 8 đến 100"),
    Field("drop_leadins", _Phrases(), "Chữ mở đầu kiểu công văn cần bỏ",
          "“Tiếp tục tuyên truyền về …”"),
    Field("facts", _Facts(), "Điều bà con dùng được ngay",
          "loại: các chữ nhận biết; thiếu hết thì thêm dấu cần bổ sung"),
    Field("missing", _MissingMarker(_MISSING_FIELDS), "Dấu cần bổ sung",
          f"bắt đầu bằng [{MISSING_TAG}:, có thể dùng {{facts}}"),
    Field("max_minutes", Number(0, math.inf, above=True), "Dài tối đa (phút)",
          "dài hơn thì chia phần", error_vi=_POSITIVE),
    Field("chars_per_second", Number(0, math.inf, above=True), "Tốc độ đọc (ký tự/giây)",
          error_vi=_POSITIVE),
], _shipped)
_TEMPLATE_KEYS = tuple(TEMPLATE_SCHEMA.fields)
_TEXT_KEYS = ("station", "greeting", "opening", "part_opening", "details", "closing", "missing",
              "why")


def load_template(path: str | Path | None = None, station: str | None = None) -> Template:
    """The shipped template, with a station's file layered over it; all its errors at once.
    A station file written before the drafting rules (only the old keys) gets the shipped
    rules."""
    custom: dict = {}
    chk = Checker(Path(path) if path is not None else DEFAULT_TEMPLATE)
    if path is not None:
        custom = load_yaml(path)
        if not isinstance(custom, LineDict):
            raise LoaError("tệp mẫu bản tin phải là bảng 'khóa: giá trị'.", path, 1)
    values = TEMPLATE_SCHEMA.read(custom, chk).values
    if chk.problems:
        raise LoaError.many(sorted(chk.problems, key=lambda p: p.line or 0))
    if station:
        values["station"] = station
    return Template(
        **{k: str(values[k] or "") for k in _TEXT_KEYS},
        **{k: float(values[k]) for k in _NUMBER_KEYS},
        max_words=int(values["max_words"]), drop_leadins=tuple(values["drop_leadins"] or ()),
        facts=tuple(values["facts"] or ()), reasons=tuple(values["reasons"] or ()),
        leads=tuple(values["leads"] or ()))


def source_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


# --- turning a topic into sentences for residents --------------------------------------------

_WORDS = re.compile(r"\w+")
# A function word cannot end a sentence: "chủ yếu như." "về ," are broken joins.
# ("tại" is left out: "tồn tại", "hiện tại" end a sentence well.)
_DANGLING = re.compile(r"[\s,;:–-]+(?:như|về|của|và|hoặc|với|gồm|bao gồm|là|cho|đến|tới|"
                       r"trong|các|những|như sau|cụ thể)\s*$", re.IGNORECASE)


def _same_word(a: str, b: str) -> bool:
    """Folded words equal, or one letter apart in a long word: the plans' own typos of the
    lead-ins ("Truyên truyền", "tuyền truyền") are lead-ins too."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


@cache
def _leadin_words(leadins: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    seqs = {tuple(_fold(w) for w in _WORDS.findall(p)) for p in leadins}
    return tuple(sorted((s for s in seqs if s), key=len, reverse=True))


def _shipped_leadins() -> tuple[str, ...]:
    return tuple(_shipped().get("drop_leadins") or ())


def plain_clause(clause: str, leadins: tuple[str, ...] | None = None) -> str:
    """Drop the bureaucratic lead-in: "Tiếp tục tuyên truyền về vai trò …" -> "vai trò …"."""
    clause = clause.strip(" ;,.")
    seqs = _leadin_words(leadins if leadins is not None else _shipped_leadins())
    tokens = list(_WORDS.finditer(clause))
    folded = [_fold(m.group(0)) for m in tokens]
    i = 0
    while i < len(tokens):
        for seq in seqs:
            if len(folded) - i >= len(seq) and all(
                    _same_word(folded[i + k], w) for k, w in enumerate(seq)):
                i += len(seq)
                break
        else:
            break
    if i == 0:
        return clause
    if i < len(tokens) and folded[i] in ("ve", "den", "toi"):  # "… tuyên truyền về X"
        i += 1
    rest = clause[tokens[i].start():].strip(" ,;.") if i < len(tokens) else ""
    return rest if len(rest) >= 8 else clause


def tidy(text: str) -> str:
    """No empty joins or doubled punctuation: "về , phố biến" -> "về phố biến", "như." -> ""."""
    s = " ".join(text.split())
    s = re.sub(r"\(\s*[,.;:…]*\s*\)", "", s)
    s = re.sub(r"\s+([,.;:!?…)”])", r"\1", s)
    s = re.sub(r"([(“])\s+", r"\1", s)
    s = re.sub(r"(?:,\s*)?(?:…|\.\.\.)(?=\s*(?:[,.;:)]|$))", "", s)  # "Tư pháp, …" trails off
    s = re.sub(r"^[\s,.;:–-]+", "", s)
    s = re.sub(r"\b(về|của|như|và|với)\s*[,;]\s*", r"\1 ", s, flags=re.IGNORECASE)
    s = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", s)  # ", ," -> ","
    s = re.sub(r"[,;:]\s*(?=[.!?]|$)", "", s)
    s = re.sub(r"([.!?])(?:\s*[.!?])+", r"\1", s)  # ". ." -> "."
    s = " ".join(s.split()).strip(" ,;")
    while True:
        shorter = _DANGLING.sub("", s)
        if shorter == s:
            break
        s = shorter
    return s


def _capital(text: str) -> str:
    """First letter upper case, after any opening quote; "15 tiện ích" stays."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:]
        if ch not in "“\"'(":
            break
    return text


def _words(text: str) -> int:
    """Words as a listener hears them: "09/6/2025" counts three."""
    return len(_WORDS.findall(text))


_PHRASE_STARTS = ("trong", "trên", "tại", "đối", "gắn", "theo", "khi", "qua", "việc", "có",
                  "đến", "phục", "với", "từ", "giữa", "được")
# words that hold on to the next: "kèm theo", "liên quan đến", "hướng dẫn về"
_BOUND_BEFORE = ("của", "và", "kèm", "quan", "dẫn", "tiếp", "trực", "thông", "đi", "gửi")
_CONNECTORS = {"để": "Việc này giúp", "nhằm": "Việc này nhằm", "góp": "Việc này góp"}


# a list follows "như:", "gồm:", "sau:"; its items are not cut apart without a lead
_LIST_WORDS = ("nhu", "gom", "sau", "bao gom")
# a verb that takes what follows the comma as its object: "thực hiện, tra cứu X" is one act
_NEEDS_OBJECT = ("thuc hien", "huong dan", "tra cuu", "su dung", "tham gia", "dang ky")


def _needs_object(head: list[str]) -> bool:
    tail = _fold(" ".join(head[-2:]).rstrip(",;"))
    return tail in _NEEDS_OBJECT


def _in_name(words: list[str], i: int) -> bool:
    """Cutting before words[i] would cut a name: the word before is capitalized mid-sentence
    ("tại Điểm | phục vụ", "Bộ phận | Một cửa") and not followed by a comma."""
    prev = words[i - 1]
    return (i - 1 > 0 and prev[:1].isupper() and not prev.isupper()
            and not prev.endswith((",", ";", ":")))


def short_sentences(sentence: str, max_words: int,
                    leads: tuple[tuple[str, str], ...] | None = None) -> list[str]:
    """A sentence of at most max_words words, or several: split at ':' ';', then at 'để',
    'nhằm', 'góp phần', then at ',' and 'và', near the middle; each part reads on its own."""
    words = sentence.split()
    if _words(sentence) <= max_words or len(words) < 2:
        return [sentence]
    # list items between commas: a comma between two long stretches is a real pause
    stretch = [0] * len(words)
    starts = [0] + [i for i in range(1, len(words)) if words[i - 1].endswith(",")]
    for a, b in zip(starts, starts[1:] + [len(words)], strict=True):
        for k in range(a, b):
            stretch[k] = b - a
    list_start = next((k + 1 for k, w in enumerate(words)
                       if w.endswith(":") and _fold(w[:-1]) in _LIST_WORDS), None)

    def in_list(i: int) -> bool:
        return list_start is not None and i >= list_start

    best: tuple[int, int, int, int] | None = None  # (rank, -shorter side, off-middle, index)
    for i in range(3, len(words) - 2):
        prev, word = words[i - 1], words[i].lower()
        side = 0
        if in_list(i) and (i == list_start or not prev.endswith(",")):
            continue  # "như: A, B và C" is one list: cut only between its items
        if prev.endswith((":", ";")):
            rank = 0
        elif word in ("để", "nhằm") or (word == "góp" and words[i + 1].lower() == "phần"):
            rank = 1
        elif prev.endswith(",") and word != words[i - 2].lower():  # not "một cửa, một cửa"
            side = min(stretch[i - 1], stretch[i])
            rank = 2 if side >= 4 and not _needs_object(words[:i]) else 5
        elif word == "và" and i >= 5 and len(words) - i >= 5 and words[i + 1].lower() not in (
                "của", "các", "những", "với", "cho"):  # not "người dân và doanh nghiệp"
            rank = 3
        elif (word in _PHRASE_STARTS and prev.lower() not in _BOUND_BEFORE) or (
                word == "ban" and words[i + 1].lower() == "hành"):
            rank = 4  # before a new phrase ("… hành chính trong giải quyết …"): still reads
        else:
            continue
        if _in_name(words, i) and rank > 1:
            continue  # "Điểm phục vụ hành chính công", "Cổng Dịch vụ công": one name
        cand = (rank, -side, abs(len(words) - 2 * i), i)
        if best is None or cand < best:
            best = cand
    if best is None:  # no pause at all: cut in two, outside any name
        mid = len(words) // 2
        i = min((k for k in range(2, len(words) - 1) if not _in_name(words, k)),
                key=lambda k: abs(k - mid), default=mid)
    else:
        i = best[3]
    head = " ".join(words[:i]).rstrip(",; ")
    rest = words[i:]
    lead = _CONNECTORS.get(rest[0].lower())
    if lead:
        rest = lead.split() + (rest[2:] if rest[0].lower() == "góp" else rest[1:])
        if rest[2] == "góp":
            rest[2:3] = ["góp", "phần"]
    elif rest[0].lower() == "và":
        rest = rest[1:]
    # the list goes on: "… gồm: A, B. Ngoài ra còn C, D."
    if in_list(i) and i > list_start and _fold(rest[0]) != "ngoai":
        rest = ["Ngoài", "ra", "còn"] + rest
    if not head.endswith(":"):
        head = tidy(head)
    tail = tidy(" ".join(rest))
    for start, lead in (leads or ()):  # "Qua dịch vụ bưu chính …" is no sentence on its own
        if _fold(tail).startswith(start + " "):
            tail = lead + " " + tail[0].lower() + tail[1:]
            break
    if len(tail.split()) >= len(words):  # a lead must not make the piece as long as the whole
        tail = tidy(" ".join(words[i:]))
    tail = _capital(tail)
    return short_sentences(head, max_words, leads) + short_sentences(tail, max_words, leads)


def _clauses(text: str) -> list[str]:
    """At ';', and at '.' that ends a sentence (not "15.000", not "năm 2026. của")."""
    out, start = [], 0
    for m in re.finditer(r"[;.](?:\s+|$)", text):
        nxt = text[m.end():m.end() + 1]
        if m.group(0)[0] == "." and text[m.start() - 1:m.start()].isdigit() and not (
                nxt == "" or nxt.isupper()):
            continue
        out.append(text[start:m.start()])
        start = m.end()
    out.append(text[start:])
    return [c for c in out if c.strip(" .;,…")]


_SUBJECT_ENDS = ("và", "trong", "trên", "tại", "của", "nhằm", "để", "theo", "khi", "qua", "cho",
                 "từ", "ở", "giữa", "với")


def _subject(clause: str, limit: int, hard: int | None = None) -> str:
    """The topic in a few words for the opening: "việc cung cấp và sử dụng dịch vụ công trực
    tuyến" (not the whole clause, never the plan's title). Cut where a phrase ends, about
    `limit` words, never past `hard` words, never inside quotes."""
    words = clause.split(":")[0].split()
    hard = max(limit, hard or limit)
    heard = [0]  # words heard up to each token: "57-NQ/TW" is three
    for w in words:
        heard.append(heard[-1] + len(_WORDS.findall(w)))
    if heard[-1] > limit:
        cuts = []
        last = max(i for i in range(len(words) + 1) if heard[i] <= hard)
        for i in range(2, min(last, len(words) - 1) + 1):
            nxt, after = words[i].lower(), (words[i + 1].lower() if i + 1 < len(words) else "")
            head = " ".join(words[:i])
            if head.count("“") != head.count("”") or head.count('"') % 2:
                continue
            if ((words[i - 1].endswith(",") and not _needs_object(words[:i]))
                    or nxt in _SUBJECT_ENDS
                    or (nxt in ("gắn", "đối") and after in ("với", "liền"))):
                cuts.append(i)
        if heard[-1] <= hard or (len(words) > last and words[last - 1].endswith(",")):
            cuts.append(last)  # the whole phrase up to a pause: "vai trò và tầm quan trọng của …"
        whole = cuts + [len(words)] if heard[-1] <= hard else cuts  # the clause ends: a pause
        within = [i for i in cuts if heard[i] <= limit]
        end = within[-1] if within else cuts[0] if cuts else last
        if end < len(words) and words[end].lower() in ("và", "của"):
            # "vai trò | và tầm quan trọng của …": keep the object, up to the next pause
            end = next((i for i in whole if i > end and (i == len(words) or words[i].lower()
                                                         not in ("và", "của"))),
                       last if last in cuts else end)
            conj = words.index("và") if "và" in words[:end] else 0
            if end < len(words) and words[end].lower() == "của" and conj >= 1:
                # too long with both: "vai trò (và tầm quan trọng) của nhiệm vụ …"
                short = words[:conj] + words[end:]
                if sum(len(_WORDS.findall(w)) for w in short) <= hard:
                    words, end = short, len(short)
        quoted = [i for i in range(2, end) if words[i].startswith(("“", '"'))]
        if not cuts and quoted:  # no pause before the limit: stop before the quoted name
            end = quoted[0]
        words = words[:end]
    phrase = tidy(" ".join(words))
    if phrase[:2] != phrase[:2].upper():  # "Các quan điểm" -> "các quan điểm"; "TTHC" stays
        phrase = phrase[0].lower() + phrase[1:]
    return phrase


def facts_found(text: str, tpl: Template) -> list[str]:
    """The kinds of resident facts the topic gives (a date, a place, a phone number …).
    Document numbers and their dates ("số 63/2010/NĐ-CP ngày 08/6/2010") are not facts."""
    return _matching(text, tpl.facts)


def reason(text: str, tpl: Template) -> str:
    """Why residents should listen: the template's first reason whose cues the topic has."""
    found = _matching(text, tpl.reasons)
    return found[0] if found else tpl.why


def _matching(text: str, named: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    text = _DOC_REF.sub(" ", text)
    low = text.lower()
    found = []
    for name, cues in named:
        for cue in cues:
            pattern = _CUE_PATTERNS.get(cue)
            if cue == "<nơi>":
                hit = any(m.group(1).isupper() for m in pattern.finditer(text))
            elif pattern is not None:
                hit = pattern.search(text)
            else:
                hit = re.search(r"(?<!\w)" + re.escape(cue.lower()) + r"(?!\w)", low)
            if hit:
                found.append(name)
                break
    return found


def _join_kinds(kinds: list[str]) -> str:
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " hoặc " + kinds[-1]


def _is_word_to_check(word: str) -> bool:
    """Abbreviations (TTHC, VNeID) and single letters are not syllables to check."""
    return len(word) > 1 and not word.isupper() and not any(c.isupper() for c in word[1:])


def _typos(text: str) -> list[tuple[int, int, str, str | None]]:
    """(start, end, found, suggestion) for each word the plan probably misspelled: from
    loa.plan.repair.typos (inventory + language model: "trực tuyên" -> "trực tuyến"), and
    any other syllable the inventory does not know (no suggestion)."""
    try:
        from loa.plan.repair import typos as find
    except ImportError:
        find = None
    out = []
    if find is not None:
        for t in find(text):
            if _is_word_to_check(t.found.split()[0] if t.found.split() else t.found):
                out.append((t.start, t.end, t.found, t.suggestion))
    from loa.plan.syllables import WORD, is_syllable

    covered = {i for start, end, _f, _s in out for i in range(start, end)}
    for m in WORD.finditer(text):  # every unknown syllable is flagged, whatever the model says
        w = m.group(0)
        if m.start() not in covered and _is_word_to_check(w) and not is_syllable(w):
            out.append((m.start(), m.end(), w, None))
    return out


def _cased_like(found: str, suggestion: str) -> str:
    if found.isupper():
        return suggestion.upper()
    if found[:1].isupper():
        return suggestion[:1].upper() + suggestion[1:]
    return suggestion


def learned_typos(text: str) -> dict[tuple[str, str], str]:
    """The typos found in a whole topic, by (word before, word): the model sees a typo where
    its neighbours are telling ("trực tuyên." at a clause end), and the same two words
    elsewhere in the draft are the same typo."""
    from loa.plan.syllables import WORD

    out = {}
    for start, _end, found, suggestion in _typos(text):
        before = WORD.findall(text[max(0, start - 40):start])
        if suggestion and before and suggestion.lower() != found.lower():
            out[(before[-1].lower(), found.lower())] = suggestion
    return out


def flag_typos(text: str, learned: dict[tuple[str, str], str] | None = None) -> str:
    """Each misspelled word of the plan marked, never copied silently: the suggestion in the
    text with the plan's spelling in a marker ("phổ biến [KIỂM TRA: kế hoạch viết “phố
    biến”]"), or, with no suggestion, the word with a marker. `learned`: typos found in the
    whole topic (learned_typos), flagged here too."""
    found_here = _typos(text)
    covered = {i for start, end, _f, _s in found_here for i in range(start, end)}
    for (before, word), suggestion in (learned or {}).items():
        pattern = r"(?<!\w)" + re.escape(before) + r"\s+(" + re.escape(word) + r")(?!\w)"
        for m in re.finditer(pattern, text, re.IGNORECASE):
            if m.start(1) not in covered:
                found_here.append((m.start(1), m.end(1), m.group(1), suggestion))
    out, pos = [], 0
    for start, end, found, suggestion in sorted(found_here):
        if start < pos:
            continue
        out.append(text[pos:start])
        if suggestion and suggestion.lower() != found.lower():
            out.append(f"{_cased_like(found, suggestion)} [{CHECK_TAG}: kế hoạch viết “{found}”]")
        else:
            out.append(f"{found} [{CHECK_TAG}: “{found}” không có trong từ điển, hãy sửa]")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def resident_points(topic: Topic, tpl: Template | None = None) -> tuple[str, list[str]]:
    """The topic in a few words for the opening, and what residents should know, in short
    sentences with the lead-ins dropped (typos not yet flagged)."""
    tpl = tpl or load_template()
    clauses = [tidy(plain_clause(c, tpl.drop_leadins)) for c in _clauses(topic.text)]
    clauses = [c for c in clauses if _WORDS.search(c)]
    if not clauses:
        clauses = [tidy(plain_clause(topic.title, tpl.drop_leadins))]
    sentences = []
    for c in clauses:
        for s in short_sentences(_capital(c), tpl.max_words, tpl.lead_starts()):
            s = s if s.endswith(":") else tidy(plain_clause(s, tpl.drop_leadins))
            if _WORDS.search(s):
                sentences.append(_capital(s))
    return clauses[0], sentences


def station_name(plan: Plan, tpl: Template) -> str:
    return tpl.station or (
        "Đài truyền thanh " + plan.issuer.removeprefix("UBND ") if plan.issuer
        else "Đài truyền thanh")


def _plan_name(plan: Plan) -> str:
    if plan.number and re.match(r"\d", plan.number):
        return f"Kế hoạch số {plan.number}"
    title = plan.title.strip()
    if not title:
        return "kế hoạch thông tin, tuyên truyền"
    return "Kế hoạch " + title[0].lower() + title[1:]


def _first_sentence_words(text: str) -> int:
    return _words(re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0])


def compose(plan: Plan, topic: Topic, tpl: Template) -> list[str]:
    """One bulletin text, or several parts when it would run over tpl.max_minutes."""
    first, sentences = resident_points(topic, tpl)
    station = station_name(plan, tpl)
    fill = {"station": station, "issuer": plan.issuer or "Ủy ban nhân dân",
            "plan": _plan_name(plan), "topic": "", "part": 9, "parts": 9}
    fill["why"] = render(reason(topic.text, tpl), fill)
    # the opening's sentence with the topic stays within max_words
    frame = max(_first_sentence_words(render(tpl.opening, fill)),
                _first_sentence_words(render(tpl.part_opening, fill)))
    subject = _subject(first, max(4, min(12, tpl.max_words - frame)),
                       max(4, tpl.max_words - frame))
    if sentences and sentences[0].lower() == _capital(first).lower() == _capital(subject).lower():
        sentences = sentences[1:]  # the opening already said it all
    learned = learned_typos(topic.text)
    fill = {**fill, "topic": flag_typos(subject, learned), "part": 1, "parts": 1}
    points = [flag_typos(s, learned) for s in sentences]
    marker = ""
    if not facts_found(topic.text, tpl):
        kinds = [name for name, _cues in tpl.facts] or ["địa điểm, thời gian, số điện thoại"]
        marker = render(tpl.missing, {**fill, "facts": _join_kinds(kinds)})
    greeting, details = render(tpl.greeting, fill), render(tpl.details, fill)
    opening = render(tpl.opening, fill)
    closing = render(tpl.closing, fill)

    def text(opening: str, pts: list[str], last: bool) -> str:
        body = (f" {details} " + " ".join(p if p.endswith(":") else p + "." for p in pts)
                if pts else "")
        gap = f" {marker}" if marker and last else ""
        return " ".join(f"{greeting} {opening}{body}{gap} {closing}".split())

    whole = text(opening, points, True)
    limit = tpl.max_minutes * 60
    if tpl.seconds(whole) <= limit or len(points) <= 1:
        return [whole]
    # Greedy split at sentence ends; each part keeps greeting, opening and closing.
    frame_s = tpl.seconds(text(render(tpl.part_opening, {**fill, "part": 9, "parts": 9}), [],
                               True))
    groups: list[list[str]] = [[]]
    size = -1  # characters of " ".join(groups[-1]), kept as a sum: no rejoin per point
    for p in points:
        if groups[-1] and frame_s + (size + 1 + len(p)) / tpl.chars_per_second > limit:
            groups.append([])
            size = -1
        groups[-1].append(p)
        size += 1 + len(p)
    n = len(groups)
    return [text(render(tpl.part_opening, {**fill, "part": i, "parts": n}), g, i == n)
            for i, g in enumerate(groups, start=1)]
