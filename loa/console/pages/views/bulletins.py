"""Bản tin: every bulletin of the station by status; the editor with the text as the voice
will read it, Nghe thử (the clip in the page's audio element) and Gửi duyệt.

Editors edit, listen and submit; leaders read and listen; everyone logged in reads. A
bulletin is named in URLs by its file's key (station.bulletin_files) and its id: no path
is taken from a request. The work is the station layer's (loa.station)."""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import display_name, has_role, roles_required
from loa.errors import LoaError
from loa.log.labels import engine_label

DAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
# the list's groups, in the order an officer works through them
GROUPS = (("returned", "Bị trả lại"), ("draft", "Bản nháp"), ("pending", "Chờ duyệt"),
          ("reapprove", "Chờ duyệt lại"), ("approved", "Đã duyệt"),
          ("retired", "Ngừng phát"))
MAX_TEXT = 20_000  # characters: a bulletin is read in minutes, not hours
# a phone's half hour of AAC is ~30 MB; a WAV of ten minutes ~50 MB
RECORDING_MAX_BYTES = 100 * 1024 * 1024
FORM_SLACK = 64 * 1024  # the form's other fields and the multipart boundaries


def when_vi(iso: str | None) -> str:
    """'2026-11-30T06:30:00+07:00' -> '06:30 thứ Hai 30/11/2026' in the station's zone."""
    if not iso:
        return ""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if at.tzinfo is not None:
        at = at.astimezone(station.clock().now().tzinfo)
    return f"{at:%H:%M} {DAYS_VI[at.weekday()]} {at:%d/%m/%Y}"


def group_of(view) -> str:
    """A bulletin's group in the list: 'reapprove' when its approval no longer holds."""
    return "reapprove" if view.edited_after_approval or view.why_not else view.status


def shows_loa_errors(view):
    """A LoaError the view did not expect (a bulletins file broken by hand) is shown on
    the page in Vietnamese, with file and line; never a traceback."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except LoaError as exc:
            return render(request, "pages/bulletins/broken.html",
                          {"title": "Tệp bản tin có lỗi", "errors": problems_of(exc)},
                          status=400)

    return wrapped


def find(key: str, bid: str):
    """(path, bulletin, view) of one bulletin; 404 if the station has no such one."""
    path_ = station.bulletin_file(key)
    try:
        b, view = svc.show_bulletin(path_, bid)
    except LoaError as exc:
        if any("không có bản tin" in p.message for p in exc.problems):
            raise Http404("không có bản tin này") from exc
        raise
    return path_, b, view


def problems_of(exc: LoaError) -> list[str]:
    return [str(p) for p in exc.problems]


class BulletinForm(forms.Form):
    title = forms.CharField(label="Tiêu đề", max_length=300,
                            error_messages={"required": "Tiêu đề không được để trống.",
                                            "max_length": "Tiêu đề quá dài (tối đa 300 ký tự)."})
    text = forms.CharField(label="Lời đọc", max_length=MAX_TEXT, widget=forms.Textarea,
                           error_messages={"required": "Lời đọc không được để trống.",
                                           "max_length": "Lời đọc quá dài."})
    version = forms.CharField(widget=forms.HiddenInput, max_length=64)


def voicing():
    """The station's voices for this request (None if the schedule cannot be read: the
    page still shows the words, and says why there is no reading)."""
    try:
        return svc.Voicing(station.schedule_path())
    except LoaError:
        return None


def reading_of(b, voices) -> tuple[str, str]:
    """(the words as the voice reads them, a problem in Vietnamese or '')."""
    if voices is None:
        return "", "Lịch phát đang có lỗi nên chưa xem được cách máy đọc."
    try:
        return voices.reading(b.text, b.voice), ""
    except LoaError as exc:
        return "", "; ".join(problems_of(exc))


def clip_of(b, voices):
    try:
        return voices.find(b) if voices is not None else None
    except Exception:  # a damaged store: no listen, the words still show
        return None


def language_gaps(b) -> list[str]:
    """'Tiếng Mông (Bản Pà Cò)': each language the station's zones hear in which this
    bulletin has no approved version (those zones hear it in Vietnamese)."""
    from loa.languages import name_vi

    try:
        zones = station.load().schedule.zones.values()
    except LoaError:
        return []
    gaps: dict[str, list[str]] = {}
    for z in zones:
        for lang in z.languages:
            v = b.versions.get(lang)
            if lang != "vi" and (v is None or not v.is_approved):
                gaps.setdefault(lang, []).append(z.name)
    return [f"{name_vi(lang)} ({', '.join(names)})" for lang, names in gaps.items()]


def editor_context(request, key: str, path_, b, view, form=None, errors=(), conflict=None):
    voices = voicing()
    try:
        clip = clip_of(b, voices) if has_role(request.user, "editor", "leader") else None
        words, reading_problem = reading_of(b, voices)
    finally:
        if voices is not None:
            voices.close()
    can_edit = has_role(request.user, "editor") and b.status != "retired"
    if form is None and can_edit:
        form = BulletinForm(initial={"title": b.title, "text": b.text,
                                     "version": b.approval_hash()})
    return {
        "title": b.title, "key": key, "b": b, "view": view, "form": form,
        "can_edit": can_edit, "can_listen": has_role(request.user, "editor", "leader"),
        "can_submit": can_edit and not view.airs and b.status != "pending",
        "can_review": has_role(request.user, "leader") and (
            b.status == "pending" or view.edited_after_approval),
        "reading": words, "reading_problem": reading_problem, "clip": clip,
        "errors": list(errors), "conflict": conflict, "plan_title": plan_title(path_),
        "submitted_at": when_vi(b.submitted_at), "returned_at": when_vi(b.returned_at),
        "approved_at": when_vi(b.approved_at),
        "max_mb": max_recording_bytes() // (1024 * 1024),
        "max_bytes": max_recording_bytes(),
        "language_gaps": language_gaps(b) if b.status != "retired" else [],
    }


def plan_title(path_) -> str:
    try:
        return str(svc.show_bulletins(path_)[0].plan.get("title") or path_.stem)
    except LoaError:
        return path_.stem


@roles_required()
@shows_loa_errors
def index(request):
    """All bulletins of the station's files, grouped by status, counts per status."""
    wanted = request.GET.get("trang-thai", "")
    if wanted not in dict(GROUPS):
        wanted = ""
    groups: dict[str, list] = {code: [] for code, _ in GROUPS}
    files_problems: list[str] = []
    for key, path_ in station.bulletin_files().items():
        try:
            listed = svc.list_bulletins(path_)
        except LoaError as exc:
            files_problems += problems_of(exc)
            continue
        for item in listed.items:
            groups[group_of(item)].append({"key": key, "v": item,
                                           "plan": listed.plan_title or path_.stem})
    counts = [(code, label, len(groups[code])) for code, label in GROUPS if groups[code]]
    shown = [(code, label, groups[code]) for code, label in GROUPS
             if groups[code] and (not wanted or code == wanted)]
    return render(request, "pages/bulletins/index.html", {
        "title": "Bản tin", "counts": counts, "shown": shown, "wanted": wanted,
        "total": sum(len(v) for v in groups.values()), "errors": files_problems})


@roles_required()
@shows_loa_errors
def detail(request, key: str, bid: str):
    path_, b, view = find(key, bid)
    return render(request, "pages/bulletins/edit.html",
                  editor_context(request, key, path_, b, view))


@roles_required("editor")
@require_POST
@shows_loa_errors
def save(request, key: str, bid: str):
    path_, b, view = find(key, bid)
    form = BulletinForm(request.POST)
    if not form.is_valid():
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, b, view, form), status=400)
    data = form.cleaned_data
    before = b.title
    try:
        done = svc.edit_bulletin(path_, b.id, title=data["title"], text=data["text"],
                                 expected=data["version"])
    except LoaError as exc:
        path_, now, view = find(key, bid)
        conflict = now if now.approval_hash() != data["version"] else None
        if conflict is not None:  # keep the officer's words; saving again overwrites
            form = BulletinForm(initial={**data, "version": now.approval_hash()})
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, now, view, form, problems_of(exc),
                                     conflict), status=409 if conflict is not None else 400)
    audit.record(request, "bulletin.edit", done.title,
                 f"sửa bản tin (tiêu đề trước: “{before}”)" if before != done.title
                 else "sửa lời bản tin")
    if done.edited_after_approval:
        messages.success(request, f"Đã lưu “{done.title}”. Bản tin đã duyệt nay chờ duyệt "
                                  "lại: chưa duyệt lại thì không được phát.")
    else:
        messages.success(request, f"Đã lưu “{done.title}”.")
    return redirect("bulletin", key=key, bid=bid)


@roles_required("editor")
@require_POST
@shows_loa_errors
def submit(request, key: str, bid: str):
    path_, b, view = find(key, bid)
    try:
        (done,) = svc.submit_bulletins(path_, [b.id], display_name(request.user),
                                       station.clock())
    except LoaError as exc:
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, b, view, errors=problems_of(exc)),
                      status=400)
    audit.record(request, "bulletin.submit", done.title, "gửi duyệt")
    messages.success(request, f"Đã gửi duyệt “{done.title}”.")
    return redirect("bulletin", key=key, bid=bid)


@roles_required("editor", "leader")
@require_POST
@shows_loa_errors
def listen(request, key: str, bid: str):
    """Nghe thử: make the clip (offline voice if it is missing) and show it in the page."""
    path_, b, view = find(key, bid)
    back = (reverse("review") if request.POST.get("back") == "duyet"
            else reverse("bulletin", kwargs={"key": key, "bid": bid}))
    try:
        with svc.Voicing(station.schedule_path()) as voices:
            clip = voices.listen(b)
    except LoaError as exc:
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, b, view, errors=problems_of(exc)),
                      status=400)
    audit.record(request, "bulletin.listen", b.title, f"nghe thử ({engine_label(clip.engine)})")
    return redirect(f"{back}?nghe={key}/{bid}#nghe-thu")


@roles_required("editor", "leader")
@shows_loa_errors
def clip_wav(request, key: str, bid: str):
    """The clip of the bulletin as it is now; located by bulletin, never by a path."""
    path_, b, view = find(key, bid)
    with svc.Voicing(station.schedule_path()) as voices:
        clip = voices.find(b)
    if clip is None or not clip.path.is_file():
        raise Http404("chưa có bản đọc thử")
    resp = FileResponse(open(clip.path, "rb"), content_type="audio/wav")
    resp["Cache-Control"] = "private, max-age=3600"  # the URL names the clip's hash
    return resp


@roles_required("editor", "leader")
@shows_loa_errors
def version_wav(request, key: str, bid: str, lang: str):
    """A language version's recording as the translator's file was imported (a WAV in
    ghi-am/), located by bulletin and language, never by a path from the request."""
    path_, b, view = find(key, bid)
    version = b.versions.get(lang)
    audio = version.audio_path if version is not None else None
    if audio is None or not audio.is_file():
        raise Http404("không có bản ghi âm này")
    resp = FileResponse(open(audio, "rb"), content_type="audio/wav")
    resp["Cache-Control"] = "private, no-cache"  # same URL after a new recording
    return resp


@roles_required("editor")
@require_POST
@shows_loa_errors
def reading_preview(request, key: str, bid: str):
    """Live 'as the voice will read it' for the editor's unsaved words (JSON)."""
    path_, b, view = find(key, bid)
    text = request.POST.get("text", "")[:MAX_TEXT]
    try:
        with svc.Voicing(station.schedule_path()) as voices:
            words = voices.reading(text, b.voice)
    except LoaError as exc:
        return JsonResponse({"error": "; ".join(problems_of(exc))}, status=400)
    return JsonResponse({"reading": words})


def max_recording_bytes() -> int:
    return int(getattr(settings, "LOA_RECORDING_MAX_BYTES", RECORDING_MAX_BYTES))


def too_big_vi(size: int) -> str:
    limit = max_recording_bytes() / (1024 * 1024)
    return (f"tệp ghi âm quá lớn ({size / (1024 * 1024):.1f} MB); tối đa {limit:.0f} MB. Một "
            "bản tin vài phút ghi bằng điện thoại chỉ vài MB: hãy kiểm tra đúng tệp chưa.")


@csrf_exempt  # checked in _record, once the body is known to be of a sane size
@roles_required("editor")
@require_POST
@shows_loa_errors
def record(request, key: str, bid: str):
    """Thu âm: a file from the phone (its recorder app) or the browser's own recording,
    as the bulletin's body (loa.station.record_bulletin). An oversize body is refused
    before anything reads it."""
    path_, b, view = find(key, bid)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_recording_bytes() + FORM_SLACK:
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, b, view, errors=[too_big_vi(length)]),
                      status=413)
    return _record(request, key, path_, b, view)


@csrf_protect
def _record(request, key, path_, b, view):
    import tempfile
    from pathlib import Path

    def refuse(errors, status=400):
        return render(request, "pages/bulletins/edit.html",
                      editor_context(request, key, path_, b, view, errors=errors),
                      status=status)

    upload = request.FILES.get("audio")
    remove = request.POST.get("bo") == "1"
    if upload is None and not remove:
        return refuse(["Hãy chọn tệp ghi âm hoặc bấm “Ghi âm” để thu giọng đọc."])
    if upload is not None and upload.size > max_recording_bytes():
        return refuse([too_big_vi(upload.size)], 413)
    version = request.POST.get("version") or None
    try:
        if remove:
            done = svc.record_bulletin(path_, b.id, None, remove=True, expected=version)
        else:
            # ffmpeg reads a named file; its suffix helps it guess the format
            suffix = Path(upload.name or "").suffix.lower()
            suffix = suffix if suffix.isascii() and suffix[1:].isalnum() else ".bin"
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / f"ghi-am{suffix[:8]}"
                with open(src, "wb") as fh:
                    for chunk in upload.chunks():
                        fh.write(chunk)
                done = svc.record_bulletin(path_, b.id, src, expected=version)
    except LoaError as exc:
        # the temp name means nothing to the officer: name the file they sent
        # (ffmpeg's own words carry it bare: "ghi-am.docx: Invalid data…")
        shown = [p.message.replace(f"'{src.name}'", f"“{upload.name}”")
                 .replace(src.name, f"“{upload.name}”")
                 if not remove else p.message for p in exc.problems]
        return refuse(shown)
    if remove:
        audit.record(request, "bulletin.record", done.title,
                     "bỏ tệp ghi âm, trở lại đọc bằng máy")
        messages.success(request, f"Đã bỏ tệp ghi âm của “{done.title}”: bản tin sẽ được "
                                  "đọc bằng máy theo lời.")
    else:
        audit.record(request, "bulletin.record", done.title,
                     f"thu âm giọng đọc (tệp “{upload.name}”, {upload.size // 1024} KB)")
        messages.success(request, f"Đã nhận giọng đọc thu âm cho “{done.title}”. Nghe thử "
                                  "bên dưới.")
        try:  # the listen player of what will air, made now (local, a second or two)
            with svc.Voicing(station.schedule_path()) as voices:
                voices.listen(done)
        except LoaError as exc:
            messages.warning(request, "; ".join(problems_of(exc)))
    if done.edited_after_approval:
        messages.warning(request, "Bản tin đã duyệt nay chờ duyệt lại: chưa duyệt lại thì "
                                  "không được phát.")
    return redirect("bulletin", key=key, bid=b.id)


urlpatterns = [
    path("", index, name="bulletins"),
    path("<str:key>/<str:bid>/", detail, name="bulletin"),
    path("<str:key>/<str:bid>/luu/", save, name="bulletin-save"),
    path("<str:key>/<str:bid>/gui-duyet/", submit, name="bulletin-submit"),
    path("<str:key>/<str:bid>/nghe-thu/", listen, name="bulletin-listen"),
    path("<str:key>/<str:bid>/nghe-thu.wav", clip_wav, name="bulletin-wav"),
    path("<str:key>/<str:bid>/ban/<str:lang>.wav", version_wav, name="bulletin-version-wav"),
    path("<str:key>/<str:bid>/cach-doc/", reading_preview, name="bulletin-reading"),
    path("<str:key>/<str:bid>/ghi-am/", record, name="bulletin-record"),
]
