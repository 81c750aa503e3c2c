"""Find a plan's content section ("Nội dung thông tin, tuyên truyền") and its topics."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from loa.errors import LoaError
from loa.plan.outline import Node, join_lines, parse_outline
from loa.plan.reader import Line, read_plan_lines

_CONTENT_HEADING = re.compile(
    r"^(?:cac\s+)?noi\s+dung\s+(?:chinh\s+)?(?:(?:thong\s+tin|tuyen\s+truyen)[\s,]*){1,2}"
)


def fold(text: str) -> str:
    """Lower-case ASCII skeleton of Vietnamese text, for matching headings."""
    text = text.replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@dataclass
class Topic:
    path: str  # outline path, e.g. "IV.1.a"
    title: str
    text: str
    line: int  # where its marker stands in the source
    heading: str = ""  # text of its parent item, e.g. "1. Thông tin, tuyên truyền về …"


@dataclass
class Plan:
    source: Path
    plan_id: str
    title: str
    issuer: str
    year: int | None
    outline: Node
    content: Node
    topics: list[Topic] = field(default_factory=list)


def find_content_section(root: Node) -> Node | None:
    """The outermost item whose heading reads like "Nội dung thông tin, tuyên truyền"."""
    for node in root.walk():
        if node.kind == "root" or not node.children:
            continue
        if _CONTENT_HEADING.match(fold(node.text)):
            return node
    return None


def make_title(text: str, limit: int = 110) -> str:
    first = re.split(r"(?<=[^\d])[.;:](?:\s|$)", text, maxsplit=1)[0].strip()
    if len(first) > limit:
        cut = first[:limit].rsplit(" ", 1)[0]
        first = cut.rstrip(",;") + " …"
    return first.rstrip(" .;,:")


def _issuer(lines: list[Line]) -> str:
    head = [ln.text for ln in lines[:6]]
    for i, text in enumerate(head):
        if fold(text).startswith("uy ban nhan dan") and i + 1 < len(head):
            place = head[i + 1]
            words = place.split()
            if words:
                kind = words[0].lower()
                name = " ".join(w.capitalize() for w in words[1:])
                return f"UBND {kind} {name}".strip()
    return ""


def _title_and_year(root: Node, lines: list[Line]) -> tuple[str, int | None]:
    title_lines: list[str] = []
    collecting = False
    for ln in lines:
        f = fold(ln.text)
        if f.startswith("ke hoach") and len(ln.text) <= 12:
            collecting = True
            continue
        if collecting:
            if f.startswith(("can cu", "thuc hien", "i.")) or len(title_lines) >= 4:
                break
            title_lines.append(ln.text)
    title = join_lines(title_lines)
    years = re.findall(r"\bnăm (\d{4})\b", title) or re.findall(
        r"\bnăm (\d{4})\b", " ".join(ln.text for ln in lines[:12])
    )
    return title, int(years[-1]) if years else None


def import_plan(path: str | Path, section: str | None = None) -> Plan:
    """Read a plan and return its topics: the leaves of the content section."""
    path = Path(path)
    lines = read_plan_lines(path)
    if not lines:
        raise LoaError("tệp kế hoạch trống.", path)
    root = parse_outline(lines)
    if section:
        content = root.find(section)
        if content is None:
            known = ", ".join(n.path for n in root.children)
            raise LoaError(
                f"không có mục '{section}' trong kế hoạch (các mục lớn: {known}).", path
            )
    else:
        content = find_content_section(root)
        if content is None:
            raise LoaError(
                "không tìm thấy phần “Nội dung thông tin, tuyên truyền” trong kế hoạch; "
                "hãy chỉ rõ mục bằng --section (ví dụ --section IV).",
                path,
            )
    topics = []
    for leaf in content.leaves():
        if leaf is content:
            break
        text = leaf.text
        if not text:
            continue
        parent = leaf.parent
        heading = parent.text if parent is not None and parent is not content else ""
        topics.append(
            Topic(
                path=leaf.path,
                title=make_title(text),
                text=text,
                line=leaf.line,
                heading=make_title(heading, 160) if heading else "",
            )
        )
    if not topics:
        raise LoaError(f"mục {content.path} không có nội dung nào để phát.", path, content.line)
    title, year = _title_and_year(root, lines)
    plan_id = re.sub(r"[^a-z0-9]+", "-", fold(path.stem)).strip("-") or "plan"
    return Plan(
        source=path,
        plan_id=plan_id,
        title=title,
        issuer=_issuer(lines),
        year=year,
        outline=root,
        content=content,
        topics=topics,
    )
