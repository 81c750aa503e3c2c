"""Reports across stations for a province or commune account: XLSX and DOCX of plays per
commune (aired / missed / failed, airtime, the aired share of one plan's topics), and the
upward JSON per play as loa/report/export.py writes it for one station."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loa.console.fleet import queries
from loa.console.fleet.models import DEFAULT_TZ, Play, Station
from loa.log.period import Period
from loa.report.export import UPWARD_VERSION
from loa.report.periodic import hours_minutes, number, percent
from loa.report.safe import xml_text

TZ = ZoneInfo(DEFAULT_TZ)


@dataclass
class FleetReport:
    scope: str  # the province's or the commune's name, for the title
    period: Period
    since: datetime
    until: datetime
    rows: list[queries.CommuneTotals]
    plans: list[tuple[str, str]]  # (id, title) of the plans seen in the period's plays
    plan_id: str
    plan_title: str
    topics: dict[str, str]  # the plan's topics: outline path -> title
    aired: dict[int, set[str]]  # station id -> the plan's topics it aired
    made_at: datetime

    @property
    def total(self) -> queries.CommuneTotals:
        t = queries.CommuneTotals(Station(name="Tổng cộng"))
        for r in self.rows:
            t.aired += r.aired
            t.missed += r.missed
            t.failed += r.failed
            t.seconds += r.seconds
        return t


def build(scope: str, stations, period: Period, plan_id: str = "",
          made_at: datetime | None = None) -> FleetReport:
    """`plan_id`: the plan whose topics' share is reported; not seen in the period (or
    blank): the first seen, by title."""
    stations = list(stations)
    since, until = period.bounds(TZ)
    # one read of the period (each station's own local days): PostgreSQL's daily rollup,
    # or the plays themselves on SQLite
    tally = queries.tally(stations, period.start, period.end + timedelta(days=1))
    rows = tally.totals()
    plans = queries.plans_seen(stations, period.start, period.end + timedelta(days=1),
                               ids=tally.plan_ids())
    titles = dict(plans)
    if plan_id not in titles:
        plan_id = plans[0][0] if plans else ""
    topics = queries.plan_topics(stations, plan_id) if plan_id else {}
    aired = tally.aired_topics(plan_id) if plan_id else {}
    if plan_id:
        queries.with_plan_share(rows, topics, aired)
    return FleetReport(scope, period, since, until, rows, plans, plan_id,
                       titles.get(plan_id, ""), topics, aired, made_at or queries.now())


def _share(r: queries.CommuneTotals) -> str:
    return percent(100 * r.share) if r.share is not None else "—"


# --- XLSX ---------------------------------------------------------------------------------------

def write_xlsx(rep: FleetReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")

    def append(ws, values):
        # operator text stays text: openpyxl would read "=..." as a formula
        ws.append([xml_text(v) if isinstance(v, str) else v for v in values])
        for cell in ws[ws.max_row]:
            if cell.data_type == "f":
                cell.data_type = "s"

    def header(ws, names, widths):
        append(ws, names)
        for col, width in enumerate(widths, 1):
            c = ws.cell(row=ws.max_row, column=col)
            c.font, c.fill = bold, fill
            c.alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(col)].width = width

    wb = Workbook()
    ws = wb.active
    ws.title = "Theo xã"
    append(ws, [f"Báo cáo phát thanh {rep.period.label} — {rep.scope}"])
    ws["A1"].font = Font(bold=True, size=13)
    append(ws, [f"Kế hoạch: {rep.plan_title} ({len(rep.topics)} chủ đề)" if rep.plan_id
                else "Kế hoạch: không có lượt phát nào thuộc kế hoạch trong kỳ"])
    header(ws, ["Đài", "Đã phát", "Bị lỡ", "Lỗi", "Thời lượng phát", "Chủ đề kế hoạch đã phát",
                "Tỷ lệ chủ đề kế hoạch đã phát (%)"], [34, 10, 10, 10, 14, 14, 16])
    first = ws.max_row + 1
    for r in rep.rows + [rep.total]:
        append(ws, [r.station.name, r.aired, r.missed, r.failed,
                    timedelta(seconds=round(r.seconds)),
                    r.topics_aired if r in rep.rows and rep.plan_id else None,
                    round(100 * r.share, 1) if r.share is not None else None])
    for row in ws.iter_rows(min_row=first, min_col=5, max_col=5):
        for c in row:
            c.number_format = "[h]:mm:ss"
    for c in ws[ws.max_row]:
        c.font = bold
    ws.freeze_panes = ws.cell(row=first, column=2)

    if rep.plan_id:
        wt = wb.create_sheet("Chủ đề kế hoạch")
        header(wt, ["Mục", "Chủ đề"] + [r.station.name for r in rep.rows],
               [10, 60] + [14] * len(rep.rows))
        aired = rep.aired
        for key, title in rep.topics.items():
            append(wt, [key, title] + ["đã phát" if key in aired.get(r.station.pk, ()) else "chưa phát"
                                       for r in rep.rows])
        wt.freeze_panes = "C2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- DOCX ---------------------------------------------------------------------------------------

def write_docx(rep: FleetReport) -> bytes:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    from loa.report.periodic import official_document

    doc = official_document()

    def para(text, bold=False, center=False):
        p = doc.add_paragraph()
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(xml_text(text))
        run.bold = bold or None
        return p

    def table(head, rows):
        t = doc.add_table(rows=1, cols=len(head))
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, head, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(xml_text(text)).bold = True
        for values in rows:
            cells = t.add_row().cells
            for cell, text in zip(cells, values, strict=True):
                cell.text = xml_text(str(text))
        return t

    para("BÁO CÁO KẾT QUẢ PHÁT THANH", bold=True, center=True)
    para(f"{rep.period.label} — {rep.scope}", center=True)
    para(f"Lập lúc {rep.made_at.astimezone(TZ):%H:%M ngày %d/%m/%Y}.")
    para("1. Lượt phát theo từng xã", bold=True)
    t = rep.total
    table(["Đài", "Đã phát", "Bị lỡ", "Lỗi", "Thời lượng phát", "Tỷ lệ chủ đề kế hoạch"],
          [[r.station.name, number(r.aired), number(r.missed), number(r.failed),
            hours_minutes(r.seconds), _share(r)] for r in rep.rows]
          + [["Tổng cộng", number(t.aired), number(t.missed), number(t.failed),
              hours_minutes(t.seconds), ""]])
    para("2. Chủ đề kế hoạch đã phát", bold=True)
    if rep.plan_id:
        para(f"Kế hoạch: {rep.plan_title} ({number(len(rep.topics))} chủ đề). Tỷ lệ = số chủ "
             "đề của kế hoạch đã phát ít nhất một lần trong kỳ ÷ số chủ đề của kế hoạch.")
        table(["Đài", "Chủ đề đã phát", "Tỷ lệ"],
              [[r.station.name, f"{r.topics_aired}/{len(rep.topics)}", _share(r)]
               for r in rep.rows])
    else:
        para("Trong kỳ không có lượt phát nào thuộc một kế hoạch.")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --- upward JSON --------------------------------------------------------------------------------

def upward_json(st: Station, since: datetime, until: datetime) -> Iterator[bytes]:
    """One station's plays in the period as loa/report/export.py export_json writes them:
    {"version", "station", "station_name", "plays": [the upward row of each play]}, streamed."""
    head = json.dumps({"version": UPWARD_VERSION, "station": st.slug, "station_name": st.name},
                      ensure_ascii=False)
    yield (head[:-1] + ', "plays": [').encode()
    n = 0
    rows = (Play.objects.filter(station=st, at__gte=since, at__lt=until)
            .order_by("at", "id").values_list("row", flat=True))
    for row in rows.iterator(chunk_size=2000):
        row = {k: v for k, v in row.items() if k != "play_key"} if isinstance(row, dict) else row
        yield (("\n" if n == 0 else ",\n") + json.dumps(row, ensure_ascii=False)).encode()
        n += 1
    yield b"\n]}\n"
