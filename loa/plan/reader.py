"""Read plan files (TXT copied from PDF, DOCX, PDF) into numbered, cleaned text lines."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from loa.errors import LoaError

_PAGE_NUMBER = re.compile(r"^\s*(?:-\s*)?(?:trang\s+)?\d{1,3}(?:\s*/\s*\d{1,3})?(?:\s*-)?\s*$",
                          re.IGNORECASE)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000\f\v]+")
# An item marker glued after a sentence end, as paragraph-merging copies leave them.
_INLINE_MARKER = re.compile(
    r"(?<=[.;:])\s+(?=(?:[a-zđ]\)|\d{1,2}\.|[IVX]{1,5}\.)\s+[A-ZĐÀ-Ỹ])"
)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based: line of a TXT, paragraph of a DOCX, page of a PDF
    text: str
    unit: str = "dòng"  # how an officer finds it: "dòng", "đoạn", "trang"


def read_plan_lines(path: str | Path) -> list[Line]:
    """Cleaned lines of a plan: blank lines, page numbers and running headers dropped.

    Blank lines are dropped because PDF copy-out puts them inside paragraphs, so they
    mean nothing; the outline parser joins what belongs together.
    """
    path = Path(path)
    if not path.exists():
        raise LoaError("không tìm thấy tệp kế hoạch.", path)
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _read_docx(path)
    if suffix == ".pdf":
        return _read_pdf(path)
    if suffix == ".doc":
        raise LoaError("tệp .doc (Word cũ) chưa đọc được; hãy mở bằng Word hoặc LibreOffice "
                       "và lưu lại thành .docx.", path)
    if suffix not in {".txt", ".text", ""}:
        raise LoaError(f"chưa đọc được tệp dạng '{suffix}' (dùng .txt, .docx hoặc .pdf).", path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoaError(
            "tệp không phải văn bản UTF-8; hãy lưu lại với bảng mã UTF-8.", path, line
        ) from None
    return clean_lines(text)


def clean_text_line(raw: str) -> str:
    return unicodedata.normalize("NFC", _SPACES.sub(" ", raw)).strip()


def clean_lines(text: str, unit: str = "dòng", numbers: list[int] | None = None) -> list[Line]:
    out: list[Line] = []
    for i, raw_line in enumerate(text.splitlines()):
        number = numbers[i] if numbers else i + 1
        line = clean_text_line(raw_line)
        if not line or _PAGE_NUMBER.match(line):
            continue
        for part in _INLINE_MARKER.split(line):
            if part.strip():
                out.append(Line(number, part.strip(), unit))
    return out


# --- DOCX --------------------------------------------------------------------------------------

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _roman(n: int) -> str:
    vals = [(10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
    out = ""
    for v, s in vals:
        while n >= v:
            out, n = out + s, n - v
    return out


_LETTERS = "abcdefghijklmnopqrstuvwxyz"  # Word's own lists have no đ: ids follow the screen


def _format_number(fmt: str, n: int) -> str:
    if fmt == "decimal":
        return str(n)
    if fmt == "lowerLetter":
        return _LETTERS[(n - 1) % len(_LETTERS)]
    if fmt == "upperLetter":
        return _LETTERS[(n - 1) % len(_LETTERS)].upper()
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    return ""


class _Numbering:
    """Resolves Word's automatic list numbering, which python-docx leaves as numPr ids."""

    def __init__(self, doc):
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[tuple[str, int], int] = {}
        try:
            root = doc.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract = {}
        for a in root.findall(f"{_W}abstractNum"):
            levels = {}
            for lvl in a.findall(f"{_W}lvl"):
                ilvl = int(lvl.get(f"{_W}ilvl"))
                fmt = lvl.find(f"{_W}numFmt")
                text = lvl.find(f"{_W}lvlText")
                start = lvl.find(f"{_W}start")
                levels[ilvl] = (
                    fmt.get(f"{_W}val") if fmt is not None else "decimal",
                    text.get(f"{_W}val") if text is not None else f"%{ilvl + 1}.",
                    int(start.get(f"{_W}val")) if start is not None else 1,
                )
            abstract[a.get(f"{_W}abstractNumId")] = levels
        for num in root.findall(f"{_W}num"):
            ref = num.find(f"{_W}abstractNumId")
            if ref is None:
                continue
            overrides = {}
            for ov in num.findall(f"{_W}lvlOverride"):
                start = ov.find(f"{_W}startOverride")
                if start is not None:
                    overrides[int(ov.get(f"{_W}ilvl"))] = int(start.get(f"{_W}val"))
            for ilvl, (fmt, text, start) in abstract.get(ref.get(f"{_W}val"), {}).items():
                self.levels[(num.get(f"{_W}numId"), ilvl)] = (fmt, text,
                                                              overrides.get(ilvl, start))

    @staticmethod
    def _numpr(paragraph):
        """The paragraph's own numbering, else its style's (List Number, headings …)."""
        ppr = paragraph._p.pPr
        if ppr is not None and ppr.numPr is not None and ppr.numPr.numId is not None:
            return ppr.numPr
        style = paragraph.style
        while style is not None:
            sppr = style.element.pPr
            if sppr is not None and sppr.numPr is not None and sppr.numPr.numId is not None:
                return sppr.numPr
            style = style.base_style
        return None

    def label(self, paragraph) -> str:
        numpr = self._numpr(paragraph)
        if numpr is None:
            return ""
        num_id = str(numpr.numId.val)
        ilvl = int(numpr.ilvl.val) if numpr.ilvl is not None else 0
        spec = self.levels.get((num_id, ilvl))
        if spec is None:
            return ""
        fmt, text, start = spec
        key = (num_id, ilvl)
        self.counters[key] = self.counters.get(key, start - 1) + 1
        for (nid, lvl) in list(self.counters):  # a new item restarts its sub-levels
            if nid == num_id and lvl > ilvl:
                del self.counters[(nid, lvl)]
        if fmt == "bullet":
            return "-"

        def repl(m: re.Match) -> str:
            lvl = int(m.group(1)) - 1
            lvl_fmt = self.levels.get((num_id, lvl), ("decimal", "", 1))[0]
            return _format_number(lvl_fmt, self.counters.get((num_id, lvl), 1))

        return re.sub(r"%(\d)", repl, text)


def _read_docx(path: Path) -> list[Line]:
    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError:  # pragma: no cover - a dependency of loa
        raise LoaError("thiếu thư viện python-docx; chạy lại scripts/setup.sh.", path) from None
    try:
        doc = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise LoaError(f"không mở được tệp Word ({exc}).", path) from None
    numbering = _Numbering(doc)
    texts: list[str] = []
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    def paragraph_text(p: Paragraph) -> str:
        label = numbering.label(p)
        return f"{label} {p.text}" if label else p.text

    # Body order matters: the header block is often a table before the first paragraph.
    for child in doc.element.body.iterchildren():
        if child.tag == f"{_W}p":
            texts.append(paragraph_text(Paragraph(child, doc)))
        elif child.tag == f"{_W}tbl":
            for row in Table(child, doc).rows:
                for cell in row.cells:
                    texts.extend(paragraph_text(p) for p in cell.paragraphs)
    # One docx paragraph may hold soft line breaks; keep its number for every piece.
    lines, numbers = [], []
    for i, t in enumerate(texts, start=1):
        for piece in t.split("\n"):
            lines.append(piece)
            numbers.append(i)
    return clean_lines("\n".join(lines), unit="đoạn", numbers=numbers)


# --- PDF ---------------------------------------------------------------------------------------

def _read_pdf(path: Path) -> list[Line]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover
        raise LoaError("thiếu thư viện pypdf; chạy lại scripts/setup.sh.", path) from None
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise LoaError(f"không đọc được tệp PDF ({exc}).", path) from None
    if not any(p.strip() for p in pages):
        raise LoaError("tệp PDF không có chữ (có thể là ảnh quét); hãy nhận dạng chữ (OCR) "
                       "rồi chép ra tệp .txt.", path)
    # A running header or footer is a line that repeats at the top or bottom of most pages.
    edges: Counter[str] = Counter()
    page_lines = [[clean_text_line(x) for x in p.splitlines() if x.strip()] for p in pages]
    for pl in page_lines:
        for line in set(pl[:2] + pl[-2:]):
            edges[re.sub(r"\d+", "#", line)] += 1
    running = {k for k, n in edges.items() if len(pages) >= 3 and n >= 0.6 * len(pages)}
    lines, numbers = [], []
    for page_no, pl in enumerate(page_lines, start=1):
        for i, line in enumerate(pl):
            at_edge = i < 2 or i >= len(pl) - 2
            if at_edge and re.sub(r"\d+", "#", line) in running:
                continue
            lines.append(line)
            numbers.append(page_no)
    return clean_lines("\n".join(lines), unit="trang", numbers=numbers)
