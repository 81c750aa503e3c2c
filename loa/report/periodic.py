"""The quarterly / 6-month / yearly report staff hand in, as DOCX (and PDF).

Layout of an administrative document (Nghị định 30/2020/NĐ-CP): issuing body and
national motto side by side, number and place-date line, title, body, signature block
and recipients; Times New Roman, A4, margins 20/20/30/15 mm."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from loa.errors import LoaError
from loa.fsio import atomic_copy, atomic_open
from loa.languages import name_vi
from loa.log.labels import Names, outline_of, status_label
from loa.log.period import Period
from loa.log.store import LogFilter, LogStore, topic_of
from loa.report.safe import xml_text
from loa.report.summary import Summary, summarize
from loa.voice.engine import engine_label_vi

FONT = "Times New Roman"
UNAIRED = ("late", "interrupted", "failed", "missed", "skipped")
NO_REASON = {"late": "bắt đầu muộn quá 30 giây so với lịch"}


@dataclass
class Topic:
    key: str  # plan id / outline path, parts merged
    path: str  # outline path, as the plan numbers it
    title: str
    aired: int = 0
    zones: dict[str, int] = field(default_factory=dict)


@dataclass
class PlanCoverage:
    plan_id: str
    title: str
    number: str
    issuer: str
    topics: list[Topic]

    @property
    def never_aired(self) -> list[Topic]:
        return [t for t in self.topics if not t.aired]


@dataclass
class Letterhead:
    owner: str = ""  # cơ quan chủ quản
    issuer: str = ""  # the station
    place: str = ""
    signer: str = ""
    signer_title: str = ""
    number: str = ""  # "12/BC-ĐTT"; blank leaves room to write it in


@dataclass
class ReportData:
    period: Period
    summary: Summary
    coverage: list[PlanCoverage]
    zone_names: dict[str, str]
    head: Letterhead
    today: date


def plan_coverage(bulletin_files, summary: Summary) -> list[PlanCoverage]:
    """Each plan topic (bulletins split in parts count as one) with how often and where
    it aired; from the bulletin files the schedule uses, whatever their status."""
    out = []
    for bfile in bulletin_files:
        plan = bfile.plan
        topics: dict[str, Topic] = {}
        for b in bfile.bulletins:
            key = topic_of(b.key)
            if key not in topics:
                title = re.sub(r"\s*\(phần \d+/\d+\)$", "", b.title)
                topics[key] = Topic(key, topic_of(b.id), title)
        for t in topics.values():
            t.aired = summary.topics[t.key].aired if t.key in summary.topics else 0
            t.zones = dict(sorted(summary.topic_zones.get(t.key, {}).items()))
        out.append(PlanCoverage(str(plan.get("id") or ""), str(plan.get("title") or ""),
                                str(plan.get("number") or ""), str(plan.get("issuer") or ""),
                                list(topics.values())))
    return out


def build(store: LogStore, period: Period, tz: ZoneInfo, bulletin_files=(),
          zone_names: Names | dict[str, str] | None = None, head: Letterhead | None = None,
          today: date | None = None) -> ReportData:
    """`zone_names`: loa.log.Names, or a zone-id -> name dict."""
    since, until = period.bounds(tz)
    summary = summarize(store, LogFilter(since=since, until=until))
    return ReportData(period, summary, plan_coverage(bulletin_files, summary),
                      dict(Names.of(zone_names).maps["zone"]), head or Letterhead(),
                      today or date.today())


def voice_label_vi(code: str) -> str:
    """'ghi-am' -> 'giọng đọc thu âm', 'espeak' -> 'espeak-ng (ngoại tuyến)'."""
    return engine_label_vi(code) if code else "không rõ"


def minutes(seconds: float) -> str:
    """Minutes with one decimal, Vietnamese style: 38.169,6."""
    return vi_decimal(f"{seconds / 60:,.1f}")


def vi_decimal(text: str) -> str:
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def hours_minutes(seconds: float) -> str:
    m = int(round(seconds / 60))
    return f"{m // 60} giờ {m % 60:02d} phút" if m >= 60 else f"{m} phút"


def number(n: int) -> str:
    """19.032: Vietnamese thousands separator."""
    return f"{n:,}".replace(",", ".")


def percent(value: float) -> str:
    return vi_decimal(f"{value:.1f}") + "%"


# --- DOCX ---------------------------------------------------------------------------------------

def official_document():
    """An empty A4 Word document set up as an administrative text (margins, Times 13)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    style = doc.styles["Normal"]
    style.font.name, style.font.size = FONT, Pt(13)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # Word's font for Vietnamese text
    return doc


def write_docx(data: ReportData, out: str | Path) -> Path:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = official_document()
    style = doc.styles["Normal"]
    style.paragraph_format.space_after = Pt(3)
    style.paragraph_format.line_spacing = 1.15
    doc.styles["Table Grid"].font.name = FONT

    CENTER = WD_ALIGN_PARAGRAPH.CENTER

    def para(text="", bold=False, italic=False, align=None, size=None, cell=None, indent=True):
        if cell is None:
            p = doc.add_paragraph()
        elif len(cell.paragraphs) == 1 and not cell.paragraphs[0].runs:
            p = cell.paragraphs[0]  # a new cell holds one empty paragraph: use it
        else:
            p = cell.add_paragraph()
        if align is not None:
            p.alignment = align
        elif cell is None:
            p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
            if indent:
                p.paragraph_format.first_line_indent = Mm(10)
        run = p.add_run(xml_text(text))  # operator text: XML cannot carry every character
        if bold:  # only what differs from Normal: each property is an XML element
            run.bold = True
        if italic:
            run.italic = True
        if size and size != 13:
            run.font.size = Pt(size)
        return p

    def widths(table, mm):
        """Fixed column widths that Word and LibreOffice both honour: grid and cells."""
        table.autofit = False
        grid = table._tbl.tblGrid
        for col, w in zip(grid.findall(qn("w:gridCol")), mm, strict=True):
            col.set(qn("w:w"), str(int(Mm(w).twips)))
        for row in table.rows:
            for cell, w in zip(row.cells, mm, strict=True):
                cell.width = Mm(w)

    def no_borders(table):
        borders = table._tbl.tblPr.first_child_found_in("w:tblBorders")
        if borders is not None:
            table._tbl.tblPr.remove(borders)

    h = data.head
    # header: issuing body | national motto
    top = doc.add_table(rows=1, cols=2)
    no_borders(top)
    top.alignment = WD_TABLE_ALIGNMENT.CENTER
    widths(top, (68, 97))
    left, right = top.rows[0].cells
    if h.owner:
        para(h.owner.upper(), align=CENTER, size=13, cell=left)
    para((h.issuer or "ĐÀI TRUYỀN THANH").upper(), bold=True, align=CENTER, size=13, cell=left)
    para("———", align=CENTER, size=10, cell=left)
    para(f"Số: {h.number or '       '}/BC-ĐTT" if "/" not in h.number else f"Số: {h.number}",
         align=CENTER, size=13, cell=left)
    para("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, align=CENTER, size=12, cell=right)
    para("Độc lập - Tự do - Hạnh phúc", bold=True, align=CENTER, size=13, cell=right)
    para("———————————", align=CENTER, size=10, cell=right)
    d = data.today
    para(f"{h.place or '…'}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}", italic=True,
         align=CENTER, size=13, cell=right)

    # title
    s, period = data.summary, data.period
    para("")
    para("BÁO CÁO", bold=True, align=CENTER, size=14)
    para(f"Kết quả thông tin, tuyên truyền trên hệ thống loa truyền thanh {period.label}",
         bold=True, align=CENTER, size=14)
    para(f"(từ ngày {period.start:%d/%m/%Y} đến ngày {period.end:%d/%m/%Y})", italic=True,
         align=CENTER)
    para("—————", align=CENTER, size=10)

    t = s.total
    para("I. KẾT QUẢ CHUNG", bold=True, indent=False)
    para(f"Trong kỳ báo cáo, {h.issuer or 'đài truyền thanh'} đã phát {number(t.aired)} lượt "
         f"bản tin trên tổng số {number(t.scheduled)} lượt theo lịch (đạt {percent(t.ratio)}), với tổng thời "
         f"lượng phát {hours_minutes(t.airtime_s)} ({minutes(t.airtime_s)} phút), so với "
         f"{minutes(t.asked_s)} phút theo yêu cầu. Số bản tin khác nhau đã phát: "
         f"{sum(1 for b in s.bulletins.values() if b.aired)}; số vùng phát: "
         f"{sum(1 for z in s.zones.values() if z.aired)}; tin khẩn cấp: {number(t.emergency)} lượt.")
    n = {k: number(t.by_status.get(k, 0)) for k in UNAIRED}
    para(f"Trong số đó phát muộn {n['late']} lượt (vẫn tính là đã phát). Không phát trọn: "
         f"bị ngắt {n['interrupted']}, lỗi {n['failed']}, bị lỡ {n['missed']}, "
         f"bỏ qua {n['skipped']} lượt (chi tiết ở mục IV).")

    def table(headers, rows, col_mm, total=None):
        tb = doc.add_table(rows=1, cols=len(headers))
        tb.style = doc.styles["Table Grid"]
        tb.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(tb.rows[0].cells, headers, strict=True):
            para(text, bold=True, align=CENTER, size=12, cell=cell)
        for row in rows + ([total] if total else []):
            cells = tb.add_row().cells
            for i, (cell, value) in enumerate(zip(cells, row, strict=True)):
                text = number(value) if isinstance(value, int) else str(value)
                numeric = i == 0 or re.fullmatch(r"[\d.,%]+", text or "x")
                para(text, bold=row is total, size=12, cell=cell,
                     align=CENTER if numeric else None)
        widths(tb, col_mm)
        para("", indent=False)
        return tb

    para("II. CÁC NỘI DUNG ĐÃ PHÁT", bold=True, indent=False)
    # per topic: a bulletin read in parts (IV.1.b-p1, -p2) is one content of the plan
    titles: dict[str, str] = {}
    for key in sorted(s.titles):
        titles.setdefault(topic_of(key), re.sub(r"\s*\(phần \d+/\d+\)$", "", s.titles[key]))
    keys = sorted((k for k, tl in s.topics.items() if tl.airtime_s or tl.aired),
                  key=lambda k: (-s.topics[k].aired, k))
    rows = [[i, outline_of(k), titles.get(k, ""), s.topics[k].aired,
             minutes(s.topics[k].airtime_s)] for i, k in enumerate(keys, start=1)]
    if rows:
        table(["STT", "Mục", "Tiêu đề", "Số lượt phát", "Thời lượng (phút)"], rows,
              (11, 35, 75, 22, 22),
              ["", "Tổng cộng", "", t.aired, minutes(t.airtime_s)])
    else:
        para("Không có bản tin nào được phát trong kỳ.")

    para("III. THỜI LƯỢNG PHÁT THEO VÙNG", bold=True, indent=False)
    rows = [[i, data.zone_names.get(z, z), s.zones[z].scheduled, s.zones[z].aired,
             minutes(s.zones[z].airtime_s), percent(s.zones[z].ratio)]
            for i, z in enumerate(sorted(s.zones), start=1)]
    if rows:
        table(["STT", "Vùng phát", "Lượt theo lịch", "Lượt đã phát", "Thời lượng (phút)",
               "Tỷ lệ"], rows, (11, 50, 26, 26, 26, 26),
              ["", "Tổng cộng", t.scheduled, t.aired, minutes(t.airtime_s), percent(t.ratio)])
    else:
        para("Không có lượt phát nào trong kỳ.")
    if s.languages:  # Nghị định 49/2024/NĐ-CP: Vietnamese and the local languages
        para("Số lượt phát theo ngôn ngữ:", indent=False)
        rows = [[i, name_vi(code), tl.scheduled, tl.aired, minutes(tl.airtime_s),
                 percent(tl.ratio)] for i, (code, tl) in enumerate(s.languages.items(), 1)]
        table(["STT", "Ngôn ngữ", "Lượt theo lịch", "Lượt đã phát", "Thời lượng (phút)",
               "Tỷ lệ"], rows, (11, 50, 26, 26, 26, 26),
              ["", "Tổng cộng", t.scheduled, t.aired, minutes(t.airtime_s), percent(t.ratio)])

    if s.voices:  # the officer's recorded voice beside the machine voices
        para("Số lượt đã phát theo giọng đọc:", indent=False)
        aired = sum(s.voices.values())
        rows = [[i, voice_label_vi(code), number(n), percent(100.0 * n / aired)]
                for i, (code, n) in enumerate(s.voices.items(), 1)]
        table(["STT", "Giọng đọc", "Lượt đã phát", "Tỷ lệ"], rows, (11, 100, 32, 22),
              ["", "Tổng cộng", number(aired), percent(100.0)])

    para("IV. CÁC LƯỢT PHÁT KHÔNG TRỌN VẸN VÀ NGUYÊN NHÂN", bold=True, indent=False)
    bad = sorted(((st, r, n) for (st, r), n in s.reasons.items() if st in UNAIRED),
                 key=lambda x: (UNAIRED.index(x[0]), -x[2], x[1]))
    if bad:
        table(["STT", "Tình trạng", "Nguyên nhân", "Số lượt"],
              [[i, status_label(st), r or NO_REASON.get(st, "không rõ"), n]
               for i, (st, r, n) in enumerate(bad, start=1)], (11, 30, 100, 24),
              ["", "Tổng cộng", "", sum(n for _, _, n in bad)])
    else:
        para("Tất cả các lượt phát theo lịch đều được phát trọn vẹn, đúng giờ.")

    para("V. MỨC ĐỘ THỰC HIỆN KẾ HOẠCH", bold=True, indent=False)
    if not data.coverage:
        para("Không có kế hoạch nào để đối chiếu (lịch phát không dẫn tới tệp bản tin).")
    for cov in data.coverage:
        ref = f" số {cov.number}" if cov.number and cov.number.strip("/") else ""
        para(f"Kế hoạch{ref} của {cov.issuer or 'cấp trên'} về {cov.title[:1].lower()}"
             f"{cov.title[1:]}: {len(cov.topics) - len(cov.never_aired)}/{len(cov.topics)} "
             f"nội dung đã được phát.")
        table(["STT", "Mục", "Nội dung", "Số lượt phát", "Vùng đã phát"],
              [[i, tp.path, tp.title, tp.aired,
                ", ".join(data.zone_names.get(z, z) for z in tp.zones) or "—"]
               for i, tp in enumerate(cov.topics, start=1)], (11, 18, 75, 20, 41))
        if cov.never_aired:
            para("Các nội dung chưa được phát trong kỳ:", italic=True)
            for tp in cov.never_aired:
                para(f"- {tp.path}: {tp.title}")
        else:
            para("Tất cả nội dung của kế hoạch đã được phát trong kỳ.")

    para("VI. ĐỀ XUẤT, KIẾN NGHỊ", bold=True, indent=False)
    para("…………………………………………………………………………………………………")

    # signature block
    para("")
    foot = doc.add_table(rows=1, cols=2)
    no_borders(foot)
    widths(foot, (80, 85))
    left, right = foot.rows[0].cells
    para("Nơi nhận:", bold=True, italic=True, size=12, cell=left)
    for line in (f"- {h.owner or 'Cấp trên'} (để báo cáo);", "- Lưu: VT."):
        para(line, size=11, cell=left)
    para((h.signer_title or "NGƯỜI BÁO CÁO").upper(), bold=True, align=CENTER, cell=right)
    para("(Ký, ghi rõ họ tên)", italic=True, align=CENTER, size=12, cell=right)
    for _ in range(3):
        para("", cell=right)
    para(h.signer or "", bold=True, align=CENTER, cell=right)

    doc.core_properties.title = f"Báo cáo kết quả phát thanh {period.label}"
    doc.core_properties.author = xml_text(h.issuer or "loa")
    out = Path(out)
    staged = io.BytesIO()  # a failed write must not leave python-docx's zip half open
    doc.save(staged)
    with atomic_open(out, "wb") as fh:
        fh.write(staged.getbuffer())
    return out


def to_pdf(docx: str | Path, out: str | Path, timeout: float = 180) -> Path:
    """Convert through LibreOffice (headless); LoaError if it is not installed or fails."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        raise LoaError("không có LibreOffice để xuất PDF; cài bằng: "
                       "sudo apt install libreoffice-writer-nogui")
    docx, out = Path(docx), Path(out)
    with tempfile.TemporaryDirectory(prefix="loa-pdf-") as tmp:
        profile = Path(tmp) / "profile"
        proc = subprocess.run(
            [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", "pdf", "--outdir", tmp, str(docx)],
            capture_output=True, text=True, timeout=timeout, check=False)
        made = Path(tmp) / (docx.stem + ".pdf")
        if proc.returncode != 0 or not made.exists():
            raise LoaError(f"LibreOffice không chuyển được sang PDF: "
                           f"{(proc.stderr or proc.stdout).strip()[:300]}", docx)
        atomic_copy(made, out)
    return out
