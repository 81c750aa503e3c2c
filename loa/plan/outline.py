"""Parse the numbered outline of a Vietnamese administrative document.

Markers, outermost first: Roman sections (I.), arabic items (1.), Vietnamese letters
(a) b) ... đ) e) g)), dash/dot bullets (-, •) and plus bullets (+). A line without a
marker continues the current item: PDF copy-out breaks sentences anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from loa.plan.reader import Line

# Vietnamese list letters: no f, j, w, z; đ follows d.
VI_LETTERS = "abcdđeghiklmnopqrstuvxy"

_ITEM_START = r"(?=[\"“'(]?[A-ZÀ-ỸĐ0-9])"  # items start with a capital (or a quote/number)
_ROMAN = re.compile(r"^(?P<label>[IVXL]{1,6})\s*[.:]\s*" + _ITEM_START)
_ARABIC = re.compile(r"^(?P<label>\d{1,2})\s*\.\s+" + _ITEM_START)
_LETTER = re.compile(r"^(?P<label>[a-zA-ZđĐ])\s*\)\s*" + r"(?=[\"“'(]?[A-ZÀ-ỸĐa-zà-ỹđ0-9])")
_BULLET = re.compile(r"^(?P<label>[-–•])\s*" + _ITEM_START)
_PLUS = re.compile(r"^(?P<label>\+)\s*" + _ITEM_START)

KINDS = ("roman", "arabic", "letter", "bullet", "plus")
_RANK = {k: i for i, k in enumerate(KINDS)}


@dataclass
class Node:
    kind: str  # one of KINDS, or "root"
    label: str  # as used in ids: "IV", "1", "a", "-3"
    line: int  # 1-based source line of the marker
    lines: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)
    end_line: int = 0

    @property
    def text(self) -> str:
        return join_lines(self.lines)

    @property
    def path(self) -> str:
        labels: list[str] = []
        node: Node | None = self
        while node is not None and node.kind != "root":
            labels.append(node.label)
            node = node.parent
        return ".".join(reversed(labels))

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def leaves(self) -> list[Node]:
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]

    def find(self, path: str) -> Node | None:
        for node in self.walk():
            if node.path == path:
                return node
        return None


def join_lines(lines: list[str]) -> str:
    out = ""
    for line in lines:
        if not out:
            out = line
        elif re.search(r"[A-ZĐ][/-]$", out):  # "106/KH-" + "UBND": a code broken at a line end
            out += line
        else:
            out += " " + line
    return re.sub(r"\s+", " ", out).strip()


def _match_marker(text: str) -> tuple[str, str, str] | None:
    for kind, pattern in (
        ("roman", _ROMAN),
        ("arabic", _ARABIC),
        ("letter", _LETTER),
        ("bullet", _BULLET),
        ("plus", _PLUS),
    ):
        m = pattern.match(text)
        if m:
            return kind, m.group("label"), text[m.end() :].strip()
    return None


def _letter_label(raw: str, previous: Node | None) -> str:
    """Fold OCR variants (C for c, d for a second d) onto the expected letter."""
    label = raw.lower()
    if previous is not None and previous.kind == "letter" and previous.label in VI_LETTERS:
        expected = VI_LETTERS[VI_LETTERS.index(previous.label) + 1 :][:1]
        if label == "d" and previous.label == "d":
            return "đ"  # "đ)" read as "d)" by OCR
        if expected and label != expected and unicodedata.normalize("NFD", label)[0] == expected:
            return expected
    return label


def parse_outline(lines: list[Line]) -> Node:
    """Build the outline tree; text before the first marker stays in root.lines."""
    root = Node(kind="root", label="", line=lines[0].number if lines else 1)
    stack: list[Node] = [root]
    bullet_counts: dict[int, int] = {}
    for line in lines:
        marker = _match_marker(line.text)
        if marker is not None:
            kind, label, rest = marker
            # A Roman "I." wrongly matched inside a sentence is rare; a one-letter label
            # "I" at letter level is handled by preferring roman only in upper case.
            rank = _RANK[kind]
            while len(stack) > 1 and _RANK[stack[-1].kind] >= rank:
                stack.pop()
            parent = stack[-1]
            siblings = [c for c in parent.children if c.kind == kind]
            if kind == "letter":
                label = _letter_label(label, siblings[-1] if siblings else None)
            elif kind in ("bullet", "plus"):
                key = id(parent)
                bullet_counts[key] = bullet_counts.get(key, 0) + 1
                label = f"-{bullet_counts[key]}" if kind == "bullet" else f"+{bullet_counts[key]}"
            node = Node(kind=kind, label=label, line=line.number, parent=parent)
            if rest:
                node.lines.append(rest)
            node.end_line = line.number
            parent.children.append(node)
            stack.append(node)
        else:
            stack[-1].lines.append(line.text)
            stack[-1].end_line = line.number
    return root
