"""Kế hoạch: upload a plan, see its topics, draft its bulletins (editors).

The upload view refuses an oversize body BEFORE anything reads it: CSRF's check reads the
form, so that check runs inside the view, after the size is known to be sane."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import display_name, roles_required
from loa.console.pages.views.audit import vi_when
from loa.errors import LoaError
from loa.station import plans as st_plans

# room for the form's other fields and multipart boundaries around the file itself
FORM_SLACK = 64 * 1024


class UploadForm(forms.Form):
    plan = forms.FileField(
        label="Tệp kế hoạch (.docx, .pdf hoặc .txt)",
        error_messages={"required": "Hãy chọn tệp kế hoạch để tải lên.",
                        "empty": "Tệp trống (0 byte).", "invalid": "Không nhận được tệp."},
        widget=forms.ClearableFileInput(attrs={"accept": ".docx,.pdf,.txt"}))
    revises = forms.ChoiceField(label="Đây là", required=False)

    def __init__(self, *args, entries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["revises"].choices = [("", "kế hoạch mới")] + [
            (e.key, f"bản sửa đổi của: {e.title or e.original_name}") for e, _ in entries]
        self.fields["revises"].error_messages["invalid_choice"] = (
            "Không có kế hoạch cần thay này; hãy tải lại trang.")


def _too_big(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return length > settings.PLAN_MAX_BYTES + FORM_SLACK


def _index(request, form=None, errors=(), status=200):
    entries = st_plans.list_plans(station.plans_dir(), station.bulletins_dir())
    tz = station.clock().now().tzinfo
    rows = [{"entry": e, "drafts": d, "when": vi_when(e.uploaded, tz)} for e, d in entries]
    return render(request, "pages/plans/index.html", {
        "title": "Kế hoạch", "rows": rows, "errors": errors,
        "form": form or UploadForm(entries=entries),
        "max_bytes": settings.PLAN_MAX_BYTES,
        "max_mb": settings.PLAN_MAX_BYTES // (1024 * 1024)}, status=status)


@roles_required("editor")
def index(request):
    return _index(request)


@csrf_exempt  # checked in _upload, once the body is known to be of a sane size
@roles_required("editor")
def upload(request):
    if request.method != "POST":
        return redirect("plans")
    if _too_big(request):
        size = int(request.META["CONTENT_LENGTH"])
        msg = st_plans.too_big_vi(size, settings.PLAN_MAX_BYTES)
        return _index(request, errors=[msg], status=413)
    return _upload(request)


@csrf_protect
def _upload(request):
    entries = st_plans.list_plans(station.plans_dir(), station.bulletins_dir())
    form = UploadForm(request.POST, request.FILES, entries=entries)
    if not form.is_valid():
        errs = [e for es in form.errors.values() for e in es]
        return _index(request, form, errs, status=400)
    f = form.cleaned_data["plan"]
    if f.size > settings.PLAN_MAX_BYTES:
        return _index(request, form, [st_plans.too_big_vi(f.size, settings.PLAN_MAX_BYTES)],
                      status=413)
    try:
        up = st_plans.store_plan(f, f.name, station.plans_dir(), by=display_name(request.user),
                                 now=station.clock().now(),
                                 revises=form.cleaned_data["revises"] or None,
                                 max_bytes=settings.PLAN_MAX_BYTES)
    except LoaError as exc:
        return _index(request, form, [str(p) for p in exc.problems], status=400)
    e = up.entry
    what = "bản sửa đổi của kế hoạch" if up.revised else "kế hoạch"
    audit.record(request, "plan.upload", f"kế hoạch «{e.title or e.original_name}»",
                 f"tải lên {what}, tệp «{e.original_name}», {e.topics} mục nội dung")
    messages.success(request, f"Đã tải lên {what} «{e.title or e.original_name}»: "
                              f"{e.topics} mục nội dung."
                     + (" Bấm «Tạo bản nháp» để cập nhật bản nháp theo bản mới."
                        if up.revised else ""))
    return redirect("plan", key=e.key)


def _entry(key):
    try:
        return st_plans.get_plan(station.plans_dir(), key)
    except KeyError:
        raise Http404("không có kế hoạch này") from None


def _detail(request, key, errors=(), status=200):
    entry = _entry(key)
    topics, problems = entry.topic_list, list(errors)
    if not topics:  # a plan stored without its topics noted (by hand): read it now
        try:
            _, plan = st_plans.open_plan(station.plans_dir(), key)
            topics = [{"path": t.path, "title": t.title, "heading": t.heading}
                      for t in plan.topics]
        except LoaError as exc:
            problems += [str(p) for p in exc.problems]
            status = status if status != 200 else 400
    tz = station.clock().now().tzinfo
    return render(request, "pages/plans/detail.html", {
        "title": entry.title or entry.original_name, "entry": entry, "topics": topics,
        "errors": problems, "when": vi_when(entry.uploaded, tz),
        "drafts": st_plans.drafts_of(key, station.bulletins_dir()),
        "versions": [{**v, "when": vi_when(v["uploaded_at"], tz)} for v in entry.versions]},
        status=status)


@roles_required("editor")
def detail(request, key):
    return _detail(request, key)


@roles_required("editor")
def draft(request, key):
    entry = _entry(key)
    if request.method != "POST":
        return redirect("plan", key=key)
    try:
        drafted = st_plans.draft_plan(station.plans_dir(), key, station.bulletins_dir(),
                                      station.schedule_path())
    except LoaError as exc:
        return _detail(request, key, [str(p) for p in exc.problems], status=400)
    summary = st_plans.merge_summary_vi(drafted)
    audit.record(request, "plan.draft", f"kế hoạch «{entry.title or entry.original_name}»",
                 f"{summary} (tệp bulletins/{drafted.path.name})")
    messages.success(request, summary)
    return redirect("plan", key=key)


urlpatterns = [
    path("", index, name="plans"),
    path("tai-len/", upload, name="plans-upload"),
    path("<slug:key>/", detail, name="plan"),
    path("<slug:key>/ban-nhap/", draft, name="plan-draft"),
]
