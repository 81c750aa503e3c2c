"""Kế hoạch: upload a plan (any file the reader reads, or photos of its pages), follow its
reading in the background, see its topics, draft its bulletins (editors).

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
from loa.console.accounts.roles import roles_required
from loa.console.pages.models import ImportJob
from loa.console.pages.views import plan_import
from loa.console.pages.views.audit import vi_when
from loa.errors import LoaError
from loa.station import plans as st_plans


class UploadForm(forms.Form):
    """The revision choice; the files (one document, or photos of pages) are checked by
    plan_import.start, as a form field takes only one."""

    revises = forms.ChoiceField(label="Đây là", required=False)

    def __init__(self, *args, entries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["revises"].choices = [("", "kế hoạch mới")] + [
            (e.key, f"bản sửa đổi của: {e.title or e.original_name}") for e, _ in entries]
        self.fields["revises"].error_messages["invalid_choice"] = (
            "Không có kế hoạch cần thay này; hãy tải lại trang.")


def _index(request, form=None, errors=(), status=200):
    entries = st_plans.list_plans(station.plans_dir(), station.bulletins_dir())
    tz = station.clock().now().tzinfo
    rows = [{"entry": e, "drafts": d, "when": vi_when(e.uploaded, tz)} for e, d in entries]
    return render(request, "pages/plans/index.html", {
        "title": "Kế hoạch", "rows": rows, "errors": errors,
        "form": form or UploadForm(entries=entries), "accept": plan_import.ACCEPT,
        # readings under way, and failed ones the officer has not opened yet
        "jobs": [j for j in plan_import.recent(request.user)
                 if j.state == ImportJob.RUNNING or (j.state == ImportJob.FAILED and not j.shown)],
        "max_bytes": settings.PLAN_MAX_BYTES, "max_total": plan_import.max_total(),
        "max_photos": plan_import.MAX_PHOTOS,
        "max_total_mb": plan_import._mb(plan_import.max_total()),
        "max_mb": settings.PLAN_MAX_BYTES // (1024 * 1024)}, status=status)


@roles_required("editor")
def index(request):
    return _index(request)


@csrf_exempt  # checked in _upload, once the body is known to be of a sane size
@roles_required("editor")
def upload(request):
    if request.method != "POST":
        return redirect("plans")
    size = plan_import._too_big(request)
    if size:
        return _index(request, errors=[st_plans.too_big_vi(size, plan_import.max_total())],
                      status=413)
    from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent

    try:
        _ = request.FILES  # parsed here: a flood of files is said in Vietnamese, not a bare 400
    except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
        return _index(request, errors=[
            f"Quá nhiều tệp trong một lần tải lên; một lần nhập tối đa {plan_import.MAX_PHOTOS} "
            "ảnh (các trang của MỘT kế hoạch)."], status=400)
    return _upload(request)


@csrf_protect
def _upload(request):
    entries = st_plans.list_plans(station.plans_dir(), station.bulletins_dir())
    form = UploadForm(request.POST, request.FILES, entries=entries)
    if not form.is_valid():
        errs = [e for es in form.errors.values() for e in es]
        return _index(request, form, errs, status=400)
    job, errors, status = plan_import.start(request, request.FILES.getlist("plan"),
                                            revises=form.cleaned_data["revises"] or None)
    if job is None:
        return _index(request, form, errors, status=status)
    return redirect("import_job", job=job.id)


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


urlpatterns = [*plan_import.job_urls,
    path("", index, name="plans"),
    path("tai-len/", upload, name="plans-upload"),
    path("<slug:key>/", detail, name="plan"),
    path("<slug:key>/ban-nhap/", draft, name="plan-draft"),
]
