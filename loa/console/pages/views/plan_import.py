"""Reading an uploaded plan in the background for the Kế hoạch page: one plan file (.txt
.docx .pdf .doc .odt .rtf) or photos of its pages (OCR takes seconds a page, LibreOffice
a few), with progress; once read, the station keeps it (st_plans.keep_plan) and the
officer lands on the plan's page. The old "Nhập kế hoạch" addresses redirect here.

The reading runs in a worker thread of this process and reports only into `_LIVE`; the
database is written by request threads alone (the status poll, the pages), so a worker
never competes with them for SQLite's lock. A job the database calls running that this
process does not know was cut off by a restart: it is marked failed when next seen."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import display_name, roles_required
from loa.console.pages.models import ImportJob
from loa.errors import LoaError
from loa.station import plans as st_plans

log = logging.getLogger(__name__)

ROLES = ("editor",)  # as the Kế hoạch page
DOCS = st_plans.KINDS
PHOTOS = st_plans.PHOTOS
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
    entry: object | None = None  # the stored plan (st_plans.Uploaded)
    errors: list[str] = field(default_factory=list)


_LIVE: dict[int, Live] = {}
_lock = threading.RLock()  # _LIVE, and "one job per user" between two quick uploads
# OCR takes the CPU (a Pi has four slow cores): two officers' plans are read in turn
_turn = threading.Semaphore(1)


def _work(job_id: int, paths: list[Path], names: dict[str, str], workdir: Path,
          keep: dict) -> None:
    live = _LIVE[job_id]

    def progress(done: int, total: int) -> None:
        live.done, live.total = done, total

    try:
        with _turn:
            live.waiting = False
            plan = svc.read_plan(paths[0] if len(paths) == 1 else paths,
                                 progress=progress)
        shown = [names[p.name] for p in paths]
        live.entry = st_plans.keep_plan(plan, paths, shown, **keep)
        live.plan = plan
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


def _result(up) -> dict:
    """What the job keeps of the stored plan, as plain data."""
    e = up.entry
    return {"title": e.title, "key": e.key, "revised": up.revised, "topics": e.topics,
            "original_name": e.original_name,
            "warnings": [w for w in (e.garbled, e.ocr) if w]}


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
        if live.entry is not None:
            r = job.result = _result(live.entry)
            job.state, job.key = ImportJob.DONE, r["key"]
            what = "bản sửa đổi của kế hoạch" if r["revised"] else "kế hoạch"
            audit.record(None, "plan.upload", f"kế hoạch «{r['title'] or r['original_name']}»",
                         f"tải lên {what}, tệp «{r['original_name']}», {r['topics']} mục nội "
                         "dung" + "".join(f"; {w}" for w in r["warnings"]), user=job.user)
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


class TooBig(LoaError):
    """An upload over the size limits (HTTP 413)."""


def _check(files) -> bool:
    """Raise LoaError (Vietnamese) unless `files` is one document or photos of pages;
    True for photos."""
    if not files:
        raise LoaError("Hãy chọn tệp kế hoạch để tải lên.")
    kinds = [_kind(f.name) for f in files]
    for f in files:
        st_plans.check_kind(st_plans.display_name(f.name), photos_too=True)
        if f.size == 0:
            raise LoaError("tệp trống (0 byte).", st_plans.display_name(f.name))
        if f.size > max_bytes():
            raise TooBig(st_plans.too_big_vi(f.size, max_bytes()), st_plans.display_name(f.name))
    photos = kinds[0] in PHOTOS
    if len(files) > 1 and not all(k in PHOTOS for k in kinds):
        raise LoaError("Chỉ tải lên MỘT tệp kế hoạch, hoặc nhiều ẢNH chụp các trang của cùng "
                       "một kế hoạch (không trộn tệp văn bản với ảnh).")
    if len(files) > MAX_PHOTOS:
        raise LoaError(f"Quá nhiều ảnh ({len(files)}); một lần nhập tối đa {MAX_PHOTOS} trang.")
    total = sum(f.size for f in files)
    if total > max_total():
        raise TooBig(f"Các ảnh cộng lại quá lớn ({total / (1024 * 1024):.1f} MB); tối đa "
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
            st_plans.sniff(head, suffix, shown)
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


def _sweep() -> None:
    """Cut-off readings of any user ended as failed, and the upload folders no reading
    of this process holds removed: a plan uploaded before a crash must not stay on disk
    because its officer never came back to see it. Under _lock."""
    for job in ImportJob.objects.filter(state=ImportJob.RUNNING):
        _sync(job)
    held = {Path(w) for w in ImportJob.objects.filter(
        state=ImportJob.RUNNING).values_list("workdir", flat=True) if w}
    home = workdir_home()
    if home.is_dir():
        for d in home.glob("job-*"):
            if d not in held:
                shutil.rmtree(d, ignore_errors=True)


def start(request, files, *, revises: str | None) -> tuple[ImportJob | None, list[str], int]:
    """Check an upload, put it aside and start reading it: (the job, [], 0), or (None,
    Vietnamese errors, HTTP status) with nothing left on disk. CSRF is the caller's."""
    try:
        photos = _check(files)
    except LoaError as exc:
        return None, [str(p) for p in exc.problems], 413 if isinstance(exc, TooBig) else 400
    try:  # where the plan will be kept: a full or read-only disk is said now, not after OCR
        st_plans.check_room(station.plans_dir(), sum(f.size for f in files))
    except LoaError as exc:
        return None, [str(p) for p in exc.problems], 400
    with _lock:
        _sweep()
        busy = _running(request.user)
        if busy is not None:
            return None, ["Bạn đang có một kế hoạch đang được đọc; hãy chờ xong rồi tải lên "
                          "kế hoạch khác."], 409
        try:
            workdir, paths, names = _store(files, photos)
        except LoaError as exc:
            return None, [str(p) for p in exc.problems], 400
        except OSError as exc:  # a full disk: said, not a traceback
            from loa.fsio import loa_error

            return None, [str(p) for p in loa_error(exc, workdir_home()).problems], 507
        shown = [st_plans.display_name(f.name) for f in files]
        job = ImportJob.objects.create(user=request.user, created=_now(), names=shown,
                                       photos=photos, workdir=str(workdir),
                                       pages_total=len(files) if photos else 0)
        _LIVE[job.id] = Live(total=job.pages_total)
    what = f"{len(files)} ảnh chụp" if photos else f"tệp «{shown[0]}»"
    audit.record(request, "plan.import_start", f"tệp {', '.join(shown)}",
                 f"bắt đầu đọc kế hoạch từ {what}")
    keep = {"folder": station.plans_dir(), "by": display_name(request.user),
            "now": station.clock().now(), "revises": revises}
    threading.Thread(target=_work, args=(job.id, paths, names, workdir, keep),
                     name=f"plan-import-{job.id}", daemon=True).start()
    _prune(request.user)
    return job, [], 0


def recent(user) -> list[ImportJob]:
    """The user's recent readings, the running ones brought up to date."""
    jobs = list(ImportJob.objects.filter(user=user)[:KEEP_JOBS])
    return [_sync(j) for j in jobs]


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


def _page(request, job: ImportJob):
    if job.state == ImportJob.DONE and job.key:
        r = job.result
        what = "bản sửa đổi của kế hoạch" if r.get("revised") else "kế hoạch"
        if not job.shown:  # said once, on the first view of the result
            name = r.get("title") or r.get("original_name")
            messages.success(request, f"Đã tải lên {what} «{name}»: "
                                      f"{r.get('topics', 0)} mục nội dung."
                             + (" Bấm «Tạo bản nháp» để cập nhật bản nháp theo bản mới."
                                if r.get("revised") else ""))
            job.shown = True
            job.save(update_fields=["shown"])
        return redirect("plan", key=job.key)
    if job.state == ImportJob.FAILED and not job.shown:  # seen: Kế hoạch stops pointing here
        job.shown = True
        job.save(update_fields=["shown"])
    return render(request, "pages/plan_import/job.html", {
        "title": "Đang đọc kế hoạch" if job.state == ImportJob.RUNNING
        else "Không đọc được kế hoạch", "job": job, "progress": progress_vi(job),
        "poll_ms": POLL_MS, "errors": list(job.errors)},
        status=400 if job.state == ImportJob.FAILED else 200)  # the file was not a plan


@roles_required(*ROLES)
def job_page(request, job: int):
    return _page(request, _job(request, job))


@roles_required(*ROLES)
def job_status(request, job: int):
    j = _job(request, job)
    return JsonResponse({"state": j.state, "done": j.pages_done, "total": j.pages_total,
                         "text": progress_vi(j), "finished": j.state != ImportJob.RUNNING})


@roles_required(*ROLES)
def old_index(request):
    """The day-old "Nhập kế hoạch" address: uploading is on Kế hoạch now."""
    return redirect("plans")


@roles_required(*ROLES)
def old_job(request, job: int):
    return redirect("import_job", job=job)


# under /ke-hoach/ (the Kế hoạch page's own urls include these)
job_urls = [
    path("dang-doc/<int:job>/", job_page, name="import_job"),
    path("dang-doc/<int:job>/trang-thai.json", job_status, name="import_status"),
]

# under /nhap-ke-hoach/
urlpatterns = [
    path("", old_index, name="import_plan"),
    path("<int:job>/", old_job, name="import_job_old"),
]
