"""The as-played log: queried with names, exported (CSV, XLSX, JSON), reported (DOCX, PDF)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.log import LogFilter, LogStore
    from loa.log.period import Period
    from loa.report.periodic import ReportData
    from loa.schedule.model import Schedule
    from loa.station.core import LoadedStation
    from loa.station.status import Event


# Days a period may hold: wide, yet a day past the end (in any zone) is still a date.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
OUT_OF_RANGE_VI = "ngày nằm ngoài khoảng cho phép (từ năm 1900 đến năm 9998)."


def _in_range(make) -> Period | None:
    """make() within FIRST_DAY..LAST_DAY; year 0 or 10000 is refused, not a traceback."""
    try:
        period = make()
    except (ValueError, OverflowError):
        raise LoaError(OUT_OF_RANGE_VI) from None
    if period is not None and (period.start < FIRST_DAY or period.end > LAST_DAY):
        raise LoaError(OUT_OF_RANGE_VI)
    return period


def period_of(*, quarter: str | None = None, half: str | None = None,
              year: str | None = None, month: str | None = None, start: str | None = None,
              end: str | None = None, clock: Clock | None = None) -> Period | None:
    """At most one period from its written form (2026Q1, 2026H1, 2026, 2026-03, days)."""
    from loa.log.period import from_args

    today = None
    if start and not end:  # a lone --from runs to today: the face's today
        from loa.station.core import clock_for

        today = clock_for(None, clock).now().date()
    return _in_range(lambda: from_args(quarter_=quarter, half_=half, year_=year, month_=month,
                                       start=start, end=end, today=today))


@dataclass
class Names:
    """Display names for the ids the log keeps, from a schedule when there is one."""

    tz: ZoneInfo
    zones: dict[str, str] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)
    schedule: Schedule | None = None

    def zone(self, zone_id: str) -> str:
        return self.zones.get(zone_id, zone_id)

    def program(self, program_id: str) -> str:
        return self.programs.get(program_id, program_id)

    def for_log(self):
        """The log's own Names (zones, programs, sessions, plans) for its exports."""
        from loa.log import Names as LogNames

        if self.schedule is None:
            return LogNames(zone=self.zones)
        from loa.schedule.expand import program_bulletin_files

        return LogNames.from_schedule(self.schedule, program_bulletin_files(self.schedule))


def names_for(schedule_path: str | Path | None, running: bool = False) -> Names:
    """The schedule's names and zone; without a path, with `running`, the zone names the
    running daemon announces (else none: ids are shown)."""
    from loa.clock import DEFAULT_TZ

    if schedule_path:
        from loa.schedule import load_schedule

        sched = load_schedule(schedule_path)
        return Names(sched.station.tz, {z.id: z.name for z in sched.zones.values()},
                     {p.id: p.name for p in sched.programs.values() if p.name}, sched)
    if running:
        from loa import settings
        from loa.player import control as ctl

        beat = ctl.read_heartbeat(settings.control_dir())
        if beat is not None:
            return Names(DEFAULT_TZ, dict(beat["zones"]))
    return Names(DEFAULT_TZ)


def names_of(station: LoadedStation) -> Names:
    """Names from a station already loaded (the console keeps one): no file read again."""
    sched = station.schedule
    return Names(sched.station.tz, {z.id: z.name for z in sched.zones.values()},
                 {p.id: p.name for p in sched.programs.values() if p.name}, sched)


PERIOD_HELP_VI = ("viết như 2026-03 (tháng), 2026Q1 (quý), 2026H1 (6 tháng) hoặc 2026 (năm)")


def period_from_text(text: str | None, start: str | None = None, end: str | None = None,
                     clock: Clock | None = None) -> Period | None:
    """A period as a form gives it: one field (2026-03, 2026Q1, 2026H1, 2026) or a range of
    days (from/to, either open); both at once is refused. None: no period (all plays)."""
    import re

    from loa.log import period as P

    text, start, end = ((v or "").strip() for v in (text, start, end))
    if text and (start or end):
        raise LoaError("chỉ chọn một kỳ: hoặc tháng/quý/6 tháng/năm, hoặc khoảng ngày "
                       "(từ ngày … đến ngày …).")
    if not text:
        return period_of(start=start or None, end=end or None, clock=clock)
    if re.fullmatch(r"\d{4}-\d{1,2}", text):
        return _in_range(lambda: P.month(text))
    if re.fullmatch(r"\d{4}", text):
        return _in_range(lambda: P.year(text))
    if re.fullmatch(r"\d{4}\s*-?\s*[QqKk].*", text):
        return _in_range(lambda: P.quarter(text))
    if re.fullmatch(r"\d{4}\s*-?\s*[Hh].*", text):
        return _in_range(lambda: P.half(text))
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise LoaError(f"kỳ '{shown}' không hợp lệ; {PERIOD_HELP_VI}.")


def statuses_of(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Status codes from codes or Vietnamese labels ('played', 'đã phát')."""
    from loa.log import STATUS_VI

    by_label = {v: k for k, v in STATUS_VI.items()}
    out = []
    for st in words:
        code = st if st in STATUS_VI else by_label.get(st.strip().lower())
        if code is None:
            known = ", ".join(f"{k} ({v})" for k, v in STATUS_VI.items())
            raise LoaError(f"trạng thái '{st}' không có; chọn: {known}.")
        out.append(code)
    return tuple(out)


def log_filter(period: Period | None, names: Names, zones=(), statuses=(),
               bulletins=()) -> LogFilter:
    """Plays in the period (the station's days), of these zones (ids or names), statuses
    (codes or labels) and bulletins; empty means all."""
    from loa.log import LogFilter

    since, until = period.bounds(names.tz) if period else (None, None)
    # a name the schedule knows becomes its id; anything else is kept as written (the log
    # keeps zones a schedule may since have dropped)
    by_name = {name.casefold(): z for z, name in names.zones.items()}
    zone_ids = tuple(z if z in names.zones else by_name.get(z.casefold().strip(), z)
                     for z in zones)
    return LogFilter(since=since, until=until, zones=zone_ids,
                     statuses=statuses_of(list(statuses)), bulletins=tuple(bulletins))


@dataclass(frozen=True)
class PlayView:
    scheduled_at: datetime  # aware, the station's zone
    started_at: datetime | None
    zone_id: str
    zone_name: str
    status: str
    status_vi: str
    bulletin_id: str
    title: str
    program_id: str
    program_name: str
    reason: str
    engine: str = ""  # the log's code: gtts, espeak, piper, ghi-am
    engine_vi: str = ""  # as officers read it: 'giọng đọc thu âm' for a recording


def _open_log() -> LogStore:
    from loa import settings
    from loa.log import LogStore

    return LogStore(settings.db_path())


def view(row, names: Names) -> PlayView:
    from loa.log import STATUS_VI
    from loa.log.labels import engine_label

    return PlayView(datetime.fromisoformat(row.scheduled_at).astimezone(names.tz),
                    datetime.fromisoformat(row.started_at).astimezone(names.tz)
                    if row.started_at else None,
                    row.zone, names.zone(row.zone), row.status,
                    STATUS_VI.get(row.status, row.status), row.bulletin, row.title or "",
                    row.program, names.program(row.program), row.reason or "",
                    row.engine or "", engine_label(row.engine))


def query_plays(where: LogFilter, names: Names, limit: int | None = 20,
                since: datetime | None = None) -> list[PlayView]:
    """The newest plays first, at most `limit` (None: all)."""
    store = _open_log()
    try:
        rows = (store.plays(limit=limit, since=since) if since is not None
                else store.plays(limit=limit, where=where))
    finally:
        store.close()
    return [view(r, names) for r in rows]


@dataclass
class LogPage:
    """One page of plays, newest first, and how many match in all."""

    plays: list[PlayView]
    total: int
    page: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def log_page(where: LogFilter, names: Names, page: int = 1, per_page: int = 50) -> LogPage:
    """Page `page` of the plays matching `where`: counted and cut in SQL, never a year of
    rows in memory. A page past the end shows the last one. An absent log is empty (looking
    must not create it)."""
    from loa import settings

    if page < 1 or per_page < 1:
        raise LoaError("số trang phải là số nguyên từ 1 trở lên.")
    if not settings.db_path().exists():
        return LogPage([], 0, 1, per_page)
    store = _open_log()
    try:
        total = store.count(where)
        page = min(page, max(1, -(-total // per_page)))
        rows = store.plays(limit=per_page, where=where, offset=(page - 1) * per_page)
    finally:
        store.close()
    return LogPage([view(r, names) for r in rows], total, page, per_page)


def query_events(since: datetime | None = None, until: datetime | None = None,
                 limit: int | None = 50) -> list[Event]:
    """The daemon's events (start, stop, reload, clock jumps, device errors), newest first."""
    from loa.clock import DEFAULT_TZ
    from loa.log import EVENT_VI
    from loa.station.status import Event

    store = _open_log()
    try:
        events = store.events(limit=limit, since=since, until=until)
    finally:
        store.close()
    return [Event(datetime.fromisoformat(at).astimezone(DEFAULT_TZ), kind,
                  EVENT_VI.get(kind, kind), detail or "") for at, kind, detail in events]


FORMATS = ("csv", "xlsx", "json")


def export_log(output: str | Path, fmt: str | None = None, *,
               schedule: str | Path | None = None, period: Period | None = None,
               zones=(), statuses=(), bulletins=()) -> int:
    """Write the log (filtered) as CSV, XLSX or JSON (by `fmt`, else the file's suffix);
    returns the plays written. The schedule gives zone names and the station's zone."""
    from loa.fsio import check_target
    from loa.report import export_csv, export_json

    fmt = fmt or Path(output).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise LoaError("không rõ định dạng: dùng --format csv|xlsx|json hoặc đuôi tệp "
                       ".csv, .xlsx, .json.", output)
    check_target(output)  # before a year of plays is read
    names = names_for(schedule)
    where = log_filter(period, names, zones, statuses, bulletins)
    store = _open_log()
    try:
        if fmt == "csv":
            return export_csv(store, output, where, names.for_log())
        if fmt == "json":
            return export_json(store, output,
                               names.schedule.station.id if names.schedule else "", where,
                               names.for_log())
        from loa.report.xlsx import export_xlsx

        return export_xlsx(store, output, names.tz, where, names.for_log())
    finally:
        store.close()


@dataclass
class Reported:
    data: ReportData
    docx: Path
    pdf: Path | None


def report_data(store: LogStore, schedule: Schedule, period: Period, signed: date,
                number: str = "", owner: str | None = None) -> ReportData:
    """What a period report says, from the log and the plans the schedule's programs use."""
    from loa.log import Names as LogNames
    from loa.report.periodic import Letterhead, build
    from loa.schedule.expand import program_bulletin_files

    st = schedule.station
    head = Letterhead(owner=owner if owner is not None else st.owner, issuer=st.name,
                      place=st.place, signer=st.signer, signer_title=st.signer_title,
                      number=number)
    files = program_bulletin_files(schedule)
    return build(store, period, st.tz, files, LogNames.from_schedule(schedule, files), head,
                 signed)


def make_report(schedule_path: str | Path, period: Period | None,
                output: str | Path | None = None, *, pdf: bool = False, number: str = "",
                signed: date | None = None, clock: Clock | None = None) -> Reported:
    """The period report as DOCX (and PDF through LibreOffice), signed today unless told."""
    from loa.fsio import check_target
    from loa.report.periodic import to_pdf, write_docx
    from loa.schedule import load_schedule

    if period is None:
        raise LoaError("chọn kỳ báo cáo: --quarter 2026Q1, --half 2026H1, --year 2026, "
                       "--month 2026-03 hoặc --from/--to.")
    schedule = load_schedule(schedule_path)
    if signed is None:
        from loa.clock import SystemClock

        signed = (clock or SystemClock(schedule.station.tz)).now().date()
    out = Path(output or f"bao-cao-{period.code}.docx")
    check_target(out)
    if pdf:
        check_target(out.with_suffix(".pdf"))
    store = _open_log()
    try:
        data = report_data(store, schedule, period, signed, number)
    finally:
        store.close()
    write_docx(data, out)
    return Reported(data, out, to_pdf(out, out.with_suffix(".pdf")) if pdf else None)
