"""Read plan files (TXT copied from PDF, DOCX, PDF) into numbered, cleaned text lines."""

from __future__ import annotations

import codecs
import logging
import re
import signal
import stat
import threading
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from loa.errors import LoaError
from loa.plan.ocr import IMAGE_SUFFIXES, OcrInfo, Progress

log = logging.getLogger(__name__)

_PAGE_NUMBER = re.compile(r"^\s*(?:-\s*)?(?:trang\s+)?\d{1,3}(?:\s*/\s*\d{1,3})?(?:\s*-)?\s*$",
                          re.IGNORECASE)
_SPACES = re.compile(r"[\s\u200b]+")  # every Unicode space, and the zero-width one
# Control characters mean nothing in a plan and break the formats its text goes on to.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# An item marker glued after a sentence end, as paragraph-merging copies leave them.
_INLINE_MARKER = re.compile(
    r"(?<=[.;:])\s+(?=(?:[a-zđ]\)|\d{1,2}\.|[IVX]{1,5}\.)\s+[A-ZĐÀ-Ỹ])"
)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based: line of a TXT, paragraph of a DOCX, page of a PDF
    text: str
    unit: str = "dòng"  # how an officer finds it: "dòng", "đoạn", "trang"


# A real plan is tens of pages, well under 1 MB of text; these bounds keep a broken or
# hostile file from taking the machine's memory or time, and are far above any real plan.
MAX_TEXT_BYTES = 10_000_000  # a .txt, and the text taken out of a .docx or .pdf
MAX_FILE_BYTES = 50_000_000  # a .docx or .pdf, pictures included
MAX_XML_BYTES = 50_000_000  # a .docx's XML parts once unzipped (a zip bomb is far bigger)
MAX_PDF_PAGES = 1000
MAX_STREAM_BYTES = 20_000_000  # one PDF stream once decompressed
READ_SECONDS = 120  # CPU seconds: a real plan takes one, a 10 MB text about 30

_MB = 1_000_000


class _Expired(BaseException):
    """Raised by the alarm; a BaseException so that parsers' `except Exception` let it by."""


@contextmanager
def time_limit(path: Path, seconds: float | None = None):
    """Stop reading `path` after `seconds` (READ_SECONDS) of CPU time with a clear error.

    CPU time, not the clock: a parser that spins burns it, a busy machine does not.
    Main thread on POSIX only; elsewhere, or when the timer is already in use, a no-op."""
    seconds = READ_SECONDS if seconds is None else seconds
    if (not hasattr(signal, "setitimer") or threading.current_thread() is not
            threading.main_thread() or signal.getsignal(signal.SIGPROF) != signal.SIG_DFL):
        yield
        return

    def expire(signum, frame):
        raise _Expired

    signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    except _Expired:
        raise LoaError(f"đọc tệp mất quá {seconds:g} giây mà chưa xong; tệp có thể bị hỏng. "
                       "Hãy mở bằng Word hoặc LibreOffice, lưu lại rồi thử lại.", path) from None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, signal.SIG_DFL)


@contextmanager
def time_limit_paused():
    """Stop time_limit's clock meanwhile: an OCR page's preparation takes CPU seconds on a Pi
    and has its own bounds (pixels, per-page timeouts), so a long scan is not "damaged"."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    left, _ = signal.setitimer(signal.ITIMER_PROF, 0)
    try:
        yield
    finally:
        if left:
            signal.setitimer(signal.ITIMER_PROF, left)


def _too_big(size: int, limit: int, what: str) -> str:
    return (f"{what} quá lớn ({size / _MB:.1f} MB, tối đa {limit // _MB} MB); kế hoạch thật chỉ "
            "vài trăm KB, hãy kiểm tra lại có đúng tệp kế hoạch không.")


@dataclass
class PlanText:
    """A plan's cleaned lines, and what OCR read of it (None when all pages had text)."""

    lines: list[Line]
    ocr: OcrInfo | None = None


def read_plan_lines(path: str | Path | Sequence[str | Path],
                    progress: Progress | None = None) -> list[Line]:
    """Cleaned lines of a plan: blank lines, page numbers and running headers dropped.

    Blank lines are dropped because PDF copy-out puts them inside paragraphs, so they
    mean nothing; the outline parser joins what belongs together. Scanned pages and photos
    are read by OCR, `progress(done, total)` called as its pages go.
    """
    return read_plan_text(path, progress).lines


def _paths(path: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(path, (str, Path)):
        return [Path(path)]
    paths = [Path(p) for p in path]
    if not paths:
        raise LoaError("chưa chọn tệp kế hoạch nào.")
    return paths


def read_plan_text(path: str | Path | Sequence[str | Path],
                   progress: Progress | None = None) -> PlanText:
    """Like read_plan_lines, with what OCR read: one file, or photos of the pages in order."""
    paths = _paths(path)
    for p in paths:
        _check_file(p)
    if len(paths) > 1:
        for p in paths:
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                raise LoaError("khi chọn nhiều tệp, mỗi tệp phải là ảnh chụp một trang kế hoạch "
                               "(JPG, PNG, TIFF, WebP, HEIC) theo đúng thứ tự trang; tệp này "
                               f"là '{p.suffix or 'không đuôi'}'.", p)
    first = paths[0]
    suffix = first.suffix.lower()
    try:
        with time_limit(first):
            if suffix in IMAGE_SUFFIXES:
                return _read_images(paths, progress)
            if suffix in _CONVERTED:
                return _read_converted(first, progress)
            if suffix == ".docx":
                return PlanText(_read_docx(first))
            if suffix == ".pdf":
                return _read_pdf(first, progress)
            return PlanText(_read_text(first))
    except PermissionError as exc:
        raise LoaError("không có quyền đọc tệp kế hoạch.", exc.filename or first) from None
    except MemoryError:
        raise LoaError("không đủ bộ nhớ để đọc tệp; tệp quá lớn hoặc bị hỏng.", first) from None
    except OSError as exc:
        raise LoaError(f"không đọc được tệp kế hoạch ({exc.strerror or exc}).",
                       exc.filename or first) from None


def _check_file(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise LoaError("không tìm thấy tệp kế hoạch.", path) from None
    except OSError as exc:
        raise LoaError(f"không mở được tệp kế hoạch ({exc.strerror}).", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise LoaError("đây là một thư mục, không phải tệp kế hoạch.", path)
    if not stat.S_ISREG(st.st_mode):
        raise LoaError("đây không phải tệp thường (thiết bị, ống dẫn …); hãy chỉ đến tệp kế "
                       "hoạch.", path)
    suffix = path.suffix.lower()
    if suffix not in {".txt", ".text", "", ".docx", ".pdf"} | _CONVERTED | IMAGE_SUFFIXES:
        raise LoaError(f"chưa đọc được tệp dạng '{suffix}' (dùng .txt, .docx, .doc, .odt, .rtf, "
                       ".pdf hoặc ảnh chụp .jpg, .png).", path)
    limit = MAX_TEXT_BYTES if suffix in (".txt", ".text", "") else MAX_FILE_BYTES
    if st.st_size > limit:
        raise LoaError(_too_big(st.st_size, limit, "tệp"), path)
    if st.st_size == 0:
        raise LoaError("tệp kế hoạch trống (0 byte).", path)


# Read through LibreOffice (loa/plan/convert.py), after a look at what they really hold.
_CONVERTED = {".doc", ".odt", ".rtf"}


def _read_converted(path: Path, progress: Progress | None = None) -> PlanText:
    from loa.plan import convert

    with path.open("rb") as f:
        head = f.read(4096)
    kind = convert.sniff(path, head)
    if kind == convert.DOCX:  # a .docx under an old name
        return PlanText(_read_docx(path))
    if kind == convert.PDF:
        return _read_pdf(path, progress)
    if kind == convert.TEXT:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise LoaError(_too_big(path.stat().st_size, MAX_TEXT_BYTES, "tệp"), path)
        return PlanText(_read_text(path))
    if kind == convert.ODT:
        _check_odt_zip(path)
    with convert.as_docx(path, kind) as docx_path:
        try:
            return PlanText(_read_docx(docx_path))
        except LoaError as exc:  # name the officer's file, not the temporary copy
            first = exc.problems[0]
            raise LoaError(first.message, path, first.line, first.unit) from None


_SIGNATURES = ((b"%PDF", ".pdf"), (b"PK\x03\x04", ".docx"),
               (b"\xd0\xcf\x11\xe0", ".doc"))  # .doc: an OLE file, as old Word writes


def _read_text(path: Path) -> list[Line]:
    raw = path.read_bytes()
    for magic, kind in _SIGNATURES:
        if raw.startswith(magic):
            raise LoaError(f"tệp này thực ra là tệp {kind}, không phải văn bản thuần; hãy đặt "
                           f"đúng đuôi {kind} cho tệp.", path)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:  # Notepad's "Unicode" is UTF-16 with a byte-order mark
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            raise LoaError("tệp UTF-16 bị hỏng; hãy lưu lại với bảng mã UTF-8.", path) from None
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise LoaError(
                "tệp không phải văn bản UTF-8 (có thể là bảng mã cũ như TCVN3 hay "
                "Windows-1258, hoặc không phải tệp chữ); hãy mở bằng trình soạn thảo và lưu "
                "lại với bảng mã UTF-8.", path, line
            ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise LoaError("tệp có ký tự rỗng (NUL): đây không phải tệp văn bản thuần; hãy chép "
                       "nội dung kế hoạch ra tệp .txt.", path, text.count("\n", 0, nul) + 1)
    # Lines as an editor numbers them: a form feed or U+2028 is no line break there.
    return clean_lines(text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_text_line(raw: str) -> str:
    return unicodedata.normalize("NFC", _SPACES.sub(" ", _CONTROLS.sub("", raw))).strip()


def clean_lines(text: str, unit: str = "dòng", numbers: list[int] | None = None) -> list[Line]:
    out: list[Line] = []
    for i, raw_line in enumerate(text.split("\n")):  # callers give "\n" line ends only
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
    if not 0 < n < 4000:  # Roman numerals stop there; a broken file may ask for more
        return str(n)
    vals = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]
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


class _BadNumbering(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value


def _int(value) -> int:
    """A number from the numbering XML; a broken file's "abc" is reported, not a traceback."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadNumbering(value) from None


class _Numbering:
    """Resolves Word's automatic list numbering, which python-docx leaves as numPr ids."""

    def __init__(self, doc):
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[str, dict[int, int]] = {}  # numId -> level -> current number
        try:
            root = doc.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        abstract = {}
        for a in root.findall(f"{_W}abstractNum"):
            levels = {}
            for lvl in a.findall(f"{_W}lvl"):
                ilvl = _int(lvl.get(f"{_W}ilvl"))
                fmt = lvl.find(f"{_W}numFmt")
                text = lvl.find(f"{_W}lvlText")
                start = lvl.find(f"{_W}start")
                levels[ilvl] = (
                    fmt.get(f"{_W}val") if fmt is not None else "decimal",
                    text.get(f"{_W}val") or "" if text is not None else f"%{ilvl + 1}.",
                    _int(start.get(f"{_W}val")) if start is not None else 1,
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
                    overrides[_int(ov.get(f"{_W}ilvl"))] = _int(start.get(f"{_W}val"))
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
        seen = set()
        while style is not None and style.style_id not in seen:  # a broken file may loop
            seen.add(style.style_id)
            sppr = style.element.pPr
            if sppr is not None and sppr.numPr is not None and sppr.numPr.numId is not None:
                return sppr.numPr
            style = style.base_style
        return None

    def label(self, paragraph) -> str:
        numpr = self._numpr(paragraph)
        if numpr is None:
            return ""
        num_id = str(_int(numpr.numId.get(f"{_W}val")))
        ilvl = _int(numpr.ilvl.get(f"{_W}val")) if numpr.ilvl is not None else 0
        spec = self.levels.get((num_id, ilvl))
        if spec is None:
            return ""
        fmt, text, start = spec
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, start - 1) + 1
        for lvl in [lvl for lvl in counters if lvl > ilvl]:  # a new item restarts sub-levels
            del counters[lvl]
        if fmt == "bullet":
            return "-"

        def repl(m: re.Match) -> str:
            lvl = int(m.group(1)) - 1
            lvl_fmt = self.levels.get((num_id, lvl), ("decimal", "", 1))[0]
            return _format_number(lvl_fmt, counters.get(lvl, 1))

        return re.sub(r"%(\d)", repl, text)


def _damaged(kind: str) -> str:
    verb = "không mở được" if kind == "Word" else "không đọc được"
    return (f"{verb} tệp {kind}: tệp bị hỏng hoặc không đúng định dạng ({{}}); hãy mở bằng "
            f"{'Word hoặc LibreOffice' if kind == 'Word' else 'trình đọc PDF'} rồi lưu lại "
            f"{'thành .docx' if kind == 'Word' else 'hoặc chép chữ ra tệp .txt'}.")


def _what(exc: Exception) -> str:
    """The parser's failure in the officer's words; the detail goes to the technical log."""
    return "thiếu một phần bên trong tệp" if isinstance(exc, KeyError) else "cấu trúc bên trong sai"


def _check_docx_zip(path: Path) -> None:
    """A .docx is a zip: refuse a non-zip or a zip bomb before python-docx unpacks it."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise LoaError(_damaged("Word").format("không phải tệp nén .docx"), path) from None
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("word/") for n in names):
        raise LoaError(_damaged("Word").format("thiếu phần nội dung word/document.xml"),
                       path) from None
    xml = sum(i.file_size for i in infos if i.filename.endswith((".xml", ".rels")))
    if xml > MAX_XML_BYTES:
        raise LoaError(_too_big(xml, MAX_XML_BYTES, "nội dung tệp Word khi giải nén"), path)
    total = sum(i.file_size for i in infos)
    if total > 4 * MAX_FILE_BYTES:
        raise LoaError(_too_big(total, 4 * MAX_FILE_BYTES, "tệp Word khi giải nén"), path)


def _check_odt_zip(path: Path) -> None:
    """An .odt is a zip too: a bomb is refused before LibreOffice spends minutes and
    gigabytes of memory unpacking it (its .docx would be refused only afterwards)."""
    with zipfile.ZipFile(path) as z:  # convert.sniff has opened it already
        infos = z.infolist()
    xml = sum(i.file_size for i in infos if i.filename.endswith(".xml"))
    if xml > MAX_XML_BYTES:
        raise LoaError(_too_big(xml, MAX_XML_BYTES, "nội dung tệp OpenDocument khi giải nén"),
                       path)
    total = sum(i.file_size for i in infos)
    if total > 4 * MAX_FILE_BYTES:
        raise LoaError(_too_big(total, 4 * MAX_FILE_BYTES, "tệp OpenDocument khi giải nén"),
                       path)


def _read_docx(path: Path) -> list[Line]:
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
        from lxml.etree import XMLSyntaxError
    except ImportError:  # pragma: no cover - a dependency of loa
        raise LoaError("thiếu thư viện python-docx; chạy lại scripts/setup.sh.", path) from None
    _check_docx_zip(path)
    texts: list[str] = []
    in_body = False  # past the numbering definitions: a bad number is then a paragraph's
    try:
        doc = docx.Document(str(path))
        numbering = _Numbering(doc)
        in_body = True

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
    except _BadNumbering as exc:
        raise LoaError(_damaged("Word").format(
            f"danh sách đánh số tự động có giá trị '{str(exc.value)[:40]}' không phải số"),
            path, len(texts) + 1 if in_body else None, "đoạn") from None
    except XMLSyntaxError as exc:
        log.info("docx %s: %s", path, exc)
        raise LoaError(_damaged("Word").format(
            f"phần XML bên trong sai cấu trúc ở dòng {exc.lineno}"), path) from None
    except (LoaError, MemoryError):  # MemoryError: read_plan_lines words it
        raise
    except Exception as exc:  # python-docx fails in many ways on a broken file
        log.info("docx %s: %r", path, exc)
        raise LoaError(_damaged("Word").format(_what(exc)), path) from None
    size = sum(len(t) for t in texts)
    if size > MAX_TEXT_BYTES:
        raise LoaError(_too_big(size, MAX_TEXT_BYTES, "chữ trong tệp Word"), path)
    # One docx paragraph may hold soft line breaks; keep its number for every piece.
    lines, numbers = [], []
    for i, t in enumerate(texts, start=1):
        for piece in t.splitlines():  # every line break, as clean_lines splits them
            lines.append(piece)
            numbers.append(i)
    return clean_lines("\n".join(lines), unit="đoạn", numbers=numbers)


# --- PDF ---------------------------------------------------------------------------------------

MIN_PAGE_LETTERS = 25  # fewer letters in a page's text layer: a scan (maybe a stamped number)
MAX_OCR_PAGES = 100  # a plan is 2-20 pages; OCR takes seconds a page


def _letters(text: str) -> int:
    return sum(c.isalpha() for c in text)


def _has_image(page, depth: int = 0) -> bool:
    """Does the page draw a picture (a scan) — directly or inside a form?"""
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        if xobjects is None:
            return False
        for ref in xobjects.get_object().values():
            obj = ref.get_object()
            kind = obj.get("/Subtype")
            if kind == "/Image":
                return True
            if kind == "/Form" and depth < 3 and _has_image(obj, depth + 1):
                return True
    except Exception as exc:  # noqa: BLE001 - a broken resource dictionary: no picture found
        log.info("pdf resources: %r", exc)
    return False


def _check_raster_size(page, path: Path, number: int) -> None:
    """A page to rasterize for OCR must fit in memory: a page box made huge (a hostile
    file) would have pdftoppm write gigabytes of pixels before any image check."""
    from loa.plan import ocr

    try:
        unit = float(page.get("/UserUnit", 1) or 1)
        box = page.mediabox
        width, height = abs(float(box.width)) * unit, abs(float(box.height)) * unit
    except Exception as exc:  # noqa: BLE001 - an odd box: pdftoppm says what it can
        log.info("pdf %s page %s box: %r", path, number, exc)
        return
    pixels = width * height * (ocr.DPI / 72) ** 2
    if pixels > ocr.MAX_PIXELS:
        raise LoaError(f"trang quá lớn để nhận dạng chữ ({width / 72 * 2.54:.0f}×"
                       f"{height / 72 * 2.54:.0f} cm); tệp có thể bị hỏng hoặc cố ý làm to, hãy "
                       "quét lại kế hoạch ở khổ A4.", path, number, "trang")


def _read_pdf(path: Path, progress: Progress | None = None) -> PlanText:
    try:
        import pypdf
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError
    except ImportError:  # pragma: no cover
        raise LoaError("thiếu thư viện pypdf; chạy lại scripts/setup.sh.", path) from None
    # pypdf's own bounds, tighter: a plan's streams are small; a bomb's are not.
    limits = dict.fromkeys(
        ("maximum_declared_stream_length", "zlib_maximum_output_length",
         "lzw_maximum_output_length", "run_length_maximum_output_length",
         "array_based_stream_maximum_output_length", "brotli_maximum_output_length",
         "jbig2_maximum_output_length", "image_maximum_buffer_size"), MAX_STREAM_BYTES)
    configure = getattr(pypdf, "apply_configuration", None)
    pages: list[str] = []
    scanned: list[int] = []  # 1-based pages with no text layer but a picture
    try:
        with configure(**limits) if configure else nullcontext():
            reader = PdfReader(str(path))
            count = len(reader.pages)
            if count > MAX_PDF_PAGES:
                raise LoaError(f"tệp PDF có {count} trang, quá số trang tối đa "
                               f"({MAX_PDF_PAGES}) của một kế hoạch.", path)
            size = 0
            for number, page in enumerate(reader.pages, start=1):
                pages.append(page.extract_text() or "")
                size += len(pages[-1])
                if size > MAX_TEXT_BYTES:
                    raise LoaError(_too_big(size, MAX_TEXT_BYTES, "chữ trong tệp PDF"), path)
                if _letters(pages[-1]) < MIN_PAGE_LETTERS and _has_image(page):
                    scanned.append(number)
                    _check_raster_size(page, path, number)
    except (FileNotDecryptedError, DependencyError):
        raise LoaError("tệp PDF được đặt mật khẩu hoặc mã hóa nên không đọc được chữ; hãy xin "
                       "bản không mật khẩu, hoặc mở ra và chép chữ vào tệp .txt.", path) from None
    except LimitReachedError as exc:
        log.info("pdf %s: %s", path, exc)
        raise LoaError(_damaged("PDF").format("một phần nén quá lớn sau khi giải nén"), path,
                       len(pages) + 1, "trang") from None
    except (LoaError, MemoryError):  # MemoryError: read_plan_lines words it
        raise
    except Exception as exc:  # pypdf fails in many ways on a broken file
        log.info("pdf %s: %r", path, exc)
        raise LoaError(_damaged("PDF").format(_what(exc)), path,
                       len(pages) + 1 if pages else None, "trang") from None
    info = None
    if scanned:
        from loa.plan import ocr

        if len(scanned) > MAX_OCR_PAGES:
            raise LoaError(f"tệp PDF có {len(scanned)} trang ảnh quét, quá số trang tối đa "
                           f"({MAX_OCR_PAGES}) nhận dạng chữ (OCR) được cho một kế hoạch.", path)
        info = ocr.OcrInfo(total_pages=len(pages))
        _call(progress, 0, len(scanned))
        for done, number in enumerate(scanned, start=1):
            with time_limit_paused():
                result = ocr.ocr_image(ocr.rasterize(path, number), path, number,
                                       blank_ok=True)
            if result.text.strip():
                pages[number - 1] = result.text
                info.pages.append(number)
                info.page_confidence[number] = result.confidence
                info.context_fixes += result.context_fixes
            else:
                info.blank.append(number)
            _call(progress, done, len(scanned))
        pages = ocr.fix_roman_headings(pages, set(info.pages))
        if not info.pages:
            raise LoaError("tệp PDF là ảnh quét nhưng nhận dạng chữ (OCR) không thấy chữ nào "
                           "trên các trang; hãy quét lại rõ hơn (300 dpi).", path)
    if not any(p.strip() for p in pages):
        raise LoaError("tệp PDF không có chữ, cũng không có ảnh quét để nhận dạng chữ (OCR); "
                       "hãy kiểm tra lại có đúng tệp kế hoạch không.", path)
    return PlanText(_join_pages(pages), info)


def _call(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _frames(p: Path) -> int:
    """Pages in one image file: a scanner's TIFF holds the whole plan; other images one."""
    if p.suffix.lower() not in (".tif", ".tiff"):
        return 1
    try:
        from PIL import Image

        with Image.open(p) as im:
            return max(1, int(getattr(im, "n_frames", 1)))
    except Exception as exc:  # noqa: BLE001 - a damaged TIFF: open_image says so, page 1
        log.info("tiff %s: %r", p, exc)
        return 1


def _frame(p: Path, index: int, page: int):
    """Page `index` (0-based) of a multi-page TIFF, through open_image's checks."""
    import io

    from PIL import Image

    from loa.plan import ocr

    try:
        with Image.open(p) as im:
            im.seek(index)
            width, height = im.size
            if width * height > ocr.MAX_PIXELS:  # before its pixels are decoded
                raise LoaError(f"ảnh quá lớn ({width}×{height} điểm ảnh, tối đa "
                               f"{ocr.MAX_PIXELS // 1_000_000} triệu); ảnh có thể bị hỏng hoặc "
                               "cố ý làm to, hãy chụp hoặc quét lại.", p, page, "trang")
            buf = io.BytesIO()
            im.save(buf, "PNG")
    except LoaError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged frame: open_image words it
        log.info("tiff %s frame %s: %r", p, index, exc)
        return ocr.open_image(p, page, data=b"not an image")
    return ocr.open_image(p, page, data=buf.getvalue())


def _read_images(paths: list[Path], progress: Progress | None) -> PlanText:
    """Photos or scans of the pages, one image a page (every page of a multi-page TIFF),
    in the order given."""
    from loa.plan import ocr

    if len(paths) > MAX_OCR_PAGES:
        raise LoaError(f"chọn {len(paths)} ảnh, quá số trang tối đa ({MAX_OCR_PAGES}) của một "
                       "kế hoạch.", paths[0])
    sheets = [(p, i) for p in paths for i in range(_frames(p))]
    if len(sheets) > MAX_OCR_PAGES:
        raise LoaError(f"các ảnh có {len(sheets)} trang, quá số trang tối đa ({MAX_OCR_PAGES}) "
                       "của một kế hoạch.", paths[0])
    total = len(sheets)
    info = ocr.OcrInfo(total_pages=total)
    pages: list[str] = []
    _call(progress, 0, total)
    for number, (p, index) in enumerate(sheets, start=1):
        page = number if total > 1 else None
        with time_limit_paused():
            im = _frame(p, index, page) if _frames(p) > 1 else ocr.open_image(p, page)
            result = ocr.ocr_image(im, p, page)
        pages.append(result.text)
        info.pages.append(number)
        info.page_confidence[number] = result.confidence
        info.context_fixes += result.context_fixes
        _call(progress, number, total)
    pages = ocr.fix_roman_headings(pages, set(info.pages))
    return PlanText(_join_pages(pages), info)


def _edge_key(line: str) -> str:
    """A header line's identity: digits and OCR's stray punctuation do not count."""
    return re.sub(r"\d+", "#", re.sub(r"[^\w\s]", "", line.lower())).strip()


def _join_pages(pages: list[str]) -> list[Line]:
    """Pages' text into lines numbered by page, running headers and footers dropped."""
    # A running header or footer is a line that repeats at the top or bottom of most pages.
    edges: Counter[str] = Counter()
    page_lines = [[clean_text_line(x) for x in p.splitlines() if x.strip()] for p in pages]
    for pl in page_lines:
        for line in set(pl[:2] + pl[-2:]):
            edges[_edge_key(line)] += 1
    running = {k for k, n in edges.items() if len(pages) >= 3 and n >= 0.6 * len(pages)}
    lines, numbers = [], []
    for page_no, pl in enumerate(page_lines, start=1):
        for i, line in enumerate(pl):
            at_edge = i < 2 or i >= len(pl) - 2
            if at_edge and _edge_key(line) in running:
                continue
            lines.append(line)
            numbers.append(page_no)
    return clean_lines("\n".join(lines), unit="trang", numbers=numbers)
