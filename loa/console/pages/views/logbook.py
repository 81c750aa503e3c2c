"""Nhật ký: the as-played log with the filters of `loa log`, a page at a time (counted and
cut in SQL), downloads of the filtered plays (XLSX, CSV, the province's JSON) and the
period report (DOCX, PDF when LibreOffice is there). Every download is audited."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from django import forms
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import path

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import roles_required
from loa.errors import LoaError
from loa.languages import lower_name
from loa.log import STATUS_VI

PER_PAGE = 50
FORMATS = {"xlsx": "XLSX", "csv": "CSV", "json": "JSON"}
FILTERS = ("ky", "tu", "den", "vung", "trang_thai", "ban_tin")


class LogForm(forms.Form):
    ky = forms.CharField(label="Kỳ", required=False, max_length=40,
                         widget=forms.TextInput(attrs={"placeholder": "2026-03, 2026Q1, 2026H1, 2026"}))
    tu = forms.CharField(label="Từ ngày", required=False, max_length=20,
                         widget=forms.DateInput(attrs={"type": "date"}))
    den = forms.CharField(label="Đến ngày", required=False, max_length=20,
                          widget=forms.DateInput(attrs={"type": "date"}))
    vung = forms.ChoiceField(label="Vùng", required=False, error_messages={
        "invalid_choice": "không có vùng '%(value)s' trong lịch phát."})
    trang_thai = forms.ChoiceField(label="Trạng thái", required=False, error_messages={
        "invalid_choice": "không có trạng thái '%(value)s'."})
    ban_tin = forms.ChoiceField(label="Bản tin", required=False, error_messages={
        "invalid_choice": "không có bản tin '%(value)s' trong các tệp bản tin của đài."})
    trang = forms.IntegerField(label="Trang", required=False, min_value=1, error_messages={
        "invalid": "số trang phải là số nguyên từ 1 trở lên.",
        "min_value": "số trang phải là số nguyên từ 1 trở lên."})

    def __init__(self, data, *, names: svc.Names, bulletins: list[tuple[str, str]]):
        super().__init__(data)
        self.names = names
        self.fields["vung"].choices = [("", "Tất cả")] + list(names.zones.items())
        self.fields["trang_thai"].choices = [("", "Tất cả")] + list(STATUS_VI.items())
        self.fields["ban_tin"].choices = [("", "Tất cả")] + bulletins

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["period"] = svc.period_from_text(data.get("ky"), data.get("tu"), data.get("den"),
                                                  clock=station.clock())
        except LoaError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    def where(self):
        d = self.cleaned_data
        return svc.log_filter(d["period"], self.names, [d["vung"]] if d["vung"] else (),
                              [d["trang_thai"]] if d["trang_thai"] else (),
                              [d["ban_tin"]] if d["ban_tin"] else ())

    def query(self) -> str:
        """The filters as a query string, for the page links and downloads."""
        d = self.cleaned_data if self.is_valid() else {}
        return urlencode({k: d[k] for k in FILTERS if d.get(k)})

    def summary(self) -> str:
        """The filters in words, for the audit log."""
        d, out = self.cleaned_data, []
        if d.get("period"):
            out.append(d["period"].label)
        if d.get("vung"):
            out.append(f"vùng {self.names.zone(d['vung'])}")
        if d.get("trang_thai"):
            out.append(f"trạng thái {STATUS_VI[d['trang_thai']]}")
        if d.get("ban_tin"):
            out.append(f"bản tin {dict(self.fields['ban_tin'].choices)[d['ban_tin']]}")
        return ", ".join(out) or "toàn bộ nhật ký"


def _names() -> svc.Names:
    try:
        return svc.names_of(station.load())
    except LoaError:
        from loa.clock import DEFAULT_TZ

        return svc.Names(DEFAULT_TZ)  # ids shown until the schedule is fixed


def _bulletins() -> list[tuple[str, str]]:
    """(log key, title) of every bulletin in the station's files, for the filter."""
    from loa.station.status import read_bulletins

    seen: dict[str, str] = {}
    for p in station.bulletin_files().values():
        try:
            for b in read_bulletins(p).bulletins:
                seen.setdefault(b.key, b.title)
        except LoaError:
            continue
    return list(seen.items())


def _form(data) -> LogForm:
    """Bound to `data` (a request's GET): no filter given is a valid form (every play)."""
    return LogForm(data, names=_names(), bulletins=_bulletins())


def _problem_page(request, form: LogForm, problems: list[str], **extra):
    return render(request, "pages/logbook/index.html", {
        "title": "Nhật ký", "form": form, "formats": FORMATS, "problems": problems,
        "pdf": _has_pdf(), **extra}, status=400)


def _has_pdf() -> bool:
    return bool(shutil.which("soffice") or shutil.which("libreoffice"))


def _errors(form: LogForm) -> list[str]:
    return [str(e) for errs in form.errors.values() for e in errs]


@roles_required()
def index(request):
    form = _form(request.GET)
    if not form.is_valid():
        return _problem_page(request, form, _errors(form))
    names = form.names
    page = svc.log_page(form.where(), names, form.cleaned_data.get("trang") or 1, PER_PAGE)
    tz = names.tz
    rows = [{"p": p, "at": svc.when_vi(p.scheduled_at, tz),
             "started": f"{p.started_at.astimezone(tz):%H:%M:%S}" if p.started_at else "",
             # a version in another language is a play of its own: say which, as loa log does
             "lang": "" if p.language == "vi" else lower_name(p.language)}
            for p in page.plays]
    query = form.query()
    return render(request, "pages/logbook/index.html", {
        "title": "Nhật ký", "form": form, "formats": FORMATS, "pdf": _has_pdf(), "page": page,
        "rows": rows, "query": query, "summary": form.summary(),
        "prev": _page_link(query, page.page - 1) if page.page > 1 else "",
        "next": _page_link(query, page.page + 1) if page.page < page.pages else ""})


def _page_link(query: str, n: int) -> str:
    return "?" + "&".join(x for x in (query, f"trang={n}") if x)


def _schedule_or_none() -> Path | None:
    """The schedule for names; None while it is broken (the log still exports, with ids:
    an officer fixing the schedule must not lose the province's report)."""
    try:
        return station.load().path
    except LoaError:
        return None


def _stream(tmp: Path, filename: str) -> FileResponse:
    """Stream a file made in a temp folder; the folder goes as soon as it is open (the open
    file lives on until the response is sent)."""
    fh = open(tmp, "rb")  # noqa: SIM115 - FileResponse closes it
    shutil.rmtree(tmp.parent, ignore_errors=True)
    return FileResponse(fh, as_attachment=True, filename=filename)


@roles_required()
def download(request, fmt: str):
    if fmt not in FORMATS:
        raise Http404("không có định dạng này")
    form = _form(request.GET)
    if not form.is_valid():
        return _problem_page(request, form, _errors(form))
    d = form.cleaned_data
    folder = Path(tempfile.mkdtemp(prefix="loa-nhat-ky-"))
    out = folder / f"nhat-ky.{fmt}"
    try:
        n = svc.export_log(out, fmt, schedule=_schedule_or_none(), period=d["period"],
                           zones=[d["vung"]] if d["vung"] else (),
                           statuses=[d["trang_thai"]] if d["trang_thai"] else (),
                           bulletins=[d["ban_tin"]] if d["ban_tin"] else ())
    except LoaError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _problem_page(request, form, [str(exc)])
    audit.record(request, "log.export", f"nhật ký phát ({FORMATS[fmt]})",
                 f"{n} lượt phát; {form.summary()}")
    name = f"Nhật ký phát {d['period'].code}" if d["period"] else "Nhật ký phát"
    return _stream(out, f"{name}.{fmt}")


@roles_required()
def report(request):
    ky, kind = request.GET.get("ky", ""), request.GET.get("dinh_dang", "docx")
    problems = []
    period = None
    if kind not in ("docx", "pdf"):
        problems.append(f"định dạng báo cáo '{kind[:20]}' không có; chọn DOCX hoặc PDF.")
    try:
        if not ky.strip():
            raise LoaError("chọn kỳ báo cáo: tháng (2026-03), quý (2026Q1), 6 tháng (2026H1) "
                           "hoặc năm (2026).")
        period = svc.period_from_text(ky)
    except LoaError as exc:
        problems.append(str(exc))
    if problems:
        return _report_problems(request, problems)
    folder = Path(tempfile.mkdtemp(prefix="loa-bao-cao-"))
    docx = folder / f"bao-cao-{period.code}.docx"
    try:
        done = svc.make_report(station.schedule_path(), period, docx, pdf=kind == "pdf",
                               clock=station.clock())
    except LoaError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _report_problems(request, [str(exc)])
    made = done.pdf if kind == "pdf" else done.docx
    for other in folder.iterdir():
        if other != made:
            os.unlink(other)
    audit.record(request, "log.report", f"báo cáo {period.label} ({kind.upper()})",
                 f"{done.data.summary.total.aired}/{done.data.summary.total.scheduled} lượt "
                 "phát trọn")
    return _stream(made, f"Báo cáo {period.label}.{kind}")


def _report_problems(request, problems: list[str]):
    form = _form({})
    form.is_valid()
    return _problem_page(request, form, problems, report_ky=request.GET.get("ky", ""))


urlpatterns = [
    path("", index, name="logbook"),
    path("tai/<str:fmt>/", download, name="logbook_download"),
    path("bao-cao/", report, name="logbook_report"),
]
