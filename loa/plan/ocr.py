"""Scanned plans and photos read by Tesseract's Vietnamese model, then post-corrected.

The tesseract and pdftoppm binaries are called directly (not pytesseract): one subprocess
per page with a wall-clock timeout, its TSV giving both the text and the word confidences,
and no extra dependency. Pillow + numpy prepare each page (grayscale, autocontrast, deskew,
scale); pillow-heif, when installed, lets Pillow open iPhone photos (HEIC/HEIF).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import shutil
import subprocess
import unicodedata
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from loa.errors import LoaError

log = logging.getLogger(__name__)

DPI = 300  # what Tesseract is trained for; poppler rasterizes PDF pages at it
PAGE_SECONDS = 180  # wall clock per page: a page takes 3-6 s, a busy Pi several times more
RASTER_SECONDS = 120
MAX_PIXELS = 120_000_000  # a 200-megapixel phone photo is the largest real one
WORK_LONG_SIDE = 4200  # bigger pages are shrunk first: A4 at 300 dpi is 3508 px
LOW_CONFIDENCE = 0.80  # a page below this is named to the officer
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif"}
HEIF_SUFFIXES = {".heic", ".heif"}
INSTALL = "cần cài: sudo apt install tesseract-ocr tesseract-ocr-vie"

Progress = Callable[[int, int], None]


@dataclass
class OcrInfo:
    """What the officer is told about the pages read by OCR."""

    pages: list[int] = field(default_factory=list)  # 1-based, in reading order
    page_confidence: dict[int, float] = field(default_factory=dict)  # page -> 0..1
    total_pages: int = 0
    blank: list[int] = field(default_factory=list)  # scanned pages with no text on them
    context_fixes: int = 0  # unsure words replaced by the variant the context asks for

    @property
    def confidence(self) -> float:
        """Mean word confidence over the OCR pages, 0..1."""
        values = [self.page_confidence[p] for p in self.pages if p in self.page_confidence]
        return sum(values) / len(values) if values else 0.0

    @property
    def low_pages(self) -> list[int]:
        return [p for p in self.pages if self.page_confidence.get(p, 0.0) < LOW_CONFIDENCE]

    def describe(self) -> str:
        text = (f"{_page_span(self.pages).capitalize()} được đọc bằng nhận dạng chữ (OCR), "
                f"độ tin cậy trung bình {self.confidence:.0%}")
        low = self.low_pages
        if low:
            text += (f"; {_page_span(low)} đọc kém (dưới {LOW_CONFIDENCE:.0%}), cần soát kỹ "
                     "từng chữ")
        if self.blank:
            text += f"; {_page_span(self.blank)} không có chữ nên bị bỏ qua"
        if self.context_fixes:
            text += f"; đã sửa {self.context_fixes} chữ theo ngữ cảnh"
        return text + "; hãy đối chiếu bản tin với bản giấy."

    def to_json(self) -> dict:
        return {"pages": self.pages, "confidence": round(self.confidence, 3),
                "page_confidence": {str(p): round(c, 3)
                                    for p, c in self.page_confidence.items()},
                "low_pages": self.low_pages, "blank_pages": self.blank,
                "context_fixes": self.context_fixes,
                "message": self.describe()}


def _page_span(pages: list[int]) -> str:
    """"trang 1–3, 5": runs of consecutive pages joined with an en dash."""
    runs: list[list[int]] = []
    for p in pages:
        if runs and p == runs[-1][-1] + 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return "trang " + ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


# --- tools -------------------------------------------------------------------------------------

@functools.cache
def _tesseract_langs(exe: str, tessdata: str | None) -> frozenset[str]:
    """The installed models (tessdata: TESSDATA_PREFIX, which moves them)."""
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(x.strip() for x in done.stdout.splitlines()[1:])


def tesseract(path: Path) -> str:
    """The tesseract binary, with its Vietnamese model, or a clear error naming the file."""
    exe = shutil.which("tesseract")
    if exe is None:
        raise LoaError(f"tệp là ảnh quét, cần nhận dạng chữ (OCR) nhưng máy chưa có Tesseract; "
                       f"{INSTALL}", path)
    if "vie" not in _tesseract_langs(exe, os.environ.get("TESSDATA_PREFIX")):
        raise LoaError("tệp là ảnh quét, cần nhận dạng chữ (OCR) nhưng Tesseract chưa có mô "
                       f"hình tiếng Việt; {INSTALL}", path)
    return exe


def _pdftoppm(path: Path) -> str:
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise LoaError("tệp PDF là ảnh quét, cần chuyển trang thành ảnh nhưng máy chưa có "
                       "pdftoppm; cần cài: sudo apt install poppler-utils", path)
    return exe


def _env() -> dict[str, str]:
    # One thread per tesseract: on a loaded 2-4 core machine its OpenMP threads only spin.
    return {**os.environ, "OMP_THREAD_LIMIT": "1"}


# --- images ------------------------------------------------------------------------------------

def _pil():
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - a dependency of loa
        raise LoaError("thiếu thư viện Pillow để đọc ảnh; chạy lại scripts/setup.sh.") from None
    return Image


def open_image(path: Path, page: int | None = None, data: bytes | None = None):
    """A photo or a rasterized page as a Pillow image, loaded; errors in Vietnamese."""
    Image = _pil()
    from PIL import ImageOps, UnidentifiedImageError

    if path.suffix.lower() in HEIF_SUFFIXES and data is None:
        try:
            from pillow_heif import register_heif_opener
        except ImportError:
            raise LoaError("chưa đọc được ảnh HEIC/HEIF (ảnh iPhone) vì máy thiếu thư viện "
                           "pillow-heif; hãy cài: pip install pillow-heif, hoặc chuyển ảnh "
                           "sang JPG rồi thử lại.", path) from None
        register_heif_opener()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data) if data is not None else path)
            width, height = im.size
            if width * height > MAX_PIXELS:
                raise LoaError(f"ảnh quá lớn ({width}×{height} điểm ảnh, tối đa "
                               f"{MAX_PIXELS // 1_000_000} triệu); ảnh có thể bị hỏng hoặc "
                               "cố ý làm to, hãy chụp hoặc quét lại.", path, page, "trang")
            im.load()
            im = ImageOps.exif_transpose(im)  # a phone photo held sideways
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LoaError("ảnh quá lớn (quá nhiều điểm ảnh); ảnh có thể bị hỏng hoặc cố ý làm to, "
                       "hãy chụp hoặc quét lại.", path, page, "trang") from None
    except UnidentifiedImageError:
        raise LoaError("không đọc được ảnh: tệp bị hỏng hoặc không phải ảnh; hãy chụp lại hoặc "
                       "lưu lại thành JPG/PNG.", path, page, "trang") from None
    except LoaError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or damaged data
        log.info("image %s: %r", path, exc)
        raise LoaError("không đọc được ảnh: tệp bị hỏng hoặc bị cắt cụt; hãy chụp lại hoặc lưu "
                       "lại thành JPG/PNG.", path, page, "trang") from None
    return im


def _gray(im):
    from PIL import Image

    if im.mode in ("RGBA", "LA", "P", "PA"):  # transparent parts are paper, not black
        im = im.convert("RGBA")
        paper = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(paper, im)
    return im.convert("L")


def _ink(im, threshold: int | None = None):
    """Boolean numpy array: True where the (grayscale) page has ink."""
    import numpy as np

    a = np.asarray(im, dtype=np.uint8)
    if threshold is None:  # Otsu's threshold: paper and ink whatever the lighting
        hist = np.bincount(a.ravel(), minlength=256).astype(float)
        total = hist.sum()
        levels = np.arange(256)
        w0 = np.cumsum(hist)
        m0 = np.cumsum(hist * levels)
        w1 = total - w0
        mean0 = m0 / np.maximum(w0, 1)
        mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
        between = w0 * w1 * (mean0 - mean1) ** 2
        threshold = int(np.argmax(between))
    return a <= threshold


def skew_angle(im, limit: float = 6.0) -> float:
    """Degrees to rotate the page (counter-clockwise) so its text lines are level.

    Projection profile: on a downscaled binarized page, the angle whose row sums vary most
    is the one where lines of text and the gaps between them line up with the rows."""
    import numpy as np
    from PIL import Image

    small = im.copy()
    small.thumbnail((1000, 1000))
    ink = Image.fromarray((_ink(small) * 255).astype(np.uint8))

    def score(angle: float) -> float:
        rows = np.asarray(ink.rotate(angle, resample=Image.NEAREST, expand=False),
                          dtype=np.float32).sum(axis=1)
        return float(np.sum(np.diff(rows) ** 2))

    best = max(np.arange(-limit, limit + 0.01, 0.5), key=score)
    fine = max(np.arange(best - 0.5, best + 0.51, 0.1), key=score)
    return round(float(fine), 2)


def _line_height(ink) -> float | None:
    """Median height of the runs of inked rows: about one line of text, marks included."""
    import numpy as np

    rows = ink.mean(axis=1) > 0.004
    runs, start = [], None
    for i, on in enumerate(rows):
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append(i - start)
            start = None
    runs = [r for r in runs if r >= 3]
    return float(np.median(runs)) if len(runs) >= 3 else None


TARGET_LINE_PX = 50  # a Vietnamese line, marks included, at ~30 px capital height


def prepare(im):
    """Grayscale, autocontrast, shrink a huge photo, deskew, and scale small text up."""
    from PIL import Image, ImageOps

    im = _gray(im)
    if max(im.size) > WORK_LONG_SIDE:
        im.thumbnail((WORK_LONG_SIDE, WORK_LONG_SIDE), Image.LANCZOS)
    # Paper to white, ink left alone: on a sparse page the darkest 1% is paper noise, and
    # cutting it there turns the whole sheet grey (Tesseract then finds no text at all).
    im = ImageOps.autocontrast(im, cutoff=(0, 2))
    angle = skew_angle(im)
    if abs(angle) >= 0.2:
        im = im.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    height = _line_height(_ink(im))
    if height and height < 0.6 * TARGET_LINE_PX:  # a small or distant photo
        factor = min(TARGET_LINE_PX / height, 4.0)
        if max(im.size) * factor <= 2 * WORK_LONG_SIDE:
            im = im.resize((round(im.width * factor), round(im.height * factor)),
                           Image.LANCZOS)
    return im


# --- Tesseract ---------------------------------------------------------------------------------

@dataclass
class PageText:
    text: str
    confidence: float  # mean word confidence 0..1; 0 with no words
    words: int
    # per line, each word's confidence 0..1 (-1 unknown), in the order of `text`'s words
    word_confidence: list[list[float]] = field(default_factory=list)
    context_fixes: int = 0


def _run_tesseract(exe: str, png: bytes, args: list[str], path: Path, page: int) -> str:
    try:
        done = subprocess.run([exe, "stdin", "stdout", *args], input=png, capture_output=True,
                              timeout=PAGE_SECONDS, env=_env())
    except subprocess.TimeoutExpired:
        raise LoaError(f"nhận dạng chữ (OCR) mất quá {PAGE_SECONDS} giây mà chưa xong; ảnh có "
                       "thể quá lớn hoặc máy đang bận, hãy thử lại.", path, page,
                       "trang") from None
    except OSError as exc:
        raise LoaError(f"không chạy được Tesseract ({exc.strerror or exc}); {INSTALL}", path,
                       page, "trang") from None
    if done.returncode != 0:
        log.info("tesseract %s page %s: %s", path, page, done.stderr[-500:])
        raise LoaError("Tesseract không nhận dạng được trang này (ảnh hỏng hoặc không phải "
                       "trang giấy); hãy chụp hoặc quét lại.", path, page, "trang")
    return done.stdout.decode("utf-8", "replace")


def _png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PPM")  # uncompressed PGM: it only crosses a pipe
    return buf.getvalue()


def parse_tsv(tsv: str) -> PageText:
    """Tesseract's TSV into lines of text (its block/paragraph/line order) and confidence."""
    lines: dict[tuple[int, int, int], list[str]] = {}
    line_confs: dict[tuple[int, int, int], list[float]] = {}
    order: list[tuple[int, int, int]] = []
    confs: list[float] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        if not word:
            continue
        ident = (int(cols[2]), int(cols[3]), int(cols[4]))
        if ident not in lines:
            lines[ident] = []
            line_confs[ident] = []
            order.append(ident)
        lines[ident].append(word)
        try:
            conf = float(cols[10])
        except ValueError:
            conf = -1.0
        line_confs[ident].append(conf / 100 if conf >= 0 else -1.0)
        if conf >= 0:
            confs.append(conf / 100)
    text = "\n".join(" ".join(lines[i]) for i in order)
    return PageText(text, sum(confs) / len(confs) if confs else 0.0, len(confs),
                    [line_confs[i] for i in order])


def _osd_rotation(exe: str, png: bytes, path: Path, page: int) -> int:
    """Degrees Tesseract's orientation detection says the page is turned (0, 90, 180, 270)."""
    try:
        done = subprocess.run([exe, "stdin", "stdout", "--psm", "0"], input=png,
                              capture_output=True, timeout=PAGE_SECONDS, env=_env())
    except (subprocess.TimeoutExpired, OSError):
        return 0
    m = re.search(r"Rotate:\s*(\d+)", done.stdout.decode("utf-8", "replace"))
    conf = re.search(r"Orientation confidence:\s*([\d.]+)", done.stdout.decode("utf-8",
                                                                              "replace"))
    if m and conf and float(conf.group(1)) >= 2.0:
        return int(m.group(1)) % 360
    return 0


def ocr_image(im, path: Path, page: int | None, blank_ok: bool = False) -> PageText:
    """One page: prepared, recognised; turned upright first when it reads badly. A page
    with no text is an error unless `blank_ok` (the back of a sheet in a scanned PDF)."""
    exe = tesseract(path)
    im = prepare(im)
    png = _png(im)
    result = parse_tsv(_run_tesseract(exe, png, ["-l", "vie", "--psm", "3", "tsv"], path, page))
    if result.confidence < 0.6 or result.words < 10:  # maybe upside down or sideways
        turn = _osd_rotation(exe, png, path, page)
        if turn:
            from PIL import Image

            upright = im.rotate(-turn, resample=Image.BICUBIC, expand=True, fillcolor=255)
            again = parse_tsv(_run_tesseract(exe, _png(upright),
                                             ["-l", "vie", "--psm", "3", "tsv"], path, page))
            if again.confidence > result.confidence:
                result = again
    if not result.text.strip() and not blank_ok:
        raise LoaError("không nhận dạng được chữ nào trên trang này (trang trắng, ảnh quá mờ "
                       "hoặc không phải văn bản); hãy chụp hoặc quét lại rõ hơn.", path, page,
                       "trang")
    result.text = correct_text(result.text)
    result.text, result.context_fixes = context_pass(result.text, result.word_confidence)
    return result


def rasterize(path: Path, page: int, dpi: int = DPI):
    """One PDF page as a grayscale image: page by page, so memory stays one page."""
    exe = _pdftoppm(path)
    try:
        # PGM, not PNG: compressing the page costs pdftoppm ten times the rendering
        done = subprocess.run([exe, "-r", str(dpi), "-gray", "-f", str(page), "-l",
                               str(page), "-singlefile", str(path)], capture_output=True,
                              timeout=RASTER_SECONDS)
    except subprocess.TimeoutExpired:
        raise LoaError(f"chuyển trang PDF thành ảnh mất quá {RASTER_SECONDS} giây; tệp có thể "
                       "bị hỏng.", path, page, "trang") from None
    if done.returncode != 0 or not done.stdout:
        log.info("pdftoppm %s page %s: %s", path, page, done.stderr[-500:])
        raise LoaError("không chuyển được trang PDF thành ảnh để nhận dạng chữ; tệp có thể bị "
                       "hỏng, hãy mở bằng trình đọc PDF rồi lưu lại.", path, page, "trang")
    return open_image(path, page, data=done.stdout)


# --- post-correction ---------------------------------------------------------------------------

# Spacing forms of the tone marks, as Tesseract emits them beside a letter ("vê`").
_SPACING = {"`": "\u0300", "´": "\u0301", "ˊ": "\u0301", "ˋ": "\u0300", "˜": "\u0303",
            "~": "\u0303", "ˀ": "\u0309", "ˇ": None}
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
# A tone on a lone "i" after a word: Tesseract splits "số" into "sô" + "í".
_DETACHED = {"í": "\u0301", "ì": "\u0300", "ỉ": "\u0309", "ĩ": "\u0303", "ị": "\u0323"}
_LETTERS = r"[^\W\d_]"
_TOKEN = re.compile(
    rf"{_LETTERS}+(?:['’][{_LETTERS[1:-1]}]*)*"  # a word, maybe with u' o' for ư ơ
    r"|[`´ˊˋ˜~ˀ\u0300-\u036f]+"  # loose marks
)


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _known(candidate: str, like: str) -> str | None:
    from loa.plan import syllables

    cand = unicodedata.normalize("NFC", candidate)
    if syllables.is_syllable(cand):
        return _cased(syllables.spelled(syllables.key(cand)), like)
    return None


def _has_tone(word: str) -> bool:
    return any(c in _TONE_MARKS for c in unicodedata.normalize("NFD", word))


def _with_tone(word: str, tone: str) -> str | None:
    """`word` with `tone` added (it had none), if that is a known syllable."""
    if _has_tone(word):
        return None
    from loa.plan import syllables

    return _known(syllables.key(word) + tone, word)


def fix_word(word: str) -> str:
    """One token's known Tesseract faults, each fix kept only if it gives a known syllable:
    'ð'/'d' for 'đ', "u'"/"o'" for 'ư'/'ơ', a tone glued on as a trailing 'í'."""
    from loa.plan import syllables

    if syllables.is_syllable(word) or not any(c.isalpha() for c in word):
        return word
    tries = []
    w = word.replace("ð", "đ").replace("Ð", "Đ")
    tries.append(w)
    horn = re.sub(r"([uUoO])['’]", lambda m: {"u": "ư", "U": "Ư", "o": "ơ", "O": "Ơ"}[m.group(1)],
                  w)
    tries.append(horn)
    for base in dict.fromkeys((w, horn)):
        if base[:1] in "dD":
            tries.append(("đ" if base[0] == "d" else "Đ") + base[1:])
    for cand in tries:
        if cand != word:
            fixed = _known(cand, word)
            if fixed:
                return fixed
    # "sôí": the tone carried on a stray 'i' glued to the end
    last = w[-1:].lower()
    if last in _DETACHED and len(w) > 1:
        fixed = _with_tone(w[:-1], _DETACHED[last])
        if fixed:
            return fixed
    # "TRUYỀỂN": one vowel read twice with different marks; keep the one that spells a word
    for i in range(len(w) - 1, 0, -1):
        if strip(w[i]) == strip(w[i - 1]) and strip(w[i]) in "aeiouy":
            for cand in (w[:i] + w[i + 1:], w[:i - 1] + w[i:]):
                fixed = _known(cand, word)
                if fixed:
                    return fixed
    return word


def strip(ch: str) -> str:
    from loa.plan.syllables import strip_marks

    return strip_marks(ch)


def correct_text(text: str) -> str:
    """Tesseract's known Vietnamese faults put right, line by line."""
    return "\n".join(correct_line(line) for line in text.split("\n"))


# A section heading's Roman number as Tesseract misreads it: "II" as "H", "I" as "l" or "|".
_ROMAN_HEAD = re.compile(r"^([IVXHLl|]{1,5})([.:,]?)\s+(?=[A-ZĐÀ-Ỹ]{2,}\b)")
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
          "XIV", "XV"]


def fix_roman_headings(pages: list[str], ocr_pages: set[int]) -> list[str]:
    """Section numbers of upper-case headings put back in sequence on OCR pages.

    "H. NỘI DUNG" after "I. MỤC ĐÍCH" is "II."; "II. TỔ CHỨC" right after that "II." is
    "III."; "I. PHƯƠNG THỨC" after "II." is "III.". Only a number that is unreadable or does
    not go forward is changed, and only to the next one, so a plan whose numbering really
    jumps ahead keeps it."""
    last = 0
    out = []
    for number, text in enumerate(pages, start=1):
        lines = text.split("\n")
        for i, line in enumerate(lines):
            m = _ROMAN_HEAD.match(line)
            if not m:
                continue
            raw = m.group(1)
            read = raw.replace("H", "II").replace("L", "I").replace("l", "I").replace("|", "I")
            value = _ROMAN.index(read) + 1 if read in _ROMAN else 0
            if number in ocr_pages:
                # H, L, l, | are no Roman digits here (no plan has fifty sections); a number
                # that goes back ("I" for "III") lost one
                unsure = value == 0 or value <= last or raw != read
                if unsure and value != last + 1 and last < len(_ROMAN):
                    value = last + 1
                if value and (_ROMAN[value - 1] != raw or m.group(2) != "."):
                    lines[i] = f"{_ROMAN[value - 1]}. {line[m.end():]}"
            if value:
                last = value
        out.append("\n".join(lines))
    return out


def correct_line(line: str) -> str:
    line = unicodedata.normalize("NFC", line)
    out: list[str] = []  # pieces: words and what lies between them
    last_word = -1  # index in out of the previous word, if only spaces follow it
    pos = 0
    for m in _TOKEN.finditer(line):
        gap = line[pos:m.start()]
        pos = m.end()
        tok = m.group(0)
        joinable = last_word >= 0 and gap.strip() == ""
        if not tok[0].isalpha():  # loose marks: "vê`", "vê `", "ve \u0300"
            tone = next((_SPACING.get(c, c) for c in tok if _SPACING.get(c, c)
                         and _SPACING.get(c, c) in _TONE_MARKS), None)
            if joinable and tone:
                fixed = _with_tone(out[last_word], tone)
                if fixed:
                    out[last_word] = fixed
                    continue
            out.extend([gap, tok])
            last_word = -1
            continue
        if joinable and gap and tok in _DETACHED:  # "sô í"
            fixed = _with_tone(out[last_word], _DETACHED[tok])
            if fixed:
                out[last_word] = fixed
                continue
        # marks that trail a word inside the token ("vê`" matched as one token never
        # happens: the class above keeps them apart), so fix the word itself
        out.extend([gap, fix_word(tok)])
        last_word = len(out) - 1
    out.append(line[pos:])
    return "".join(out)


# --- context pass ------------------------------------------------------------------------------

# A known syllable with a wrong tone ("Chỉ nhánh", "cuộc thị") passes every syllable check;
# only its neighbours tell. A word is replaced only when Tesseract itself was unsure of it
# AND the syllable bigram model prefers a same-letter variant by a wide margin.
UNSURE = 0.90  # word confidence below which Tesseract may be wrong ("Chỉ nhánh" read at 0.89)
CONTEXT_GAIN = 4.0  # natural log: the variant at least ~55 times likelier in its context
_MODEL: ContextVar = ContextVar("loa_ocr_context_model", default=None)
_SPLIT = re.compile(r"^([^\w]*)([^\W\d_]+)([^\w]*)$")
_RUN_BREAK = re.compile(r"[.;:!?()\[\]{}\"“”«»…/|•*=+<>]")


@contextmanager
def context_model(model) -> Iterator[None]:
    """Within the block, the context pass uses `model` (a loa.plan.repair.Model) instead of
    the model of the shipped plans: the benchmark's leave-one-out measurement."""
    token = _MODEL.set(model)
    try:
        yield
    finally:
        _MODEL.reset(token)


def _model():
    model = _MODEL.get()
    if model is None:
        from loa.plan.repair import default_model

        model = default_model()
    return model


def context_pass(text: str, confidence: list[list[float]], model=None) -> tuple[str, int]:
    """Unsure words put right by their context; returns (text, words changed).

    `confidence` gives each line's words their Tesseract confidence; a line whose word count
    the post-correction changed (a loose mark joined) keeps its words as read."""
    from loa.plan import syllables

    model = model or _model()
    lines = text.split("\n")
    # the words of the page in order: (line, index, lead, core, trail, confidence)
    words: list[list] = []
    for li, line in enumerate(lines):
        toks = line.split(" ")
        confs = confidence[li] if li < len(confidence) else []
        if len(confs) != len(toks):
            confs = [-1.0] * len(toks)
        for ti, tok in enumerate(toks):
            m = _SPLIT.match(tok)
            if m:
                words.append([li, ti, m.group(1), m.group(2), m.group(3), confs[ti]])
            else:  # numbers, "63/2010/NĐ-CP": a word the model has no key for
                words.append([li, ti, tok, "", "", confs[ti]])
    inventory = syllables.inventory()
    keys = [syllables.key(w[3]) if w[3] else "" for w in words]
    fixes = 0
    for i, (_li, _ti, lead, core, trail, conf) in enumerate(words):
        k = keys[i]
        if not core or conf < 0 or conf >= UNSURE or k not in inventory:
            continue
        if core.isupper() and len(core) > 1 and not _has_tone(core):
            continue  # "UBND"-like capitals: an abbreviation, not a syllable to retone
        linked_prev = (i > 0 and keys[i - 1] in inventory and not _RUN_BREAK.search(lead)
                       and not _RUN_BREAK.search(words[i - 1][4]))
        linked_next = (i + 1 < len(words) and keys[i + 1] in inventory
                       and not _RUN_BREAK.search(trail)
                       and not _RUN_BREAK.search(words[i + 1][2]))
        prev = keys[i - 1] if linked_prev else "<s>"
        nxt = keys[i + 1] if linked_next else "</s>"
        if model.bigrams.get((prev, k), 0) > 0 or model.bigrams.get((k, nxt), 0) > 0:
            continue  # the plans write it so beside a neighbour
        own = model.logp(prev, k) + model.logp(k, nxt)
        best, best_score = None, own + CONTEXT_GAIN
        for v in syllables.variants(core):
            o = syllables.key(v)
            # the variant must be what the plans write beside a real neighbour
            if o == k or not ((linked_prev and model.seen(prev, o))
                              or (linked_next and model.seen(o, nxt))):
                continue
            score = model.logp(prev, o) + model.logp(o, nxt)
            if score > best_score:
                best, best_score = o, score
        if best is None:
            continue
        new = _cased(syllables.spelled(best), core)
        log.info("context fix %r -> %r (conf %.2f)", core, new, conf)
        words[i][3] = new
        keys[i] = best
        fixes += 1
    if not fixes:
        return text, 0
    out = [line.split(" ") for line in lines]
    for li, ti, lead, core, trail, _ in words:
        out[li][ti] = lead + core + trail
    return "\n".join(" ".join(t) for t in out), fixes
