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
_FIELDS_ALLOWED = ("station", "issuer", "plan", "topic", "part", "parts")
# "{{" and "}}" are literal braces, "{name}" a placeholder, any other brace stands alone.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_EXCERPT = 40  # of a bad placeholder, in a message

# "Tiếp tục tuyên truyền, phổ biến về …" tells officials what to do; residents need the "…".
_DIRECTIVE = re.compile(
    r"^(?:(?:tiếp tục|tập trung|đẩy mạnh|tăng cường|chú trọng|thường xuyên|kịp thời)\s+"
    r"(?:(?:tập trung|đẩy mạnh)\s+)?)?"
    r"(?:thông tin,?\s+tuyên truyền|tuyên truyền,?\s+(?:phổ biến|biểu dương|hướng dẫn)"
    r"|tuyên truyền|tuyền truyền|truyên truyền|tuyên truyên|thông tin|phổ biến)"
    r"(?:,?\s+(?:phổ biến|hướng dẫn))?(?:\s+rộng rãi)?\s*(?:(?:về|đến|tới)\s+)?",
    re.IGNORECASE,
)


def template_problems(text: str) -> list[str]:
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
        elif m.group(1) not in _FIELDS_ALLOWED:
            name = m.group(1)
            shown = name if len(name) <= _EXCERPT else name[:_EXCERPT] + "…"
            hint = ("; chỉ viết tên chỗ điền, không kèm '.', '[', '!' hay ':'"
                    if re.search(r"[.\[!:]", name) else "")
            problems.append(f"chỗ điền '{{{shown}}}' không có (dùng: "
                            f"{', '.join('{' + f + '}' for f in _FIELDS_ALLOWED)}){hint}.")
    return problems


def render(text: str, fill: dict[str, object]) -> str:
    """Put the values in a template text checked by template_problems; values are data:
    braces in them are not read again."""

    def one(m: re.Match) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        name = m.group(1)
        if name is None or name not in _FIELDS_ALLOWED or name not in fill:
            raise LoaError(f"mẫu bản tin có chỗ điền sai: '{token[:_EXCERPT]}'.")
        return str(fill[name])

    return _TOKEN.sub(one, text)


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

    def seconds(self, text: str) -> float:
        return len(text) / self.chars_per_second


class _TemplateText(Value):
    """Text whose placeholders are checked: each problem is its own error."""

    kind = "template"

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, str):
            raise Invalid(f"'{key}' phải là một đoạn chữ.")
        for problem in template_problems(raw):
            report(f"'{key}': {problem}")
        return raw


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
    Field("opening", _TemplateText(), "Lời mở đầu"),
    Field("part_opening", _TemplateText(), "Lời mở đầu mỗi phần", "{part}, {parts}"),
    Field("details", _TemplateText(), "Trước các ý chính"),
    Field("closing", _TemplateText(), "Lời kết"),
    Field("max_minutes", Number(0, math.inf, above=True), "Dài tối đa (phút)",
          "dài hơn thì chia phần", error_vi=_POSITIVE),
    Field("chars_per_second", Number(0, math.inf, above=True), "Tốc độ đọc (ký tự/giây)",
          error_vi=_POSITIVE),
], _shipped)
_TEMPLATE_KEYS = tuple(TEMPLATE_SCHEMA.fields)


def load_template(path: str | Path | None = None, station: str | None = None) -> Template:
    """The shipped template, with a station's file layered over it; all its errors at once."""
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
    return Template(**{k: (float(values[k]) if k in _NUMBER_KEYS else str(values[k] or ""))
                       for k in _TEMPLATE_KEYS})


def source_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:16]


def _sentence(text: str) -> str:
    text = text.strip(" ;,.")
    if not text:
        return ""
    return text[0].upper() + text[1:]


def plain_clause(clause: str) -> str:
    """Drop the directive verb: "Tuyên truyền về vai trò …" -> "vai trò …"."""
    clause = clause.strip(" ;,.")
    stripped = _DIRECTIVE.sub("", clause, count=1).strip()
    return stripped if len(stripped) >= 8 else clause


def resident_points(topic: Topic) -> tuple[str, list[str]]:
    """The topic phrase for the opening, and the points residents should know."""
    clauses = [c for c in re.split(r"(?<=[^\d])[;.](?:\s+|$)", topic.text) if c.strip(" .;,")]
    plain = [plain_clause(c) for c in clauses]
    head = plain[0] if plain else topic.title
    topic_phrase = head[0].lower() + head[1:] if head[:2] != head[:2].upper() else head
    if len(topic_phrase) > 140:  # a long first clause stays a point, the title leads
        topic_phrase = plain_clause(topic.title)
        topic_phrase = topic_phrase[0].lower() + topic_phrase[1:]
        return topic_phrase, [_sentence(p) for p in plain]
    return topic_phrase, [_sentence(p) for p in plain[1:]]


def _plan_name(plan: Plan) -> str:
    if plan.number and re.match(r"\d", plan.number):
        return f"Kế hoạch số {plan.number}"
    title = plan.title.strip()
    if not title:
        return "kế hoạch thông tin, tuyên truyền"
    return "Kế hoạch " + title[0].lower() + title[1:]


def compose(plan: Plan, topic: Topic, tpl: Template) -> list[str]:
    """One bulletin text, or several parts when it would run over tpl.max_minutes."""
    topic_phrase, points = resident_points(topic)
    station = tpl.station or (
        "Đài truyền thanh " + plan.issuer.removeprefix("UBND ") if plan.issuer
        else "Đài truyền thanh")
    fill = {"station": station, "issuer": plan.issuer or "Ủy ban nhân dân",
            "plan": _plan_name(plan), "topic": topic_phrase, "part": 1, "parts": 1}
    greeting, details = render(tpl.greeting, fill), render(tpl.details, fill)
    opening = render(tpl.opening, fill)
    closing = render(tpl.closing, fill)

    def text(opening: str, pts: list[str]) -> str:
        body = f" {details} " + " ".join(p + "." for p in pts) if pts else ""
        return f"{greeting} {opening}{body} {closing}".strip()

    whole = text(opening, points)
    limit = tpl.max_minutes * 60
    if tpl.seconds(whole) <= limit or len(points) <= 1:
        return [whole]
    # Greedy split at sentence ends; each part keeps greeting, opening and closing.
    frame = tpl.seconds(text(render(tpl.part_opening, {**fill, "part": 9, "parts": 9}), []))
    groups: list[list[str]] = [[]]
    size = -1  # characters of " ".join(groups[-1]), kept as a sum: no rejoin per point
    for p in points:
        if groups[-1] and frame + (size + 1 + len(p)) / tpl.chars_per_second > limit:
            groups.append([])
            size = -1
        groups[-1].append(p)
        size += 1 + len(p)
    n = len(groups)
    return [text(render(tpl.part_opening, {**fill, "part": i, "parts": n}), g)
            for i, g in enumerate(groups, start=1)]
