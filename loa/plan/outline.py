"""Parse the numbered outline of a Vietnamese administrative document.

Markers, outermost first: Roman sections (I.), arabic items (1.), two-level items (1.1.),
Vietnamese letters (a) b) ... đ) e) g)), dash/dot bullets (-, •) and plus bullets (+).
A line without a marker continues the current item: PDF copy-out breaks sentences
anywhere. A marker that does not follow its siblings' sequence (a wrapped line that
happens to start with "2.") is read as text, not as an item.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from loa.plan.reader import Line

# Vietnamese list letters: no f, j, w, z; đ follows d.
VI_LETTERS = "abcdđeghiklmnopqrstuvxy"

_CAP = r"(?=[\"“'(«]?[A-ZÀ-ỸĐ0-9])"  # items start with a capital (or a quote/number)
_ANY = r"(?=[\"“'(«]?[A-ZÀ-ỸĐa-zà-ỹđ0-9])"
_PATTERNS = (
    ("roman", re.compile(r"^(?:PHẦN\s+|Phần\s+|MỤC\s+|Mục\s+)?(?P<label>[IVXL]{1,6})\s*[.:/–-]\s*"
                         + _CAP)),
    ("decimal2", re.compile(r"^(?P<label>\d{1,2}\.\d{1,2})\.?\s+" + _CAP)),
    # "1/ Nội dung" takes a space after the slash: "42/2022/NĐ-CP" at a line start is text.
    ("arabic", re.compile(r"^(?P<label>\d{1,2})\s*(?:[.)]\s*|/\s+)" + _CAP)),
    ("letter", re.compile(r"^(?P<label>[a-zđA-ZĐ])\s*\)\s*" + _ANY)),
    ("letter", re.compile(r"^(?P<label>[a-zđ])\s*\.\s+" + _CAP)),
    ("bullet", re.compile(r"^(?P<label>[-–—•●▪◦*])\s*" + _CAP)),
    ("plus", re.compile(r"^(?P<label>\+)\s*" + _CAP)),
)
KINDS = ("roman", "arabic", "decimal2", "letter", "bullet", "plus")
_RANK = {k: i for i, k in enumerate(KINDS)}
_ROMAN_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50}


@dataclass
class Node:
    kind: str  # one of KINDS, or "root"
    label: str  # as used in ids: "IV", "1", "a", "-3"
    line: int  # 1-based source line (paragraph, page) of the marker
    lines: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)
    end_line: int = 0
    unit: str = "dòng"

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


_CODE_BREAK = re.compile(r"[A-ZĐ][/-]")


def join_lines(lines: list[str]) -> str:
    parts: list[str] = []
    tail = ""  # the text's last two characters: only they decide the join
    for line in lines:
        if not parts:
            parts.append(line)
        elif _CODE_BREAK.fullmatch(tail):  # "106/KH-" + "UBND": a code broken at a line end
            parts.append(line)
        else:
            parts.append(" " + line)
        tail = (tail + parts[-1])[-2:]
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def roman_value(s: str) -> int:
    total = 0
    for i, ch in enumerate(s):
        v = _ROMAN_VALUES[ch]
        nxt = _ROMAN_VALUES[s[i + 1]] if i + 1 < len(s) else 0
        total += -v if v < nxt else v
    return total


def _ordinal(kind: str, label: str) -> int | None:
    if kind == "roman":
        return roman_value(label)
    if kind == "arabic":
        return int(label)
    if kind == "decimal2":
        return int(label.split(".")[-1])
    if kind == "letter":
        return VI_LETTERS.index(label) + 1 if label in VI_LETTERS else None
    return None


def _match_marker(text: str) -> tuple[str, str, str] | None:
    for kind, pattern in _PATTERNS:
        m = pattern.match(text)
        if m:
            return kind, m.group("label"), text[m.end():].strip()
    return None


def _fix_letter(label: str, previous: str | None) -> str:
    """Fold OCR variants onto the expected letter: C) for c), d) for a second d)."""
    label = label.lower()
    if previous is None or previous not in VI_LETTERS:
        return label
    expected = VI_LETTERS[VI_LETTERS.index(previous) + 1:][:1]
    if label == "d" and previous == "d":
        return "đ"
    if label == previous and expected:
        return expected  # a duplicated marker: "b) … b)" is b) then c)
    return label


def _accept(kind: str, label: str, last: Node | None, top_level: bool,
            turns_up: Callable[[int], bool]) -> bool:
    """Does this marker continue (or plausibly start) its list?

    `last` is the list's previous item. A skipped number is accepted only if the skipped
    one does not turn up before the next item of a higher rank (`turns_up`), so a wrapped
    line starting "3. Điều 5" inside item 1 stays text.
    """
    n = _ordinal(kind, label)
    if n is None:
        return kind in ("bullet", "plus")
    if last is None:
        # A pasted excerpt may start at "IV."; nested lists start at 1-3 ("4. b)" with no a).
        return top_level or n <= 3
    prev = _ordinal(kind, last.label) or 0
    if n == prev + 1:
        return True
    if n == prev + 2:
        return not turns_up(prev + 1)
    return False


class _Ahead:
    """Answers "does marker (kind, n) follow line i before a marker of a higher rank?" by
    lookup, so a document of many items is not rescanned for each one."""

    def __init__(self, markers: list[tuple[str, str] | None]):
        size = len(markers)
        self.stop: list[list[int]] = []  # [rank][i]: next line holding a higher-rank marker
        for rank in range(len(KINDS)):
            stop, nxt = [size] * size, size
            for i in range(size - 1, -1, -1):
                stop[i] = nxt
                m = markers[i]
                if m is not None and _RANK[m[0]] < rank:
                    nxt = i
            self.stop.append(stop)
        self.where: dict[tuple[str, int], list[int]] = {}  # (kind, ordinal) -> lines, sorted
        for i, m in enumerate(markers):
            n = _ordinal(*m) if m is not None else None
            if n is not None:
                self.where.setdefault((m[0], n), []).append(i)

    def turns_up(self, i: int, kind: str, n: int) -> bool:
        where = self.where.get((kind, n), ())
        j = bisect.bisect_right(where, i)
        return j < len(where) and where[j] < self.stop[_RANK[kind]][i]


def parse_outline(lines: list[Line]) -> Node:
    """Build the outline tree; text before the first marker stays in root.lines."""
    unit = lines[0].unit if lines else "dòng"
    root = Node(kind="root", label="", line=lines[0].number if lines else 1, unit=unit)
    stack: list[Node] = [root]
    bullet_counts: dict[int, int] = {}
    last_of: dict[tuple[int, str], Node] = {}  # (id(parent), kind) -> its latest child
    candidates = [_match_marker(line.text) for line in lines]
    markers = [(m[0], m[1].lower() if m[0] == "letter" else m[1]) if m else None
               for m in candidates]
    ahead = _Ahead(markers)
    for i, line in enumerate(lines):
        marker = candidates[i]
        node = None
        if marker is not None:
            kind, label, rest = marker
            rank = _RANK[kind]
            depth = len(stack)
            while depth > 1 and _RANK[stack[depth - 1].kind] >= rank:
                depth -= 1
            parent = stack[depth - 1]
            last = last_of.get((id(parent), kind))
            if kind == "letter":
                label = _fix_letter(label, last.label if last is not None else None)
            if kind == "decimal2":
                label = label.split(".")[1]  # "2.3" under "2." is item 3
            # "2025 -\n- 2030": a range broken at its dash is text, not a bullet
            wrapped_range = (kind == "bullet" and rest[:1].isdigit() and i > 0
                             and lines[i - 1].text[-1:].isdigit())
            if not wrapped_range and _accept(
                    kind, label, last, parent.kind == "root",
                    lambda n, i=i, kind=kind: ahead.turns_up(i, kind, n)):
                del stack[depth:]
                if kind in ("bullet", "plus"):
                    key = id(parent)
                    bullet_counts[key] = bullet_counts.get(key, 0) + 1
                    label = ("-" if kind == "bullet" else "+") + str(bullet_counts[key])
                node = Node(kind=kind, label=label, line=line.number, parent=parent,
                            unit=line.unit)
                if rest:
                    node.lines.append(rest)
                node.end_line = line.number
                parent.children.append(node)
                last_of[(id(parent), kind)] = node
                stack.append(node)
        if node is None:
            stack[-1].lines.append(line.text)
            stack[-1].end_line = line.number
    return root


def marker(node: Node) -> str:
    """How the item's marker is written: "IV.", "1.", "a)", "-", "+"."""
    if node.kind in ("bullet", "plus"):
        return node.label[0]
    if node.kind == "letter":
        return node.label + ")"
    if node.kind == "decimal2" and node.parent is not None:
        return f"{node.parent.label}.{node.label}."
    return node.label + "."


def reflow(root: Node) -> str:
    """The cleaned document: one paragraph per item, markers kept, broken lines joined."""
    parts = [join_lines(root.lines)] if root.lines else []
    for node in root.walk():
        if node.kind != "root":
            parts.append(f"{marker(node)} {node.text}".rstrip())
    return "\n".join(parts)
