"""Nhập kế hoạch: one plan file (.txt .docx .pdf .doc .odt .rtf) or photos of its pages,
read in the background (OCR takes seconds a page), its topics shown, then drafted.

The reading runs in a worker thread of this process and reports only into `_LIVE`; the
database is written by request threads alone (the status poll, the pages), so a worker
never competes with them for SQLite's lock. A job the database calls running that this
process does not know was cut off by a restart: it is marked failed when next seen."""

from __future__ import annotations

import inspect
import logging
import pickle
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import roles_required
from loa.console.pages.models import ImportJob
from loa.errors import LoaError
from loa.station import plans as st_plans

log = logging.getLogger(__name__)

ROLES = ("editor", "admin")
DOCS = {".txt": "văn bản", ".docx": "Word", ".pdf": "PDF", ".doc": "Word cũ",
        ".odt": "OpenDocument", ".rtf": "RTF"}
PHOTOS = {".jpg": "ảnh JPEG", ".jpeg": "ảnh JPEG", ".png": "ảnh PNG", ".heic": "ảnh HEIC",
          ".heif": "ảnh HEIC", ".webp": "ảnh WebP", ".tif": "ảnh TIFF", ".tiff": "ảnh TIFF"}
ACCEPT = "image/*," + ",".join(list(DOCS) + list(PHOTOS))
MAX_PHOTOS = 30  # pages of one plan; a real plan has 2–10
KEEP_JOBS = 10  # per user; older results are dropped
POLL_MS = 1500
FORM_SLACK = 64 * 1024
RESTARTED = ("Máy chủ của bảng điều khiển đã khởi động lại trong khi đang đọc kế hoạch này; "
             "hãy tải lên lần nữa.")
BROKEN = ("không đọc được tệp này (tệp có thể bị hỏng); hãy mở bằng Word hoặc LibreOffice, "
          "lưu lại rồi tải lên lần nữa.")


def max_bytes() -> int:
    """One file's limit: the Kế hoạch page's."""
    return settings.PLAN_MAX_BYTES


def max_total() -> int:
    """All photos of one plan together."""
    return getattr(settings, "PLAN_IMPORT_MAX_BYTES", 3 * settings.PLAN_MAX_BYTES)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


# --- the worker ----------------------------------------------------------------------------


@dataclass
class Live:
    """A job being read in this process, as its worker reports it."""

    done: int = 0
    total: int = 0
    waiting: bool = True  # for its turn: one plan is read at a time
    finished: bool = False
    plan: object | None = None
    errors: list[str] = field(default_factory=list)


_LIVE: dict[int, Live] = {}
_lock = threading.RLock()  # _LIVE, and "one job per user" between two quick uploads
# OCR takes the CPU (a Pi has four slow cores): two officers' plans are read in turn
_turn = threading.Semaphore(1)


def _read(paths: list[Path], progress) -> object:
    """svc.read_plan with a progress callback and a list of photos where it takes them
    (the OCR reader adds both); a single path otherwise."""
    params = inspect.signature(svc.read_plan).parameters
    arg = paths[0] if len(paths) == 1 else paths
    if "progress" in params:
        return svc.read_plan(arg, progress=progress)
    if len(paths) > 1:
        raise LoaError("bản loa này chưa đọc được nhiều ảnh chụp của một kế hoạch; hãy tải lên "
                       "tệp kế hoạch (.docx, .pdf hoặc .txt).")
    return svc.read_plan(arg)


def _work(job_id: int, paths: list[Path], names: dict[str, str], workdir: Path) -> None:
    live = _LIVE[job_id]

    def progress(done: int, total: int) -> None:
        live.done, live.total = done, total

    try:
        with _turn:
            live.waiting = False
            live.plan = _read(paths, progress)
    except LoaError as exc:  # the reader names the temp file: name the officer's
        for p in exc.problems:
            if p.path is not None:
                p.path = names.get(Path(p.path).name, names.get(str(p.path), p.path))
        live.errors = [str(p) for p in exc.problems]
    except Exception:  # a parser's bug must not leave the page waiting forever
        log.exception("reading imported plan %s", list(names.values()))
        live.errors = [f"{', '.join(names.values())}: {BROKEN}"]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        live.finished = True


def _describe(obj) -> str:
    try:
        return str(obj.describe())
    except Exception:  # a warning must not hide the result
        log.exception("describing %r", obj)
        return ""


def _result(plan) -> dict:
    """What the result page shows, as plain data."""
    garbled, ocr_note = "", ""
    q = getattr(plan, "quality", None)
    if q is not None and getattr(q, "garbled", False):
        garbled = ("Chữ trong kế hoạch có vẻ bị lỗi (mất dấu hoặc nhận dạng sai): "
                   f"{_describe(q)}. Bản tin soạn ra cần được gõ lại trước khi duyệt.")
    ocr = getattr(plan, "ocr", None)  # the pages read by OCR, and how sure
    if ocr is not None:
        ocr_note = _describe(ocr)
    return {"title": plan.title, "issuer": plan.issuer, "number": plan.number,
            "place_date": plan.place_date,
            "topics": [{"path": t.path, "title": t.title, "heading": t.heading}
                       for t in plan.topics],
            "garbled": garbled, "ocr": ocr_note,
            "warnings": [w for w in (garbled, ocr_note) if w]}


def _sync(job: ImportJob) -> ImportJob:
    """Bring a running job's row up to what its worker reported (or to failed, if no
    worker of this process has it). Under the lock, on a fresh row: two polls at once
    must not both take the finished report, the second calling it lost."""
    if job.state != ImportJob.RUNNING:
        return job
    with _lock:
        job.refresh_from_db()
        if job.state != ImportJob.RUNNING:
            return job
        live = _LIVE.get(job.id)
        if live is None:
            job.state, job.errors = ImportJob.FAILED, [RESTARTED]
            if job.workdir:
                shutil.rmtree(job.workdir, ignore_errors=True)
            job.workdir = ""
            job.save()
            return job
        job.pages_done, job.pages_total = live.done, live.total
        job.waiting = live.waiting
        if not live.finished:
            job.save(update_fields=["pages_done", "pages_total"])
            return job
        del _LIVE[job.id]
        job.workdir = ""
        names = ", ".join(job.names)
        if live.plan is not None:
            job.state, job.result = ImportJob.DONE, _result(live.plan)
            job.plan = pickle.dumps(live.plan)
            n = len(job.result["topics"])
            audit.record(None, "plan.import", f"kế hoạch «{job.result['title'] or names}»",
                         f"đọc xong tệp {names}: {n} mục nội dung"
                         + "".join(f"; {w}" for w in job.result["warnings"]), user=job.user)
        else:
            job.state, job.errors = ImportJob.FAILED, live.errors or [BROKEN]
            audit.record(None, "plan.import_failed", f"tệp {names}",
                         "; ".join(job.errors)[:1000], user=job.user)
        job.save()
        return job


def _running(user) -> ImportJob | None:
    for job in ImportJob.objects.filter(user=user, state=ImportJob.RUNNING):
        if _sync(job).state == ImportJob.RUNNING:
            return job
    return None


# --- the upload ----------------------------------------------------------------------------


def _kind(name: str) -> str:
    return Path(name).suffix.lower()


def _sniff(head: bytes, suffix: str, name: str) -> None:
    """Refuse a file whose content is not what its name says."""
    if suffix in (".txt", ".docx", ".pdf"):
        return st_plans.sniff(head, suffix, name)
    ok = {".doc": head.startswith(b"\xd0\xcf\x11\xe0"),
          ".odt": head.startswith(b"PK\x03\x04"),
          ".rtf": head.lstrip(b"\xef\xbb\xbf").startswith(b"{\\rtf"),
          ".jpg": head.startswith(b"\xff\xd8\xff"), ".jpeg": head.startswith(b"\xff\xd8\xff"),
          ".png": head.startswith(b"\x89PNG\r\n\x1a\n"),
          ".heic": head[4:8] == b"ftyp", ".heif": head[4:8] == b"ftyp",
          ".webp": head[:4] == b"RIFF" and head[8:12] == b"WEBP",
          ".tif": head[:4] in (b"II*\0", b"MM\0*"), ".tiff": head[:4] in (b"II*\0", b"MM\0*")}[suffix]
    if not ok:
        what = DOCS.get(suffix) or PHOTOS[suffix]
        raise LoaError(f"nội dung tệp không phải {what} như đuôi {suffix} cho biết; hãy chọn "
                       "đúng tệp kế hoạch.", name)


def _check(files) -> bool:
    """Raise LoaError (Vietnamese) unless `files` is one document or photos of pages;
    True for photos."""
    if not files:
        raise LoaError("Hãy chọn tệp kế hoạch hoặc ảnh chụp các trang để tải lên.")
    kinds = [_kind(f.name) for f in files]
    for f, k in zip(files, kinds, strict=True):
        if k not in DOCS and k not in PHOTOS:
            shown = f"đuôi '{k}'" if k else "không có đuôi"
            raise LoaError("chỉ nhận kế hoạch dạng .docx, .pdf, .txt, .doc, .odt, .rtf hoặc ảnh "
                           f"chụp .jpg, .png, .heic; tệp này {shown}.",
                           st_plans.display_name(f.name))
        if f.size == 0:
            raise LoaError("tệp trống (0 byte).", st_plans.display_name(f.name))
        if f.size > max_bytes():
            raise LoaError(st_plans.too_big_vi(f.size, max_bytes()), st_plans.display_name(f.name))
    photos = kinds[0] in PHOTOS
    if len(files) > 1 and not all(k in PHOTOS for k in kinds):
        raise LoaError("Chỉ tải lên MỘT tệp kế hoạch, hoặc nhiều ẢNH chụp các trang của cùng "
                       "một kế hoạch (không trộn tệp văn bản với ảnh).")
    if len(files) > MAX_PHOTOS:
        raise LoaError(f"Quá nhiều ảnh ({len(files)}); một lần nhập tối đa {MAX_PHOTOS} trang.")
    total = sum(f.size for f in files)
    if total > max_total():
        raise LoaError(f"Các ảnh cộng lại quá lớn ({total / (1024 * 1024):.1f} MB); tối đa "
                       f"{_mb(max_total())}. Hãy chụp ở cỡ ảnh nhỏ hơn.")
    return photos


def _store(files, photos: bool) -> tuple[Path, list[Path], dict[str, str]]:
    """The upload in a private folder under the station's data dir (removed once read):
    paths in page order, and {temp name: the officer's name}."""
    from loa.settings import data_dir

    home = data_dir() / "nhap-ke-hoach"
    home.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="job-", dir=home))  # mode 0700
    paths, names = [], {}
    try:
        for i, f in enumerate(files, 1):
            suffix = _kind(f.name)
            shown = st_plans.display_name(f.name)
            p = workdir / (f"trang-{i:02d}{suffix}" if photos else f"ke-hoach{suffix}")
            head = b""
            with open(p, "wb") as out:
                for chunk in f.chunks():
                    if len(head) < 4096:
                        head += chunk[:4096 - len(head)]
                    out.write(chunk)
            _sniff(head, suffix, shown)
            paths.append(p)
            names[p.name], names[str(p)] = shown, shown
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir, paths, names


def _too_big(request) -> int:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length if length > max_total() + FORM_SLACK else 0


def _form(request, errors=(), status=200):
    jobs = list(ImportJob.objects.filter(user=request.user)[:KEEP_JOBS])
    return render(request, "pages/plan_import/form.html", {
        "title": "Nhập kế hoạch", "errors": errors, "accept": ACCEPT, "jobs": jobs,
        "running": next((j for j in jobs if j.state == ImportJob.RUNNING), None),
        "max_bytes": max_bytes(), "max_mb": _mb(max_bytes()), "max_total": max_total(),
        "max_total_mb": _mb(max_total()), "max_photos": MAX_PHOTOS}, status=status)


@csrf_exempt  # checked in _start, once the body is known to be of a sane size
@roles_required(*ROLES)
def index(request):
    if request.method != "POST":
        for job in ImportJob.objects.filter(user=request.user, state=ImportJob.RUNNING):
            _sync(job)
        return _form(request)
    size = _too_big(request)
    if size:
        return _form(request, [f"Tải lên quá lớn ({size / (1024 * 1024):.1f} MB); một kế hoạch "
                               f"tối đa {_mb(max_total())}."], status=413)
    return _start(request)


@csrf_protect
def _start(request):
    files = request.FILES.getlist("plan")
    try:
        photos = _check(files)
    except LoaError as exc:
        return _form(request, [str(p) for p in exc.problems], status=400)
    with _lock:
        busy = _running(request.user)
        if busy is not None:
            return _form(request, ["Bạn đang có một kế hoạch đang được đọc; hãy chờ xong rồi "
                                   "nhập kế hoạch khác."], status=409)
        try:
            workdir, paths, names = _store(files, photos)
        except LoaError as exc:
            return _form(request, [str(p) for p in exc.problems], status=400)
        except OSError as exc:  # a full disk: said, not a traceback
            from loa.fsio import loa_error

            return _form(request, [str(p) for p in loa_error(exc, workdir_home()).problems],
                         status=507)
        shown = [st_plans.display_name(f.name) for f in files]
        job = ImportJob.objects.create(user=request.user, created=_now(), names=shown,
                                       photos=photos, workdir=str(workdir),
                                       pages_total=len(files) if photos else 0)
        _LIVE[job.id] = Live(total=job.pages_total)
    what = f"{len(files)} ảnh chụp" if photos else f"tệp «{shown[0]}»"
    audit.record(request, "plan.import_start", f"tệp {', '.join(shown)}",
                 f"bắt đầu đọc kế hoạch từ {what}")
    threading.Thread(target=_work, args=(job.id, paths, names, workdir),
                     name=f"plan-import-{job.id}", daemon=True).start()
    _prune(request.user)
    return redirect("import_job", job=job.id)


def workdir_home() -> Path:
    from loa.settings import data_path

    return data_path() / "nhap-ke-hoach"


def _now():
    if settings.LOA_CLOCK is not None:
        return settings.LOA_CLOCK.now()
    from django.utils import timezone

    return timezone.now()


def _prune(user) -> None:
    old = ImportJob.objects.filter(user=user).exclude(state=ImportJob.RUNNING)[KEEP_JOBS:]
    ImportJob.objects.filter(pk__in=[j.pk for j in old]).delete()


# --- the job -------------------------------------------------------------------------------


def _job(request, job_id: int) -> ImportJob:
    """The user's own job (another's is not found: it is not theirs to see)."""
    try:
        return _sync(ImportJob.objects.get(pk=job_id, user=request.user))
    except ImportJob.DoesNotExist:
        raise Http404("không có lần nhập kế hoạch này") from None


def progress_vi(job: ImportJob) -> str:
    if job.state == ImportJob.DONE:
        return "Đã đọc xong."
    if job.state == ImportJob.FAILED:
        return "Không đọc được kế hoạch."
    if getattr(job, "waiting", False):
        return "Đang chờ đến lượt: máy đang đọc một kế hoạch khác…"
    if job.pages_total:
        page = min(job.pages_done + 1, job.pages_total)
        return f"Đang đọc trang {page}/{job.pages_total}…"
    return "Đang đọc kế hoạch…"


def _page(request, job: ImportJob, errors=(), status=200):
    topics = job.result.get("topics", [])
    return render(request, "pages/plan_import/job.html", {
        "title": job.result.get("title") or "Nhập kế hoạch", "job": job, "r": job.result,
        "topics": topics, "progress": progress_vi(job), "poll_ms": POLL_MS,
        "errors": list(job.errors) + list(errors),
        "drafts_url": reverse("bulletins")}, status=status)


@roles_required(*ROLES)
def job_page(request, job: int):
    return _page(request, _job(request, job))


@roles_required(*ROLES)
def job_status(request, job: int):
    j = _job(request, job)
    return JsonResponse({"state": j.state, "done": j.pages_done, "total": j.pages_total,
                         "text": progress_vi(j), "finished": j.state != ImportJob.RUNNING})


def _draft_key(job: ImportJob, plan) -> str:
    """The bulletins file: named as the Kế hoạch page names the same file's drafts, so a
    plan imported again merges into its drafts; photos are named by the plan's number."""
    if not job.photos:
        return st_plans.plan_key(job.names[0])
    number = (plan.number or "").strip()
    return st_plans.plan_key(f"ke-hoach-{number if number[:1].isdigit() else 'anh-chup'}.x")


@roles_required(*ROLES)
def draft(request, job: int):
    j = _job(request, job)
    if request.method != "POST":
        return redirect("import_job", job=j.id)
    if j.state != ImportJob.DONE or j.plan is None:
        return _page(request, j, ["Kế hoạch chưa đọc xong nên chưa soạn được bản tin."], 409)
    try:
        plan = pickle.loads(bytes(j.plan))
    except Exception:  # a result kept from an older loa
        log.exception("unpickling import job %s", j.id)
        return _page(request, j, ["Kết quả đọc cũ không dùng được nữa; hãy tải kế hoạch lên "
                                  "lần nữa."], 409)
    key = j.key or _draft_key(j, plan)
    plan.plan_id = key
    plan.source = Path(j.names[0])  # the drafts name the officer's file, not the temp one
    try:
        drafted = svc.draft_bulletins(plan, station.bulletins_dir() / f"{key}.yaml",
                                      schedule=station.schedule_path())
    except LoaError as exc:
        return _page(request, j, [str(p) for p in exc.problems], status=400)
    summary = st_plans.merge_summary_vi(drafted)
    j.key, j.drafted = key, summary
    j.save(update_fields=["key", "drafted"])
    audit.record(request, "plan.draft", f"kế hoạch «{plan.title or ', '.join(j.names)}»",
                 f"{summary} (tệp bulletins/{drafted.path.name})")
    messages.success(request, summary)
    return redirect("import_job", job=j.id)


urlpatterns = [
    path("", index, name="import_plan"),
    path("<int:job>/", job_page, name="import_job"),
    path("<int:job>/trang-thai.json", job_status, name="import_status"),
    path("<int:job>/soan-ban-tin/", draft, name="import_draft"),
]
