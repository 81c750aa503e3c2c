"""Draft resident-facing bulletins from plan topics, inside the station's template."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from loa.errors import LoaError
from loa.plan.content import Plan, Topic
from loa.settings import PACKAGE_DATA
from loa.yamlio import LineDict, line_of, load_yaml

DEFAULT_TEMPLATE = PACKAGE_DATA / "template.yaml"
_TEMPLATE_KEYS = ("station", "greeting", "opening", "part_opening", "details", "closing",
                  "max_minutes", "chars_per_second")
_FIELDS_ALLOWED = {"station", "issuer", "plan", "topic", "part", "parts"}

# "Tiếp tục tuyên truyền, phổ biến về …" tells officials what to do; residents need the "…".
_DIRECTIVE = re.compile(
    r"^(?:(?:tiếp tục|tập trung|đẩy mạnh|tăng cường|chú trọng|thường xuyên|kịp thời)\s+"
    r"(?:(?:tập trung|đẩy mạnh)\s+)?)?"
    r"(?:thông tin,?\s+tuyên truyền|tuyên truyền,?\s+(?:phổ biến|biểu dương|hướng dẫn)"
    r"|tuyên truyền|tuyền truyền|truyên truyền|tuyên truyên|thông tin|phổ biến)"
    r"(?:,?\s+(?:phổ biến|hướng dẫn))?(?:\s+rộng rãi)?\s*(?:(?:về|đến|tới)\s+)?",
    re.IGNORECASE,
)


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


def load_template(path: str | Path | None = None, station: str | None = None) -> Template:
    """The shipped template, with a station's file layered over it."""
    base = load_yaml(DEFAULT_TEMPLATE)
    values = dict(base)
    if path is not None:
        path = Path(path)
        custom = load_yaml(path)
        if not isinstance(custom, LineDict):
            raise LoaError("tệp mẫu bản tin phải là bảng 'khóa: giá trị'.", path, 1)
        for key, value in custom.items():
            if key not in _TEMPLATE_KEYS:
                raise LoaError(f"khóa '{key}' không dùng trong mẫu bản tin (dùng: "
                               f"{', '.join(_TEMPLATE_KEYS)}).", path, line_of(custom, key))
            if key in ("max_minutes", "chars_per_second"):
                try:
                    value = float(value)
                    if value <= 0:
                        raise ValueError
                except (TypeError, ValueError):
                    raise LoaError(f"'{key}' phải là số lớn hơn 0.", path,
                                   line_of(custom, key)) from None
            else:
                for name in re.findall(r"{(\w*)}", str(value)):
                    if name not in _FIELDS_ALLOWED:
                        raise LoaError(
                            f"chỗ điền '{{{name}}}' không có (dùng: "
                            f"{', '.join('{' + f + '}' for f in sorted(_FIELDS_ALLOWED))}).",
                            path, line_of(custom, key))
            values[key] = value
    if station:
        values["station"] = station
    return Template(**{k: (float(values[k]) if k in ("max_minutes", "chars_per_second")
                           else str(values[k])) for k in _TEMPLATE_KEYS})


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
            "plan": _plan_name(plan), "topic": topic_phrase}
    opening = tpl.opening.format(**fill, part=1, parts=1)
    closing = tpl.closing.format(**fill, part=1, parts=1)

    def text(opening: str, pts: list[str]) -> str:
        body = f" {tpl.details} " + " ".join(p + "." for p in pts) if pts else ""
        return f"{tpl.greeting} {opening}{body} {closing}".strip()

    whole = text(opening, points)
    limit = tpl.max_minutes * 60
    if tpl.seconds(whole) <= limit or len(points) <= 1:
        return [whole]
    # Greedy split at sentence ends; each part keeps greeting, opening and closing.
    frame = tpl.seconds(text(tpl.part_opening.format(**fill, part=9, parts=9), []))
    groups: list[list[str]] = [[]]
    for p in points:
        if groups[-1] and frame + tpl.seconds(" ".join(groups[-1] + [p])) > limit:
            groups.append([])
        groups[-1].append(p)
    n = len(groups)
    return [text(tpl.part_opening.format(**fill, part=i, parts=n), g)
            for i, g in enumerate(groups, start=1)]
