"""Operator text is data in every export: control characters that XML cannot carry, and
values a spreadsheet would run as formulas (OWASP CSV injection), written through the real
log store and read back by the csv module, json, openpyxl, python-docx and LibreOffice."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from loa import settings
from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.report import CSV_HEADERS
from loa.report.safe import FORMULA_START, xml_text

ROOT = Path(__file__).resolve().parents[1]
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(1+1)", '=HYPERLINK("http://x","y")',
            "\tTAB ở đầu", "\rCR ở đầu"]
CONTROLS = ["Bão \x07 số 3 sắp đổ bộ", "ký tự\x00rỗng", "màu \x1b[31mđỏ", "không\ufffehợp lệ",
            'dấu "ngoặc", phẩy\nxuống dòng']
NASTY = FORMULAS + CONTROLS
NUMERIC = {"Mã lượt phát", "Lĩnh vực", "Mức ưu tiên", "Thời lượng (giây)",
           "Thời lượng yêu cầu (giây)"}
T0 = datetime(2026, 2, 3, 6, 30, tzinfo=DEFAULT_TZ)


@pytest.fixture
def station(data_dir, tmp_path):
    """The sample schedule, and a log where each nasty value is a title, a reason, a
    summary, a zone name and an event detail; one play with a negative duration."""
    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    store = LogStore(settings.db_path())
    for i, value in enumerate(NASTY):
        at = T0 + timedelta(days=i)
        for status in ("played", "failed"):
            row = store.claim(play_key=f"{i}|{status}", station="ba-vi",
                              zone="toan-xa" if i % 2 else value, program="p", session="sang",
                              bulletin=f"ba-vi-2026/N{i}", title=value, field=2, priority=3,
                              scheduled_at=at + timedelta(minutes=status == "failed"), now=at,
                              clip_s=30.0, summary=value, engine="espeak")
            store.finish(row, status=status, started_at=at, ended_at=at + timedelta(seconds=30),
                         reason=value if status == "failed" else None)
        store.event("reload-failed", at, value)
    row = store.claim(play_key="backwards", station="ba-vi", zone="toan-xa", program="p",
                      session="sang", bulletin="ba-vi-2026/B", title="đồng hồ lùi",
                      field=2, priority=3, scheduled_at=T0, now=T0, clip_s=30.0)
    store.finish(row, status="interrupted", started_at=T0, ended_at=T0 - timedelta(seconds=3),
                 reason="đồng hồ bị chỉnh lùi")
    store.close()
    return tmp_path / "schedules" / "ba-vi.yaml"


def _soffice() -> str:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice missing: run scripts/setup.sh --dev"
    return soffice


def test_csv_neutralizes_formulas_and_keeps_lines(station, tmp_path):
    out = tmp_path / "nhat-ky.csv"
    assert main(["export", "-o", str(out), "--quarter", "2026Q1"]) == 0
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_HEADERS
    plays = [dict(zip(CSV_HEADERS, r, strict=True)) for r in rows[1:]]
    assert len(plays) == 2 * len(NASTY) + 1  # a newline inside a title broke no line
    titles = [p["Tiêu đề bản tin"] for p in plays]
    reasons = {p["Lý do"] for p in plays}
    zones = {p["Vùng phát"] for p in plays}
    for value in FORMULAS:
        assert titles.count("'" + value) == 2 and "'" + value in reasons, value
        assert value not in titles
    assert "'" + FORMULAS[0] in zones  # every text column, not only titles
    for value in CONTROLS:  # CSV carries them as they are, inside quotes
        assert titles.count(value) == 2 and value in reasons, value
    for play in plays:
        for header, cell in play.items():
            if header not in NUMERIC:
                assert not cell.startswith(FORMULA_START), (header, cell)
    backwards = next(p for p in plays if p["Tiêu đề bản tin"] == "đồng hồ lùi")
    assert backwards["Thời lượng (giây)"] == "-3.0"  # a negative number stays a number
    assert b",-3.0," in out.read_bytes()


def test_json_stays_valid_and_exact(station, tmp_path):
    out = tmp_path / "len-tinh.json"
    assert main(["export", "-o", str(out), "--schedule", str(station)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    got = [p["TieuDe"] for p in doc["plays"]]
    for value in NASTY:  # JSON escapes what it must; the province gets the exact text
        assert got.count(value) == 2, value
        assert any(p["LyDo"] == value and p["TomTat"] == value for p in doc["plays"])


def test_xlsx_has_no_formula_in_any_sheet_and_libreoffice_reads_text(station, tmp_path):
    out = tmp_path / "nhat-ky.xlsx"
    assert main(["export", "-o", str(out), "--quarter", "2026Q1",
                 "--schedule", str(station)]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Nhật ký phát", "Theo bản tin", "Theo vùng", "Theo tháng",
                             "Theo ngôn ngữ", "Sự kiện của máy phát"]
    values: dict[str, list] = {}
    for ws in wb:
        values[ws.title] = []
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                values[ws.title].append(cell.value)
    clean = [xml_text(v) for v in NASTY]
    assert clean[len(FORMULAS)] == "Bão  số 3 sắp đổ bộ"  # the bell is gone, nothing else
    for sheet in ("Nhật ký phát", "Theo bản tin"):
        for value in clean:
            assert value in values[sheet], (sheet, value)
    for value in clean[::2]:  # even rows played in a zone named by the nasty value
        assert value in values["Theo vùng"], value
    for value in clean:
        assert value in values["Sự kiện của máy phát"], value
    log = wb["Nhật ký phát"]
    header = [c.value for c in log[1]]
    dur = header.index("Thời lượng phát") + 1
    back = next(r for r in log.iter_rows(min_row=2) if r[header.index("Tiêu đề bản tin")].value
                == "đồng hồ lùi")
    # still a number (openpyxl reads a [h]:mm:ss number as a duration), not text
    assert round(back[dur - 1].value.total_seconds()) == -3

    # LibreOffice opens it and shows the text, not a computed value
    lo = tmp_path / "lo"
    subprocess.run([_soffice(), f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                    "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,"
                    "false,-1", "--outdir", str(lo), str(out)],
                   check=True, capture_output=True, timeout=300)
    sheets = {}
    for path in lo.glob("*.csv"):
        with open(path, encoding="utf-8", newline="") as fh:
            sheets[path.stem.removeprefix("nhat-ky-")] = [c for r in csv.reader(fh) for c in r]
    assert {"Nhật ký phát", "Theo bản tin", "Theo vùng",
            "Sự kiện của máy phát"} <= set(sheets), sorted(sheets)
    for sheet in ("Nhật ký phát", "Theo bản tin", "Sự kiện của máy phát"):
        cells = sheets[sheet]
        for value in ("=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(1+1)",
                      '=HYPERLINK("http://x","y")', "Bão  số 3 sắp đổ bộ"):
            assert value in cells, (sheet, value)
        assert "y" not in cells  # a formula cell would export its value, not its text


def test_report_docx_carries_the_text_and_libreoffice_converts_it(station, tmp_path):
    from docx import Document

    out = tmp_path / "bao-cao.docx"
    assert main(["report", str(station), "--quarter", "2026Q1", "-o", str(out), "--pdf"]) == 0
    doc = Document(out)
    text = "\n".join(p.text for p in doc.paragraphs)
    text += "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    for value in NASTY:  # titles (part II) and reasons (part IV)
        assert xml_text(value).strip() in text, value
    pdf = re.sub(r"\s+", " ", "\n".join(p.extract_text()
                                       for p in PdfReader(out.with_suffix(".pdf")).pages))
    for value in ("=cmd|' /C calc'!A0", "@SUM(1+1)", '=HYPERLINK("http://x","y")',
                  "ký tựrỗng", "khônghợp lệ", "Bão số 3 sắp đổ bộ"):
        assert value in pdf, value


def test_calendar_ics_keeps_one_line_per_property(data_dir, tmp_path):
    from loa.yamlio import load_yaml, write_yaml

    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    sched = tmp_path / "schedules" / "ba-vi.yaml"
    data = load_yaml(sched)
    data["zones"][0]["name"] = "Toàn xã\r\nX-INJECTED:1\x07"
    data["station"]["name"] = "Đài; xã, \"Ba Vì\"\rBEGIN:VEVENT"
    write_yaml(sched, data)
    out = tmp_path / "lich.ics"
    assert main(["calendar", str(sched), "--days", "400", "--ics", str(out)]) == 0
    raw = out.read_bytes().decode("utf-8")
    lines = raw.split("\r\n")
    assert "\r" not in raw.replace("\r\n", "") and "\n" not in raw.replace("\r\n", "")
    assert not any(line.startswith(("X-INJECTED", "BEGIN:VEVENTBEGIN")) for line in lines)
    assert sum(line == "BEGIN:VEVENT" for line in lines) == \
        sum(line == "END:VEVENT" for line in lines) > 0
    assert "\x07" not in raw and "Toàn xã\\nX-INJECTED:1" in raw.replace("\r\n ", "")


def test_loa_log_never_sends_control_characters_to_the_terminal(tmp_path):
    """An escape sequence in a logged title would repaint the officer's screen."""
    import os
    import sys

    from loa.clock import DEFAULT_TZ as tz

    now = datetime.now(tz)
    store = LogStore(tmp_path / "loa.sqlite3")
    store.claim(play_key="k1", station="s", zone="toan-xa", program="p", session="khan-cap",
                bulletin="khan-cap-1", title="Bão \x1b[2J\x07số 3", field=2, priority=1,
                scheduled_at=now, now=now, status="missed", reason="mất điện\x1b[31m")
    store.event("emergency", now, "Bão \x1b]0;hacked\x07 -> toan-xa")
    store.close()
    env = {**os.environ, "LOA_DATA_DIR": str(tmp_path)}
    for args in (["log"], ["log", "--events"]):
        out = subprocess.run([sys.executable, "-m", "loa", *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "Bão" in out.stdout
        assert not any(ord(c) < 32 and c not in "\n" for c in out.stdout), repr(out.stdout)
