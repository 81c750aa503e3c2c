"""Lịch phát: villages (technician), sessions, programs, announcements, holidays and days
off (editor), and a week and a month calendar (everyone).

Every form is applied to a freshly opened draft of the schedule file
(loa.station.schedule_edit): loa's rules judge it, all problems come back at once on the
page (status 400), and the file is written only over the version the page was built from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import has_role, roles_required
from loa.console.pages.schema_forms import add_problems, all_errors, initial_for, schema_form
from loa.errors import LoaError
from loa.schedule.schema import SECTIONS
from loa.station import open_schedule, save_schedule
from loa.station.schedule_edit import ensure_version

WEEKDAY_NAMES = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
ID_HELP = "để trống thì tự đặt theo tên; không đổi được sau này"


@dataclass(frozen=True)
class Page:
    """One list of the schedule as the console edits it."""

    section: str
    roles: tuple[str, ...]
    what: str  # "buổi phát"
    fields: tuple[str, ...]
    add_label: str
    textareas: tuple[str, ...] = ()


PAGES = {
    "vung": Page("zones", ("technician",), "vùng", ("name", "device", "volume", "relay", "id"),
                 "Thêm vùng"),
    "buoi": Page("sessions", ("editor",), "buổi phát", ("name", "time", "days", "zones", "id"),
                 "Thêm buổi phát"),
    "chuong-trinh": Page("programs", ("editor",), "chương trình",
                         ("name", "bulletins", "only", "sessions", "from", "until",
                          "per_session", "id"), "Thêm chương trình"),
    "thong-bao": Page("announcements", ("editor",), "thông báo",
                      ("at", "title", "text", "zones", "priority"), "Thêm thông báo",
                      textareas=("text",)),
    "ngay-le": Page("holidays", ("editor",), "ngày lễ", ("date", "name"), "Thêm ngày lễ"),
}
PRIORITIES = {"1": "khẩn cấp", "2": "ưu tiên", "3": "thông thường"}


def form_class(page: Page, adding: bool):
    fields = [f for f in page.fields if adding or f != "id" or page.section == "holidays"]
    return schema_form(
        SECTIONS[page.section], page.section, fields, textareas=page.textareas,
        labels={"zones": "Thôn / vùng phát", "only": "Chỉ phát các bản tin",
                "per_session": "Số bản tin mỗi buổi (lần lượt xoay vòng)"},
        helps={"id": ID_HELP, "name": "", "zones": "không chọn vùng nào: phát mọi vùng",
               "days": "bỏ chọn những ngày không phát",
               "only": "không chọn bản tin nào: mọi bản tin đã duyệt của tệp"},
        choices={"priority": PRIORITIES} if page.section == "announcements" else None)


# --- what the forms offer ------------------------------------------------------------------

def _bulletin_choices() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(file key -> label, file key -> name written in the schedule, bulletin id -> title)
    of the station's bulletin files: a file is chosen by key, never by a path."""
    from loa.script.bulletin import STATUS_VI, load_bulletins

    labels, names, bulletins = {}, {}, {}
    base = station.schedule_dir()
    for key, p in station.bulletin_files().items():
        names[key] = os.path.relpath(p, base)
        labels[key] = names[key]
        try:
            loaded = load_bulletins(p)
        except LoaError:
            labels[key] += " (tệp có lỗi)"
            continue
        title = loaded.plan.get("title")
        if title:
            labels[key] = f"{title} ({names[key]})"
        for b in loaded.bulletins:
            if b.status != "retired":
                bulletins.setdefault(b.id, f"{b.title} ({STATUS_VI.get(b.status, b.status)})")
    return labels, names, bulletins


def _form_kwargs(page: Page, draft, item: dict | None) -> dict[str, Any]:
    choices: dict[str, dict[str, str]] = {
        "zones": {str(z["id"]): str(z.get("name") or z["id"]) for z in draft.zones},
        "sessions": {str(s["id"]): f"{s.get('name') or s['id']} ({s.get('time')})"
                     for s in draft.sessions}}
    files: dict[str, str] = {}
    if page.section == "programs":
        labels, files, bulletins = _bulletin_choices()
        choices.update(bulletins=labels, only=bulletins)
        written = (item or {}).get("bulletins")
        if written and written not in files.values():  # a file the station no longer lists
            files["hien-tai"] = str(written)
            choices["bulletins"]["hien-tai"] = f"{written} (không tìm thấy)"
    absent = {k for k in ("zones",) if item is not None and k not in item}
    return {"choices": choices, "files": files, "absent": absent}


# --- views ---------------------------------------------------------------------------------

def _open():
    try:
        return open_schedule(station.schedule_path()), []
    except LoaError as exc:
        return None, [str(p) for p in exc.problems]


def _languages_vi(codes) -> str:
    """'Tiếng Việt, Tiếng Mông' for a zone's `languages` (none written: '', Vietnamese);
    a code loa does not know is shown as written (loa validate names it)."""
    from loa.languages import LANGUAGES, name_vi

    if not isinstance(codes, list):
        return ""
    return ", ".join(name_vi(c) if c in LANGUAGES else str(c) for c in codes)


@roles_required()
def index(request, errors: list[str] | None = None, status: int = 200):
    draft, problems = _open()
    ctx: dict[str, Any] = {"title": "Lịch phát", "errors": (errors or []) + problems}
    if draft is not None:
        zones = {str(z["id"]): z.get("name") or z["id"] for z in draft.zones}
        sessions = {str(s["id"]): s.get("name") or s["id"] for s in draft.sessions}
        used = {str(x) for p in draft.programs for x in _as_ids(p.get("sessions"))}
        labels, names, _ = _bulletin_choices()  # a file by its plan's title
        files = {names[k]: labels[k] for k in names}
        ctx.update(
            draft=draft, version=draft.version,
            file_problems=[str(p) for p in draft.problems],
            zones=[{**z, "language_names": _languages_vi(z.get("languages"))}
                   for z in draft.zones],
            sessions=sorted(({**s, "zone_names": _names(s.get("zones"), zones, "mọi vùng"),
                              "days_vi": _days(s.get("days")),
                              "idle": str(s["id"]) not in used} for s in draft.sessions),
                            key=lambda s: _clock_key(s.get("time"))),
            programs=[{**p, "session_names": _names(p.get("sessions"), sessions, ""),
                       "file_label": files.get(str(p.get("bulletins")), p.get("bulletins")),
                       "from_vi": _day_vi(p["from"]) if p.get("from") else "",
                       "until_vi": _day_vi(p["until"]) if p.get("until") else ""}
                      for p in draft.programs],
            announcements=[{**a, "zone_names": _names(a.get("zones"), zones, "mọi vùng"),
                            "at_vi": _moment_vi(a.get("at")),
                            "priority_vi": PRIORITIES.get(str(a.get("priority") or 3), "")}
                           for a in draft.announcements],
            # URLs name a day as 2026-09-02 whatever the file wrote (02/09/2026 has slashes)
            holidays=[{**h, "date_vi": _day_vi(h.get("date")), "key": _iso(h.get("date"))}
                      for h in draft.holidays],
            skip_dates=[{"day": _iso(d), "vi": _day_vi(d)} for d in draft.skip_dates],
            can_zones=has_role(request.user, "technician"),
            can_edit=has_role(request.user, "editor"))
    return render(request, "pages/schedule/index.html", ctx, status=status)


def _edit(request, slug: str, item_id: str | None):
    page = PAGES[slug]
    draft, problems = _open()
    if draft is None:
        return index(request, status=400)
    item = draft.item(page.section, item_id) if item_id is not None else None
    if item_id is not None and item is None:
        return _gone(request, page, item_id)
    cls = form_class(page, adding=item_id is None)
    kwargs = _form_kwargs(page, draft, item)
    status = 200
    if request.method == "POST":
        stale = None
        try:
            ensure_version(draft, request.POST.get("version", ""), station.clock())
        except LoaError as exc:
            stale = exc  # a form from an older file: only its own fields are checked
        form = cls(request.POST, draft=None if stale else draft, original_id=item_id, **kwargs)
        if stale is not None:
            add_problems(form, stale)
        elif form.is_valid():
            try:
                save_schedule(draft, request.POST["version"], station.clock())
            except LoaError as exc:
                add_problems(form, exc)
            else:
                saved = draft.item(page.section, form.item_id or "")
                name = _item_name(page, saved)
                added = item_id is None
                audit.record(request, f"schedule.{page.section}.{'add' if added else 'edit'}",
                             name, f"{'thêm' if added else 'sửa'} {page.what}: "
                             f"{_summary(page, saved, draft)}")
                messages.success(request, f"Đã lưu {name}.")
                return redirect("schedule")
        status = 400
    else:
        form = cls(initial={**initial_for(cls, item, kwargs["files"]),
                            **_add_defaults(page, draft, item), "version": draft.version},
                   **kwargs)
    return render(request, "pages/schedule/edit.html", {
        "title": page.add_label if item is None else f"Sửa {_item_name(page, item)}",
        "page": page, "form": form, "errors": all_errors(form) if form.is_bound else [],
        "submit": "Lưu"}, status=status)


def _delete(request, slug: str, item_id: str):
    page = PAGES[slug]
    draft, problems = _open()
    if draft is None:
        return index(request, status=400)
    item = draft.item(page.section, item_id)
    if item is None:
        return _gone(request, page, item_id)
    name = _item_name(page, item)
    try:
        ensure_version(draft, request.POST.get("version", ""), station.clock())
        draft.delete(page.section, item_id)
        save_schedule(draft, request.POST["version"], station.clock())
    except LoaError as exc:
        return index(request, errors=[str(p) for p in exc.problems], status=400)
    audit.record(request, f"schedule.{page.section}.delete", name, "xóa " + page.what)
    messages.success(request, f"Đã xóa {name}.")
    return redirect("schedule")


def _gone(request, page: Page, item_id: str):
    """An item deleted (or renamed) elsewhere since the page was loaded: GET 404, a form
    sent to it 400 with the reason."""
    if request.method != "POST":
        raise Http404
    return index(request, status=400, errors=[
        f"Không tìm thấy {page.what} '{item_id}' (có thể vừa bị xóa ở nơi khác); chưa lưu "
        "gì, hãy tải lại trang."])


def _summary(page: Page, item: dict | None, draft) -> str:
    """What was saved, in words, for the audit log."""
    if not item:
        return ""
    zones = {str(z["id"]): z.get("name") or z["id"] for z in draft.zones}
    if page.section == "sessions":
        return (f"{item.get('time')}, {_days(item.get('days'))}, "
                f"{_names(item.get('zones'), zones, 'mọi vùng')}")
    if page.section == "programs":
        sessions = {str(s["id"]): s.get("name") or s["id"] for s in draft.sessions}
        return f"tệp {item.get('bulletins')}, {_names(item.get('sessions'), sessions, '')}"
    if page.section == "announcements":
        return f"{_moment_vi(item.get('at'))}, {_names(item.get('zones'), zones, 'mọi vùng')}"
    if page.section == "zones":
        return f"thiết bị {item.get('device') or 'mặc định'}"
    return _day_vi(item.get("date"))


def _views(slug: str):
    page = PAGES[slug]

    @roles_required(*page.roles)
    def add(request):
        return _edit(request, slug, None)

    @roles_required(*page.roles)
    def edit(request, item_id: str):
        return _edit(request, slug, item_id)

    @roles_required(*page.roles)
    @require_POST
    def delete(request, item_id: str):
        return _delete(request, slug, item_id)

    return [path(f"{slug}/them/", add, name=f"schedule-{slug}-add"),
            path(f"{slug}/<str:item_id>/sua/", edit, name=f"schedule-{slug}-edit"),
            path(f"{slug}/<str:item_id>/xoa/", delete, name=f"schedule-{slug}-delete")]


@roles_required("editor")
@require_POST
def skip_date_add(request):
    return _skip_dates(request, "add", request.POST.get("day", ""))


@roles_required("editor")
@require_POST
def skip_date_remove(request, day: str):
    return _skip_dates(request, "remove", day)


def _skip_dates(request, action: str, day: str):
    draft, problems = _open()
    if draft is None:
        return index(request, status=400)
    try:
        ensure_version(draft, request.POST.get("version", ""), station.clock())
        (draft.add_skip_date if action == "add" else draft.remove_skip_date)(day)
        save_schedule(draft, request.POST["version"], station.clock())
    except LoaError as exc:
        return index(request, errors=[p.message if p.key else str(p) for p in exc.problems],
                     status=400)
    shown = _day_vi(day)
    audit.record(request, f"schedule.skip_date.{action}", f"ngày nghỉ {shown}",
                 "thêm ngày không phát" if action == "add" else "bỏ ngày không phát")
    messages.success(request, f"Đã {'thêm' if action == 'add' else 'bỏ'} ngày nghỉ {shown}.")
    return redirect("schedule")


# --- calendars -----------------------------------------------------------------------------

@roles_required()
def week(request):
    today = station.clock().now().date()
    start = _day_param(request, "ngay", today)
    start -= timedelta(days=start.weekday())
    days, errors = _calendar(start, start + timedelta(days=7))
    return render(request, "pages/schedule/week.html", {
        "title": "Lịch tuần", "days": days, "errors": errors, "today": today,
        "heading": f"Tuần {start:%d/%m} – {start + timedelta(days=6):%d/%m/%Y}",
        "prev": (start - timedelta(days=7)).isoformat(),
        "next": (start + timedelta(days=7)).isoformat()})


@roles_required()
def month(request):
    today = station.clock().now().date()
    first = _day_param(request, "thang", today, month=True).replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    days, errors = _calendar(first, after)
    return render(request, "pages/schedule/month.html", {
        "title": "Lịch tháng", "days": days, "errors": errors, "today": today,
        "heading": f"Tháng {first.month}/{first.year}", "lead": range(first.weekday()),
        "weekdays": ("T2", "T3", "T4", "T5", "T6", "T7", "CN"),
        "prev": (first - timedelta(days=1)).strftime("%Y-%m"),
        "next": after.strftime("%Y-%m")})


def _calendar(start: date, end: date) -> tuple[list[dict], list[str]]:
    """Each day from start to end with what plays, by time, title and village names."""
    from loa.station import preview

    try:
        loaded = station.load()
    except LoaError as exc:
        return [], [str(p) for p in exc.problems]
    tz = loaded.schedule.station.tz
    planned = preview(loaded, datetime.combine(start, time(0), tz),
                      datetime.combine(end, time(0), tz))
    days = []
    d = start
    while d < end:
        days.append({"day": d, "name": WEEKDAY_NAMES[d.weekday()], "short": f"{d:%d/%m}",
                     "holiday": loaded.schedule.holidays.get(d),
                     "skipped": d in loaded.schedule.skip_dates,
                     "sessions": [{"time": f"{s.at:%H:%M}", "name": s.session_name,
                                   "zones": ", ".join(s.zone_names),
                                   "titles": [i.title for i in s.items]}
                                  for s in planned if s.at.date() == d]})
        d += timedelta(days=1)
    return days, []


# --- small helpers -------------------------------------------------------------------------

def _names(ids: Any, names: dict[str, str], none: str) -> str:
    if ids is None:
        return none
    items = ids if isinstance(ids, list) else [ids]
    return ", ".join(str(names.get(str(i), i)) for i in items)


def _as_ids(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _days(value: Any) -> str:
    if value is None:
        return "hằng ngày"
    return ", ".join(str(x) for x in value) if isinstance(value, list) else str(value)


def _item_name(page: Page, item: dict | None) -> str:
    if not item:
        return page.what
    if page.section == "holidays":
        return f"ngày lễ {_day_vi(item.get('date'))} {item.get('name') or ''}".strip()
    if page.section == "announcements":
        title = item.get("title") or str(item.get("text") or "")[:60]
        return f"thông báo “{title}”"
    return f"{page.what} “{item.get('name') or item.get('id')}”"


def _add_defaults(page: Page, draft, item: dict | None) -> dict[str, Any]:
    """A new session plays every day in every village until the officer says otherwise."""
    if item is not None or page.section != "sessions":
        return {}
    return {"days": ["T2", "T3", "T4", "T5", "T6", "T7", "CN"],
            "zones": [str(z["id"]) for z in draft.zones]}


def _clock_key(value: Any) -> tuple:
    from loa.schema import parse_time

    t = parse_time(value)
    return (t is None, t or time(0))


def _moment_vi(value: Any) -> str:
    """"2026-11-23 07:15" as officers read it: "07:15 thứ Hai 23/11/2026"."""
    from loa.schema import parse_datetime

    when = parse_datetime(value, None)
    if when is None:
        return str(value or "")
    day = WEEKDAY_NAMES[when.weekday()]
    return f"{when:%H:%M} {day[0].lower() + day[1:] if day.startswith('Thứ') else day} " \
        f"{when:%d/%m/%Y}"


def _iso(value: Any) -> str:
    from loa.schema import parse_date

    day = parse_date(value)
    return day.isoformat() if day else str(value).replace("/", "-")


def _day_vi(value: Any) -> str:
    from loa.schema import parse_date

    day = parse_date(value)
    return f"{day:%d/%m/%Y}" if day else str(value)


def _day_param(request, name: str, default: date, month: bool = False) -> date:
    from loa.schema import parse_date
    from loa.station.logs import FIRST_DAY, LAST_DAY

    raw = request.GET.get(name, "")
    day = parse_date(raw + "-01" if month and len(raw) == 7 else raw)
    # a week or month must end on a real date: year 1 or 9999 shows this one instead
    return day if day and FIRST_DAY <= day <= LAST_DAY else default


urlpatterns = [
    path("", index, name="schedule"),
    path("tuan/", week, name="schedule-week"),
    path("thang/", month, name="schedule-month"),
    path("ngay-nghi/them/", skip_date_add, name="schedule-skip-add"),
    path("ngay-nghi/<str:day>/xoa/", skip_date_remove, name="schedule-skip-remove"),
    *[p for slug in PAGES for p in _views(slug)],
]
