"""Plans received by a station (the console's Kế hoạch): stored, listed, drafted.

An uploaded plan is kept in the station's plans folder under a key the station chooses
(ASCII, from the file's name), never under the sender's path: <key>.<ext> is the current
version, <key>.json what the officer sees (original name, who, when, title, topics), and
earlier versions move to cu/ (nothing lost). Drafts of <key> go to bulletins/<key>.yaml,
so a revised plan uploaded over <key> merges into the same drafts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.plan.content import Plan
    from loa.station.bulletins import Drafted

log = logging.getLogger(__name__)

KINDS = {".txt": "văn bản thuần", ".docx": "Word (.docx)", ".pdf": "PDF", ".doc": "Word cũ (.doc)",
         ".odt": "OpenDocument (.odt)", ".rtf": "RTF"}
PHOTOS = {".jpg": "ảnh JPEG", ".jpeg": "ảnh JPEG", ".png": "ảnh PNG", ".heic": "ảnh HEIC",
          ".heif": "ảnh HEIC", ".webp": "ảnh WebP", ".tif": "ảnh TIFF", ".tiff": "ảnh TIFF"}
# photos of a plan's pages are kept together as ONE version: a folder <key>.anh/ holding
# trang-01.jpg, trang-02.png, … in page order, so a revision moves to cu/ as one piece
PAGES = ".anh"
STORED = (*KINDS, PAGES)
HISTORY = "cu"  # earlier versions of re-uploaded plans
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_CHUNK = 1 << 20
# what a renamed file really is, by its first bytes
_MAGIC = ((b"MZ", "chương trình Windows (.exe)"), (b"\x7fELF", "chương trình Linux"),
          (b"\xd0\xcf\x11\xe0", "Word cũ (.doc) hoặc Excel cũ (.xls)"), (b"Rar!", "tệp nén RAR"),
          (b"\x1f\x8b", "tệp nén gzip"), (b"7z\xbc\xaf", "tệp nén 7z"),
          (b"\x89PNG", "ảnh PNG"), (b"\xff\xd8\xff", "ảnh JPEG"), (b"GIF8", "ảnh GIF"),
          (b"ID3", "âm thanh MP3"), (b"RIFF", "âm thanh/ảnh RIFF (WAV …)"),
          (b"PK\x03\x04", "tệp nén ZIP"), (b"%PDF", "PDF"))


@dataclass
class PlanEntry:
    """A stored plan as the Kế hoạch page lists it."""

    key: str
    file: str  # its name in the plans folder
    original_name: str  # as the officer's computer named it (display only)
    uploaded_at: str  # ISO 8601 with offset
    uploaded_by: str  # full name
    title: str = ""
    issuer: str = ""
    number: str = ""
    place_date: str = ""
    topics: int = 0
    versions: list[dict] = field(default_factory=list)  # earlier uploads, oldest first
    # {path, title, heading} of each topic as read at upload: the page need not re-read
    topic_list: list[dict] = field(default_factory=list)
    ocr: str = ""  # which pages were read by OCR and how sure (Vietnamese), if any
    garbled: str = ""  # the garbled-text guard's warning, if it fired
    pages: int = 0  # photos of pages kept in <key>.anh/, if the plan came as photos

    @property
    def uploaded(self) -> datetime:
        return datetime.fromisoformat(self.uploaded_at)


@dataclass
class Drafts:
    """The drafts file of a plan, if made: where, and how many bulletins by status."""

    path: Path
    exists: bool
    counts: dict[str, int] = field(default_factory=dict)  # {status label: count}
    total: int = 0
    error: str = ""  # the file is there but does not load (Vietnamese)


@dataclass
class Uploaded:
    entry: PlanEntry
    plan: Plan
    revised: bool  # it replaced an earlier version of the same plan


def plan_key(original_name: str) -> str:
    """An ASCII key from a file name: "Kế hoạch 56-KH.docx" -> "ke-hoach-56-kh"."""
    from loa.plan.content import fold

    stem = original_name.rsplit(".", 1)[0] if "." in original_name else original_name
    key = re.sub(r"[^a-z0-9]+", "-", fold(stem)).strip("-")[:60].strip("-")
    return key or "ke-hoach"


def display_name(name: str) -> str:
    """The file's own name without any folders a browser sent, one line, ≤ 200 chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "(không tên)"


def check_kind(name: str, photos_too: bool = False) -> str:
    """The suffix of an acceptable plan file name (or photo of a page, with `photos_too`),
    or a LoaError naming the file."""
    suffix = Path(name).suffix.lower()
    if suffix not in KINDS and not (photos_too and suffix in PHOTOS):
        shown = f"đuôi '{suffix}'" if suffix else "không có đuôi"
        raise LoaError("chỉ nhận kế hoạch dạng .docx, .pdf, .txt, .doc, .odt, .rtf hoặc ảnh "
                       f"chụp .jpg, .png, .heic; tệp này {shown}.", name)
    return suffix


_PHOTO_MAGIC = {".jpg": lambda h: h.startswith(b"\xff\xd8\xff"),
                ".png": lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"),
                ".heic": lambda h: h[4:8] == b"ftyp",
                ".webp": lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP",
                ".tif": lambda h: h[:4] in (b"II*\0", b"MM\0*")}
_PHOTO_MAGIC.update({".jpeg": _PHOTO_MAGIC[".jpg"], ".heif": _PHOTO_MAGIC[".heic"],
                     ".tiff": _PHOTO_MAGIC[".tif"]})


def sniff(head: bytes, suffix: str, name: str) -> None:
    """Refuse a file whose content is not what its name says (an .exe renamed .docx)."""
    really = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    if suffix in PHOTOS:
        if not _PHOTO_MAGIC[suffix](head):
            raise LoaError(f"nội dung tệp không phải {PHOTOS[suffix]} như đuôi {suffix} cho biết; "
                           "hãy chọn đúng tệp kế hoạch.", name)
        return
    if suffix == ".pdf":
        ok = b"%PDF-" in head[:1024]  # PDF allows a little junk before the header
    elif suffix in (".docx", ".odt"):
        ok = head.startswith(b"PK\x03\x04")
    elif suffix == ".doc":
        ok = head.startswith(b"\xd0\xcf\x11\xe0")
    elif suffix == ".rtf":
        ok = head.lstrip(b"\xef\xbb\xbf").startswith(b"{\\rtf")
    else:
        # text has no NUL byte, unless it is UTF-16 with its byte-order mark (Notepad)
        ok = really is None and (b"\0" not in head or head.startswith((b"\xff\xfe", b"\xfe\xff")))
    if ok:
        return
    what = f"thực ra là {really}" if really else "không phải tệp " + KINDS[suffix]
    raise LoaError(f"nội dung tệp {what}, không khớp với đuôi {suffix}; hãy chọn đúng tệp kế "
                   "hoạch.", name)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One upload at a time per station (versions are numbered, files replaced): a lock on
    the folder itself, so no lock file is left among the plans."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        # a temp folder found now was left by a process killed while storing (the lock is
        # ours): the officer's upload must not stay there forever
        for stale in folder.glob(".tai-len-*"):
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _current(folder: Path, key: str) -> Path | None:
    for suffix in STORED:
        p = folder / f"{key}{suffix}"
        if p.is_file() or (suffix == PAGES and p.is_dir()):
            return p
    return None


def _pages(folder: Path) -> list[Path]:
    """The photos of a <key>.anh folder, in page order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTOS and p.is_file())


def _cache(folder: Path, key: str) -> Path:
    """Where a plan read by OCR is kept as read (hidden: not a plan of its own), so drafting
    does not OCR it again."""
    return folder / f".{key}.da-doc.json"


def _text_data(lines, ocr) -> dict:
    """A plan's lines and OCR note (reader.PlanText) as plain JSON data."""
    return {"lines": [[ln.number, ln.text, ln.unit] for ln in lines],
            "ocr": None if ocr is None else {
                "pages": list(ocr.pages), "total_pages": ocr.total_pages,
                "blank": list(ocr.blank),
                "page_confidence": [[p, c] for p, c in ocr.page_confidence.items()]}}


def _text_from(data: dict):
    """reader.PlanText from _text_data's JSON; ValueError/TypeError/KeyError if not it."""
    from loa.plan.ocr import OcrInfo
    from loa.plan.reader import Line, PlanText

    lines = [Line(int(n), str(t), str(u)) for n, t, u in data["lines"]]
    o = data["ocr"]
    ocr = None if o is None else OcrInfo(
        pages=[int(p) for p in o["pages"]], total_pages=int(o["total_pages"]),
        blank=[int(p) for p in o["blank"]],
        page_confidence={int(p): float(c) for p, c in o["page_confidence"]})
    return PlanText(lines, ocr)


def _stamp(p: Path) -> list:
    files = _pages(p) if p.is_dir() else [p]
    return [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def _read_meta(folder: Path, key: str) -> PlanEntry | None:
    plan = _current(folder, key)
    if plan is None:
        return None
    try:
        data = json.loads((folder / f"{key}.json").read_text(encoding="utf-8"))
        data["key"], data["file"] = key, plan.name
        return PlanEntry(**{k: v for k, v in data.items()
                            if k in PlanEntry.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        # a plan put there by hand (or its note lost): still listed, by its file
        from loa.clock import DEFAULT_TZ

        at = datetime.fromtimestamp(plan.stat().st_mtime, DEFAULT_TZ).isoformat()
        return PlanEntry(key, plan.name, plan.name, at, "")


def _same_plan(old: PlanEntry, new: Plan) -> bool:
    """A re-upload of the same plan: same number, or same title when unnumbered."""
    num = new.number.strip()
    if num[:1].isdigit() and old.number.strip() == num:  # "/KH-UBND" (blank) is no number
        return True
    return bool(new.title) and old.title == new.title and not (num and old.number
                                                                and old.number != num)


def _save_meta(folder: Path, entry: PlanEntry) -> None:
    from loa.fsio import atomic_write_text

    data = asdict(entry)
    data.pop("key")
    data.pop("file")
    atomic_write_text(folder / f"{entry.key}.json",
                      json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def check_room(folder: str | Path, need: int) -> None:
    """Refuse up front, in Vietnamese naming the plans folder, an upload the folder cannot
    take (read-only, or less free space than the files plus a margin): the officer hears it
    at once, not after minutes of OCR."""
    import errno

    from loa.fsio import loa_error

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".tai-len-")
        os.close(fd)
        os.unlink(probe)
        st = os.statvfs(folder)
        if st.f_bavail * st.f_frsize < need + (1 << 20):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder))
    except OSError as exc:
        raise loa_error(exc, folder) from None


def store_plan(data: IO[bytes], original_name: str, folder: str | Path, *, by: str,
               now: datetime, revises: str | None = None,
               max_bytes: int | None = None) -> Uploaded:
    """Keep an uploaded plan after checking it is one; nothing is left behind if not.

    `revises` names (by key) the plan this one replaces; without it a plan whose file
    name, and number or title, match a stored plan replaces it, any other is a new plan.
    Raises LoaError (Vietnamese, naming `original_name`) for a wrong type, a file whose
    content is not what its name says, one over `max_bytes`, or one with no topics."""
    from loa.station.bulletins import read_plan

    folder = Path(folder)
    name = display_name(original_name)
    suffix = check_kind(name)
    with _staging(folder, revises) as tmp_dir:
        tmp = tmp_dir / f"{revises or plan_key(name)}{suffix}"
        size, head = 0, b""
        with open(tmp, "wb") as out:
            while chunk := data.read(_CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise LoaError(too_big_vi(size, max_bytes, more=True), name)
                if len(head) < 4096:
                    head += chunk[:4096 - len(head)]
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise LoaError("tệp trống (0 byte).", name)
        sniff(head, suffix, name)
        try:
            plan = read_plan(tmp)
        except LoaError as exc:  # the reader names the temp file: name the officer's
            for p in exc.problems:
                p.path = name
            raise LoaError.many(exc.problems) from None
        except Exception:  # a parser's bug must not become a traceback on the page
            log.exception("reading uploaded plan %s", name)
            raise LoaError("không đọc được tệp này (tệp có thể bị hỏng); hãy mở bằng Word "
                           "hoặc LibreOffice, lưu lại rồi tải lên lần nữa.", name) from None
        entry, old = _install(folder, tmp, name, plan, by=by, now=now, revises=revises)
    return _uploaded(folder, entry, old, plan)


def _notes(plan: Plan) -> tuple[str, str]:
    """What the officer must know about how the plan was read: (OCR note, garbled warning)."""
    def said(obj) -> str:
        try:
            return str(obj.describe())
        except Exception:  # a note must not lose the plan
            log.exception("describing %r", obj)
            return ""

    ocr = getattr(plan, "ocr", None)
    q = getattr(plan, "quality", None)
    garbled = ""
    if q is not None and getattr(q, "garbled", False):
        garbled = ("Chữ trong kế hoạch có vẻ bị lỗi (mất dấu hoặc nhận dạng sai): "
                   f"{said(q)}. Bản tin soạn ra cần được gõ lại trước khi duyệt.")
    return (said(ocr) if ocr is not None else ""), garbled


def _install(folder: Path, source: Path, name: str, plan: Plan, *, by: str, now: datetime,
             revises: str | None, pages: int = 0,
             base: str | None = None) -> tuple[PlanEntry, PlanEntry | None]:
    """Put a read plan's `source` (a file, or a folder of page photos) in place as the
    current version of its key, the earlier one to cu/. Under the folder's lock."""
    suffix = PAGES if source.is_dir() else source.suffix.lower()
    key = revises or _choose_key(folder, base or plan_key(name), plan)
    old = _read_meta(folder, key)
    ocr, garbled = _notes(plan)
    entry = PlanEntry(key, f"{key}{suffix}", name, now.isoformat(), by, plan.title,
                      plan.issuer, plan.number, plan.place_date, len(plan.topics),
                      versions=list(old.versions) if old else [],
                      topic_list=[{"path": t.path, "title": t.title, "heading": t.heading}
                                  for t in plan.topics], ocr=ocr, garbled=garbled, pages=pages)
    if old is not None:
        hist = folder / HISTORY
        hist.mkdir(exist_ok=True)
        n = len(old.versions) + 1
        kept = f"{key}-{n}{Path(old.file).suffix}"
        os.replace(folder / old.file, hist / kept)
        entry.versions.append({"file": f"{HISTORY}/{kept}",
                               "original_name": old.original_name,
                               "uploaded_at": old.uploaded_at,
                               "uploaded_by": old.uploaded_by})
    _cache(folder, key).unlink(missing_ok=True)
    os.replace(source, folder / entry.file)
    for stale in folder.glob(f".{key}.da-doc.pickle"):  # older loa's: never loaded now
        stale.unlink(missing_ok=True)
    read = getattr(plan, "read", None)
    if getattr(plan, "ocr", None) is not None and read is not None:  # slow to read again
        from loa.fsio import atomic_write_text

        plan.source, plan.plan_id = folder / entry.file, key
        atomic_write_text(_cache(folder, key), json.dumps(
            {"stamp": _stamp(folder / entry.file), "text": _text_data(read.lines, plan.ocr)},
            ensure_ascii=False) + "\n")
    _save_meta(folder, entry)
    return entry, old


def keep_plan(plan: Plan, sources: list[Path], names: list[str], folder: str | Path, *,
              by: str, now: datetime, revises: str | None = None) -> Uploaded:
    """Keep a plan already read (in the background, by OCR): `sources` are its file, or
    the photos of its pages in order, named `names` on the officer's device. The sources
    are moved, not copied. Same keys, versions and notes as store_plan."""
    folder = Path(folder)
    name = display_name(names[0])
    with _staging(folder, revises) as tmp_dir:
        if len(sources) == 1 and sources[0].suffix.lower() not in PHOTOS:
            source = tmp_dir / f"x{sources[0].suffix.lower()}"
            shutil.move(sources[0], source)
        else:
            source = tmp_dir / f"x{PAGES}"
            source.mkdir()
            for i, p in enumerate(sources, 1):
                shutil.move(p, source / f"trang-{i:02d}{p.suffix.lower()}")
            if len(names) > 1:
                name = f"{name} (+{len(names) - 1} ảnh)"
            # a phone names photos IMG_1234: the plan's number names it better
            number = (plan.number or "").strip()
            base = plan_key(f"ke-hoach-{number if number[:1].isdigit() else 'anh-chup'}.x")
        entry, old = _install(folder, source, name, plan, by=by, now=now,
                              revises=revises, base=base if source.is_dir() else None,
                              pages=len(sources) if source.is_dir() else 0)
    return _uploaded(folder, entry, old, plan)


@contextlib.contextmanager
def _staging(folder: Path, revises: str | None) -> Iterator[Path]:
    """A private temp folder inside `folder`, under its lock, removed after; a full disk or a
    read-only folder is said in Vietnamese, not a traceback."""
    from loa.fsio import loa_error

    if revises is not None and not (_KEY.match(revises) and _current(folder, revises)):
        raise LoaError("không có kế hoạch cần thay này (có thể vừa bị đổi); hãy tải lại trang.")
    try:
        with _locked(folder):
            tmp_dir = Path(tempfile.mkdtemp(prefix=".tai-len-", dir=folder))
            try:
                yield tmp_dir
            finally:
                shutil.rmtree(tmp_dir, ignore_errors=True)
    except OSError as exc:
        raise loa_error(exc, folder) from None


def _uploaded(folder: Path, entry: PlanEntry, old: PlanEntry | None, plan: Plan) -> Uploaded:
    plan.source = folder / entry.file
    plan.plan_id = entry.key
    return Uploaded(entry, plan, old is not None)


def _choose_key(folder: Path, key: str, plan: Plan) -> str:
    """`key` if free or if it holds the same plan; else key-2, key-3, …"""
    n = 1
    candidate = key
    while (old := _read_meta(folder, candidate)) is not None:
        if _same_plan(old, plan):
            return candidate
        n += 1
        candidate = f"{key}-{n}"
    return candidate


def too_big_vi(size: int, limit: int, more: bool = False) -> str:
    mb = 1024 * 1024
    shown = f"hơn {limit / mb:.0f} MB" if more else f"{size / mb:.1f} MB"
    return (f"tệp quá lớn ({shown}); kế hoạch tải lên tối đa {limit / mb:.0f} MB. Kế hoạch "
            "thật thường chỉ vài trăm KB: hãy kiểm tra đúng tệp chưa, hoặc lưu lại dạng PDF "
            "nhỏ hơn / .docx không kèm ảnh.")


def list_plans(folder: str | Path, bulletins_folder: str | Path) -> list[tuple[PlanEntry, Drafts]]:
    """Every stored plan, newest upload first, with its drafts file's counts."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    keys = sorted({p.stem for p in folder.iterdir()
                   if _KEY.match(p.stem) and ((p.suffix in KINDS and p.is_file())
                                              or (p.suffix == PAGES and p.is_dir()))})
    out = [(e, drafts_of(e.key, bulletins_folder)) for k in keys
           if (e := _read_meta(folder, k)) is not None]
    out.sort(key=lambda pair: pair[0].uploaded_at, reverse=True)
    return out


def get_plan(folder: str | Path, key: str) -> PlanEntry:
    """The stored plan named `key`; KeyError if the station has none (no path from outside)."""
    entry = _read_meta(Path(folder), key) if _KEY.match(key or "") else None
    if entry is None:
        raise KeyError(key)
    return entry


def open_plan(folder: str | Path, key: str) -> tuple[PlanEntry, Plan]:
    """A stored plan and its topics as read now (LoaError naming its original name)."""
    from loa.station.bulletins import read_plan

    entry = get_plan(folder, key)
    source = Path(folder) / entry.file
    cache = _cache(Path(folder), key)
    if cache.is_file():
        # Plain data, parsed again: a file in the plans folder must never run code (pickle)
        try:
            kept = json.loads(cache.read_text(encoding="utf-8"))
            if kept["stamp"] == _stamp(source):
                from loa.plan.content import plan_from_text

                plan = plan_from_text(source, _text_from(kept["text"]))
                plan.plan_id = key
                return entry, plan
        except Exception:  # damaged, or the file changed: read it again
            log.info("plan %s: read again (kept reading not usable)", key)
    try:
        return entry, read_plan(_pages(source) if source.is_dir() else source)
    except LoaError as exc:
        for p in exc.problems:
            p.path = entry.original_name
        raise LoaError.many(exc.problems) from None


_drafts_seen: dict[Path, tuple[tuple, Drafts]] = {}


def drafts_of(key: str, bulletins_folder: str | Path) -> Drafts:
    """The drafts of plan `key`; read again only when the file changed (a list of plans
    must not parse every bulletins file at each view)."""
    from loa.station.bulletins import list_bulletins

    path = Path(bulletins_folder) / f"{key}.yaml"
    try:
        st = path.stat()
    except OSError:
        return Drafts(path, False)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    seen = _drafts_seen.get(path)
    if seen is not None and seen[0] == stamp:
        return seen[1]
    try:
        blist = list_bulletins(path)
        drafts = Drafts(path, True, blist.counts(), len(blist.items))
    except LoaError as exc:
        drafts = Drafts(path, True, error=str(exc.problems[0].message))
    _drafts_seen[path] = (stamp, drafts)
    return drafts


def draft_plan(folder: str | Path, key: str, bulletins_folder: str | Path,
               schedule: str | Path) -> Drafted:
    """Draft (or merge into) bulletins/<key>.yaml from the stored plan `key`, with the
    station's template and name."""
    from loa.station.bulletins import draft_bulletins

    _, plan = open_plan(folder, key)
    return draft_bulletins(plan, Path(bulletins_folder) / f"{key}.yaml", schedule=schedule)


def merge_summary_vi(drafted: Drafted) -> str:
    """What a drafting did, for the officer: counts and bulletin titles, no ids."""
    if drafted.merge is None:
        return f"Đã tạo {drafted.count} bản tin nháp."
    from loa.station.bulletins import list_bulletins

    try:
        titles = {b.id: b.title for b in list_bulletins(drafted.path).items}
    except LoaError:
        titles = {}

    def named(ids: list[str]) -> str:
        shown = [f"«{titles.get(i, i)}»" for i in ids[:5]]
        return ", ".join(shown) + (f" và {len(ids) - 5} bản tin khác" if len(ids) > 5 else "")

    m = drafted.merge
    parts = [f"giữ nguyên {len(m.kept)} bản tin (cùng phần sửa của cán bộ)"]
    if m.changed:
        parts.append(f"{len(m.changed)} bản tin có nội dung đổi, cần đọc lại rồi duyệt: "
                     + named(m.changed))
    if m.added:
        parts.append(f"thêm {len(m.added)} bản tin mới: " + named(m.added))
    if m.retired:
        parts.append(f"ngừng phát {len(m.retired)} bản tin không còn trong kế hoạch: "
                     + named(m.retired))
    return "Đã cập nhật bản nháp theo kế hoạch mới: " + "; ".join(parts) + "."
