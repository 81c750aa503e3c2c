"""XLSX export: the log sheet plus summaries per bulletin, zone and month.

openpyxl builds the workbook (styles, frozen header, filters, widths, the summary
sheets). Its cell objects cost ~20 µs each, minutes for a year of plays, so the rows of
the log sheet are streamed as sheet XML into the saved file, styled with the very
styles openpyxl chose for a sample row."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from loa.fsio import atomic_open
from loa.log.labels import (
    Names,
    engine_label,
    event_label,
    kind_label,
    outline_of,
    plan_of,
    status_label,
)
from loa.log.store import ALL, COLUMNS, LogFilter, LogStore
from loa.report.safe import xml_text
from loa.report.summary import Summary, Tally, summarize

EXCEL_ROWS = 1_048_576  # rows per sheet, header included
DATETIME = "dd/mm/yyyy hh:mm:ss"
DURATION = "[h]:mm:ss"

# (header, column, kind, width); kinds: int, text, dt (local time), dur, utc, and those
# shown by name or label (see _shown). Names, not ids: this sheet is read by people.
LOG_COLUMNS = (
    ("Mã lượt phát", "id", "int", 11),
    ("Đài", "station", "station", 18),
    ("Vùng phát", "zone", "zone", 18),
    ("Chương trình", "program", "program", 18),
    ("Buổi phát", "session", "session", 12),
    ("Loại bản tin", "kind", "kind", 11),
    ("Kế hoạch", "bulletin", "plan", 30),
    ("Mục", "bulletin", "outline", 10),
    ("Tiêu đề bản tin", "title", "text", 48),
    ("Lĩnh vực", "field", "int", 8),
    ("Mức ưu tiên", "priority", "int", 8),
    ("Giờ theo lịch", "scheduled_at", "dt", 19),
    ("Giờ bắt đầu", "started_at", "dt", 19),
    ("Giờ kết thúc", "ended_at", "dt", 19),
    ("Thời lượng phát", "duration_s", "dur", 10),
    ("Thời lượng yêu cầu", "clip_s", "dur", 10),
    ("Trạng thái", "status", "status", 11),
    ("Lý do", "reason", "text", 30),
    ("Bộ đọc", "engine", "engine", 16),
    ("Mã tệp âm thanh", "clip_hash", "text", 12),
    ("Giờ theo lịch (UTC)", "scheduled_at", "utc", 21),
)
SUMMARY_HEADERS = ("Lượt theo lịch", "Phát trọn", "Trong đó phát muộn", "Bị ngắt", "Lỗi",
                   "Bị lỡ", "Bỏ qua", "Tin khẩn cấp", "Thời lượng phát", "Thời lượng yêu cầu",
                   "Tỷ lệ phát trọn (%)")
HEAD_FONT = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")


def _shown(names: Names) -> dict:
    """Column kind -> how a stored code is shown."""
    return {"station": lambda v: names.name("station", v),
            "zone": names.zone,
            "program": lambda v: names.name("program", v),
            "session": lambda v: names.name("session", v),
            "plan": lambda v: names.name("plan", plan_of(v)) if plan_of(v) else "",
            "outline": outline_of, "kind": kind_label, "status": status_label,
            "engine": engine_label}


def _tally_cells(t: Tally) -> list:
    s = t.by_status
    return [t.scheduled, t.aired, s.get("late", 0), s.get("interrupted", 0), s.get("failed", 0),
            s.get("missed", 0), s.get("skipped", 0), t.emergency,
            timedelta(seconds=round(t.airtime_s)), timedelta(seconds=round(t.asked_s)),
            round(t.ratio, 1)]


def _append(ws, values) -> None:
    """A row of typed cells: operator text is XML-safe and always text, never a formula
    (openpyxl reads a string starting with '=' as one)."""
    ws.append([xml_text(v) if isinstance(v, str) else v for v in values])
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


def _header(ws, headers, widths) -> None:
    _append(ws, headers)
    for col, width in enumerate(widths, start=1):
        cell = ws.cell(row=1, column=col)
        cell.font, cell.fill = HEAD_FONT, HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def _summary_sheet(wb, title: str, keys: list[tuple[str, ...]], first: tuple[str, ...],
                   widths: tuple[int, ...], tallies: list[Tally], total: Tally) -> None:
    ws = wb.create_sheet(title)
    _header(ws, first + SUMMARY_HEADERS, widths + (10,) * len(SUMMARY_HEADERS))
    for key, t in zip(keys, tallies, strict=True):
        _append(ws, list(key) + _tally_cells(t))
    _append(ws, ["Tổng cộng"] + [""] * (len(first) - 1) + _tally_cells(total))
    last = ws.max_row
    for cell in ws[last]:
        cell.font = HEAD_FONT
    for row in ws.iter_rows(min_row=2, min_col=len(first) + 9, max_col=len(first) + 10):
        for cell in row:
            cell.number_format = DURATION
    ws.auto_filter.ref = f"A1:{get_column_letter(len(first) + len(SUMMARY_HEADERS))}{last - 1}"


class Times:
    """ISO timestamps (as stored, with offset) to UTC text and Excel serials, fast.

    Converting a million rows through datetime costs seconds; per hour of the log one
    conversion is enough, the minutes and seconds are copied from the text."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._utc: dict[str, str | None] = {}
        self._serial: dict[str, tuple[float, bool]] = {}

    @staticmethod
    def _hour_key(ts: str) -> str | None:
        # "2026-04-01T06:30:00[.fff]+07:00": hour prefix + offset
        if len(ts) >= 25 and ts[-6] in "+-" and ts[13] == ":":
            return ts[:13] + ts[-6:]
        return None

    def _hour(self, key: str, cache: dict, fmt: str, tz: ZoneInfo) -> str | None:
        hit = cache.get(key, 0)
        if hit == 0:
            moment = datetime.fromisoformat(key[:13] + ":00:00" + key[13:]).astimezone(tz)
            hit = moment.strftime(fmt) if moment.minute == 0 else None  # half-hour zones
            cache[key] = hit
        return hit

    def utc(self, ts: str | None) -> str:
        if not ts:
            return ""
        key = self._hour_key(ts)
        hour = self._hour(key, self._utc, "%Y-%m-%dT%H", UTC) if key else None
        if hour is None:
            return datetime.fromisoformat(ts).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return hour + ts[13:19] + "Z"

    def serial(self, ts: str | None) -> float | None:
        """Excel date serial of the station-local time (days since 1899-12-30)."""
        if not ts:
            return None
        key = self._hour_key(ts)
        if key is not None:
            base = self._serial.get(key)
            if base is None:
                local = datetime.fromisoformat(key[:13] + ":00:00" + key[13:]).astimezone(self.tz)
                exact = local.minute == 0
                day = (local.date() - EPOCH).days
                base = (day + local.hour / 24, exact)
                self._serial[key] = base
            if base[1]:
                secs = int(ts[14:16]) * 60 + float(ts[17:-6])
                return base[0] + secs / 86400
        local = datetime.fromisoformat(ts).astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return (local.date() - EPOCH).days + (local - midnight).total_seconds() / 86400


UTC = ZoneInfo("UTC")
EPOCH = date(1899, 12, 30)


def export_xlsx(store: LogStore, out: str | Path, tz: ZoneInfo, where: LogFilter = ALL,
                names: Names | dict[str, str] | None = None) -> int:
    """`names`: loa.log.Names, or a zone-id -> name dict. Returns the log rows written."""
    names = Names.of(names)
    n = store.count(where)
    per_sheet = EXCEL_ROWS - 1
    sheets = max(1, -(-n // per_sheet))

    wb = Workbook()
    wb.remove(wb.active)
    sheet_names = []
    sample = datetime(2026, 1, 1, 6, 30)
    for k in range(sheets):
        name = "Nhật ký phát" if k == 0 else f"Nhật ký phát ({k + 1})"
        sheet_names.append(name)
        ws = wb.create_sheet(name)
        _header(ws, [c[0] for c in LOG_COLUMNS], [c[3] for c in LOG_COLUMNS])
        # one typed sample row: openpyxl picks the styles, the stream copies them
        row = []
        for _, _, kind, _ in LOG_COLUMNS:
            row.append({"int": 1, "dt": sample, "dur": timedelta(seconds=1)}.get(kind, "x"))
        _append(ws, row)
        for col, (_, _, kind, _) in enumerate(LOG_COLUMNS, start=1):
            fmt = {"dt": DATETIME, "dur": DURATION}.get(kind)
            if fmt:
                ws.cell(row=2, column=col).number_format = fmt
        rows_here = min(per_sheet, n - k * per_sheet) if n else 0
        ws.auto_filter.ref = f"A1:{get_column_letter(len(LOG_COLUMNS))}{rows_here + 1}"

    summary = summarize(store, where)
    _summaries(wb, summary, names)
    _events(wb, store, where, tz)

    staged = io.BytesIO()
    wb.save(staged)
    staged.seek(0)
    with zipfile.ZipFile(staged) as src, atomic_open(out, "wb") as fh, \
            zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        sheet_files = _sheet_files(src, sheet_names)
        rows = store.iter_raw(where)
        written = 0
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename in sheet_files:
                k = sheet_files.index(item.filename)
                count = min(per_sheet, n - k * per_sheet) if n else 0
                with dst.open(item.filename, "w", force_zip64=True) as part:
                    written += _stream_sheet(part, data.decode("utf-8"), rows, count, tz,
                                             names)
            else:
                dst.writestr(item, data, compresslevel=6)
    return written


def _sheet_files(src: zipfile.ZipFile, names: list[str]) -> list[str]:
    """Zip paths of the log sheets, in order, from the workbook's relationships."""
    book = src.read("xl/workbook.xml").decode("utf-8")
    rels = src.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    targets = dict(re.findall(r'<Relationship[^>]*Id="([^"]+)"[^>]*Target="([^"]+)"', rels))
    targets.update({k: v for v, k in
                    re.findall(r'<Relationship[^>]*Target="([^"]+)"[^>]*Id="([^"]+)"', rels)})
    out = []
    for name in names:
        pattern = '<sheet [^>]*name="' + re.escape(escape(name)) + '"[^>]*r:id="([^"]+)"'
        m = re.search(pattern, book)
        target = targets[m[1]].lstrip("/")
        out.append(target if target.startswith("xl/") else f"xl/{target}")
    return out


def _stream_sheet(part, xml: str, rows, count: int, tz: ZoneInfo, names: Names) -> int:
    """Write the sheet with `count` rows from `rows` in place of openpyxl's sample row."""
    head, rest = xml.split("<sheetData>", 1)
    data, tail = rest.split("</sheetData>", 1)
    header_row = re.match(r"\s*(<row [^>]*>.*?</row>)", data, re.S)[1]
    sample = re.search(r'<row r="2"[^>]*>(.*?)</row>', data, re.S)[1]
    styles = [(re.search(r'\bs="(\d+)"', attrs) or [None, None])[1]
              for attrs in re.findall(r"<c ([^>]*?)/?>", sample)]
    ncols = len(LOG_COLUMNS)
    head = re.sub(r'<dimension ref="[^"]*"/>',
                  f'<dimension ref="A1:{get_column_letter(ncols)}{count + 1}"/>', head)
    part.write((head + "<sheetData>" + header_row).encode("utf-8"))

    t = Times(tz)
    shown = _shown(names)
    # per shown column: stored code -> the cell's XML, made once per distinct code
    cols = [(COLUMNS.index(col), kind, f' s="{styles[i]}"' if styles[i] else "",
             shown.get(kind), {} if kind in shown else None)
            for i, (_, col, kind, _) in enumerate(LOG_COLUMNS)]
    texts: dict[str, str] = {}

    def text(value: str) -> str:
        hit = texts.get(value)
        if hit is None:
            hit = escape(xml_text(value), {"\r": "&#13;"})  # a bare CR survives parsing
            if len(texts) < 50000:
                texts[value] = hit
        return hit

    buf: list[str] = []
    written = 0
    for r in rows:
        written += 1
        cells = []
        for idx, kind, s, show, made in cols:
            v = r[idx]
            if made is not None:
                cell = made.get(v)
                if cell is None:
                    label = show(v) if v is not None else ""
                    cell = (f'<c{s} t="inlineStr"><is><t>{text(str(label))}</t></is></c>'
                            if label else f"<c{s}/>")
                    if len(made) < 50000:
                        made[v] = cell
                cells.append(cell)
            elif v is None or v == "":
                cells.append(f"<c{s}/>")
            elif kind == "int" and type(v) is int:
                cells.append(f"<c{s}><v>{v}</v></c>")
            elif kind == "dt":
                cells.append(f"<c{s}><v>{t.serial(v)!r}</v></c>")
            elif kind == "dur":
                cells.append(f"<c{s}><v>{v / 86400!r}</v></c>")
            elif kind == "utc":
                cells.append(f'<c{s} t="inlineStr"><is><t>{t.utc(v)}</t></is></c>')
            else:
                cells.append(f'<c{s} t="inlineStr"><is><t>{text(str(v))}</t></is></c>')
        buf.append(f'<row r="{written + 1}">{"".join(cells)}</row>')
        if len(buf) >= 2000:
            part.write("".join(buf).encode("utf-8"))
            buf.clear()
        if written >= count:
            break
    part.write("".join(buf).encode("utf-8"))
    part.write(("</sheetData>" + tail).encode("utf-8"))
    return written


def _summaries(wb, s: Summary, names: Names) -> None:
    keys = sorted(s.bulletins)
    _summary_sheet(wb, "Theo bản tin",
                   [(names.name("plan", plan_of(k)) if plan_of(k) else "", outline_of(k),
                     s.titles.get(k, "")) for k in keys],
                   ("Kế hoạch", "Mục", "Tiêu đề bản tin"), (30, 10, 48),
                   [s.bulletins[k] for k in keys], s.total)
    keys = sorted(s.zones, key=lambda z: (names.zone(z), z))
    _summary_sheet(wb, "Theo vùng", [(names.zone(k),) for k in keys],
                   ("Vùng phát",), (24,), [s.zones[k] for k in keys], s.total)
    keys = list(s.months)
    _summary_sheet(wb, "Theo tháng", [(f"{k[5:7]}/{k[:4]}",) for k in keys], ("Tháng",), (10,),
                   [s.months[k] for k in keys], s.total)


def _events(wb, store: LogStore, where: LogFilter, tz: ZoneInfo) -> None:
    ws = wb.create_sheet("Sự kiện của máy phát")
    _header(ws, ("Thời điểm", "Sự kiện", "Mã sự kiện", "Chi tiết"), (19, 22, 16, 60))
    for at, kind, detail in reversed(store.events(limit=None, since=where.since,
                                                  until=where.until)):
        when = datetime.fromisoformat(at).astimezone(tz).replace(tzinfo=None)
        _append(ws, [when, event_label(kind), kind, detail])
        ws.cell(row=ws.max_row, column=1).number_format = DATETIME
    ws.auto_filter.ref = f"A1:D{ws.max_row}"
