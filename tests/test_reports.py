"""The as-played log's history and power-cut safety, exports (CSV/XLSX/JSON) and the
quarterly report: figures are computed twice, from the raw rows and from the files."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader

from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.log import LogFilter, LogStore
from loa.log.migrations import MIGRATIONS, SCHEMA_VERSION
from loa.log.period import date_range, from_args, half, quarter, year
from loa.log.store import topic_of
from loa.plan import import_plan
from loa.report import UPWARD_FIELDS, export_json
from loa.report.periodic import NO_REASON
from loa.script import approve, load_bulletins, new_bulletin_file
from loa.script.draft import clear_markers
from loa.yamlio import write_yaml

ROOT = Path(__file__).resolve().parents[1]
ZONES = {"toan-xa": "Toàn xã", "thon-1": "Thôn Văn Hòa", "thon-2": "Thôn Đông Sàng"}
REASONS = {
    "interrupted": "bị ngắt để phát tin khẩn cấp",
    "failed": "lỗi thiết bị phát: PortAudioError",
    "missed": "máy không chạy vào giờ phát (mất điện hoặc tắt máy)",
    "skipped": "không phát vì đồng hồ chưa đồng bộ",
}


# --- a station with a quarter of plays, written through the real store -----------------------

def _station(folder: Path) -> tuple[Path, list]:
    plan = import_plan(ROOT / "loa/data/plans/ba-vi-2026.txt")
    bpath = folder / "bulletins.yaml"
    new_bulletin_file(bpath, plan).save()
    bfile = load_bulletins(bpath)
    for b in bfile.bulletins:
        b.text = clear_markers(b.text)  # as the officer does before approving
    approve(bfile, [b.id for b in bfile.bulletins], "Nguyễn Văn An",
            datetime(2025, 12, 20, tzinfo=DEFAULT_TZ), force=True)
    bfile.save()
    path = folder / "ba-vi.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "owner": "UBND xã Ba Vì",
                    "place": "Ba Vì", "signer": "Nguyễn Văn An", "signer_title": "Trưởng đài",
                    "engines": ["espeak"]},
        "zones": [{"id": z, "name": n, "volume": 80} for z, n in ZONES.items()],
        "sessions": [{"id": "sang", "name": "Buổi sáng", "time": "06:30",
                      "zones": list(ZONES)}],
        "programs": [{"id": "kstthc", "name": "Kiểm soát TTHC", "bulletins": "bulletins.yaml",
                      "sessions": ["sang"], "from": "2026-01-01", "until": "2026-12-31"}],
    })
    return path, bfile.bulletins


def _fill(store: LogStore, bulletins: list, seed: int = 7) -> None:
    """Jan-Mar 2026 every third day, plus a day either side of the quarter; a few
    bulletins never air; one emergency; every status with its reason."""
    rnd = random.Random(seed)
    aired_pool = [b for b in bulletins if not b.id.startswith("IV.4")]  # IV.4.* never air
    days = [date(2025, 12, 31)] + [date(2026, 1, 1) + timedelta(days=d)
                                   for d in range(0, 90, 3)] + [date(2026, 4, 1)]
    k = 0
    for day in days:
        at = datetime(day.year, day.month, day.day, 6, 30, tzinfo=DEFAULT_TZ)
        for item in range(2):
            b = aired_pool[k % len(aired_pool)]
            k += 1
            clip = round(30 + rnd.random() * 100, 3)
            for zone in ZONES:
                status = rnd.choice(["played"] * 8 + ["late", "interrupted", "failed",
                                                      "missed", "skipped"])
                claim = dict(play_key=f"ba-vi|{zone}|kstthc|{at.isoformat()}|{b.key}|{item}",
                             station="ba-vi", zone=zone, program="kstthc", session="sang",
                             bulletin=b.key, title=b.title, field=b.field, priority=b.priority,
                             scheduled_at=at, engine="ghi-am" if item else "espeak", clip_hash="c" * 32,
                             clip_s=clip, summary=b.summary(), volume=80)
                if status in ("missed", "skipped"):
                    store.claim(**{**claim, "clip_s": None}, now=at, status=status,
                                reason=REASONS[status])
                    continue
                start = at + timedelta(seconds=item * 140 + (50 if status == "late" else 0))
                row = store.claim(**claim, now=start)
                seconds = clip if status in ("played", "late") else round(clip / 4, 3)
                if status == "failed":
                    seconds = 0.0
                store.finish(row, status=status, started_at=start,
                             ended_at=start + timedelta(seconds=seconds),
                             reason=REASONS.get(status))
    storm = datetime(2026, 2, 10, 14, 5, 3, 250000, tzinfo=DEFAULT_TZ)
    row = store.claim(play_key="khan-cap|toan-xa", station="ba-vi", zone="toan-xa",
                      program="khan-cap", session="khan-cap", bulletin="khan-cap/bao-so-3",
                      title="Bão số 3 sắp đổ bộ", field=2, priority=1, scheduled_at=storm,
                      now=storm, engine="espeak", clip_hash="e" * 32, clip_s=20.5,
                      summary="Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.")
    store.finish(row, status="played", started_at=storm, ended_at=storm + timedelta(seconds=20.5))
    # a topic read in two parts counts once as a content of the plan
    first = aired_pool[0]
    for part in (1, 2):
        at = datetime(2026, 3, 3, 17, 0, tzinfo=DEFAULT_TZ) + timedelta(minutes=4 * part)
        row = store.claim(play_key=f"part-{part}", station="ba-vi", zone="thon-2",
                          program="kstthc", session="chieu", bulletin=f"{first.key}-p{part}",
                          title=f"{first.title} (phần {part}/2)", field=first.field,
                          priority=3, scheduled_at=at, now=at, clip_s=180.0)
        store.finish(row, status="played", started_at=at, ended_at=at + timedelta(seconds=180))


@pytest.fixture
def station(data_dir, tmp_path):
    from loa import settings

    sched, bulletins = _station(tmp_path)
    store = LogStore(settings.db_path())
    _fill(store, bulletins)
    yield sched, bulletins, store
    store.close()


def _q1_rows(store):
    since, until = quarter("2026Q1").bounds(DEFAULT_TZ)
    return [r for r in store.plays() if since <= datetime.fromisoformat(r.scheduled_at) < until]


def _vi_number(text: str) -> float:
    return float(text.replace(".", "").replace(",", ".").rstrip("%"))


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:,.1f}".replace(",", "_").replace(".", ",").replace("_", ".")


# --- periods ------------------------------------------------------------------------------------

def test_periods_cover_whole_days_in_station_time():
    since, until = quarter("2026Q1").bounds(DEFAULT_TZ)
    assert (since.isoformat(), until.isoformat()) == ("2026-01-01T00:00:00+07:00",
                                                      "2026-04-01T00:00:00+07:00")
    assert half("2026H2").end == date(2026, 12, 31) and half("2026H2").label == \
        "6 tháng cuối năm 2026"
    assert quarter("2026q4").label == "quý IV năm 2026"
    assert year("2026").days == 365
    assert date_range("31/01/2026", "2026-02-02").days == 3
    for bad in (lambda: quarter("2026Q5"), lambda: half("2026H3"), lambda: year("26"),
                lambda: date_range("2026-02-02", "2026-02-01"),
                lambda: from_args(quarter_="2026Q1", year_="2026")):
        with pytest.raises(LoaError) as err:
            bad()
        assert re.search(r"[À-ỹ]", str(err.value))  # told in Vietnamese


# --- the store: schema, history, power cuts ----------------------------------------------------

def test_v1_log_migrates_keeping_every_row(tmp_path):
    db = tmp_path / "loa.sqlite3"
    con = sqlite3.connect(db)
    con.executescript(MIGRATIONS[1])
    for key, session, status, started, dur in (
            ("a", "sang", "played", "2026-03-01T06:30:00.010+07:00", 61.5),
            ("b", "khan-cap", "playing", "2026-03-01T07:00:00.000+07:00", None),
            ("c", "thong-bao:hop-dan", "missed", None, None)):
        con.execute("INSERT INTO plays (play_key, station, zone, program, session, bulletin, "
                    "title, field, priority, scheduled_at, started_at, duration_s, status, "
                    "recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (key, "ba-vi", "thon-1", "p", session, "ba-vi-2026/IV.1.a", "Tiêu đề",
                     1, 3, "2026-03-01T06:30:00+07:00", started, dur, status,
                     "2026-03-01T06:29:58.000+07:00"))
    con.execute("INSERT INTO events (at, kind, detail) VALUES ('2026-03-01T06:00:00+07:00', "
                "'start', '')")
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()

    store = LogStore(db)
    assert store.version == SCHEMA_VERSION == 5
    rows = {r.play_key: r for r in store.plays()}
    assert {k: (r.status, r.kind) for k, r in rows.items()} == {
        "a": ("played", "lich"), "b": ("playing", "khan-cap"), "c": ("missed", "thong-bao")}
    assert rows["a"].duration_s == 61.5 and len(store.events()) == 1
    # the per-month totals are filled for old rows
    assert sum(t[6] for t in store.tallies()) == 3
    assert store.recover(datetime(2026, 3, 1, 8, tzinfo=DEFAULT_TZ), "mất điện") == 1
    assert store.history(rows["b"].id)[0][0] == "playing"
    store.close()
    assert LogStore(db).version == 5  # reopening migrates nothing twice


def test_history_is_kept_and_nothing_is_rewritten_or_deleted(tmp_path):
    store = LogStore(tmp_path / "loa.sqlite3")
    t0 = datetime(2026, 4, 1, 6, 30, tzinfo=DEFAULT_TZ)
    row = store.claim(play_key="k", station="s", zone="z", program="p", session="sang",
                      bulletin="b", title="t", field=1, priority=3, scheduled_at=t0, now=t0,
                      clip_s=10.0)
    store.finish(row, status="played", started_at=t0, ended_at=t0 + timedelta(seconds=9.9996))
    assert store.plays()[0].duration_s == 10.0  # milliseconds, as the totals count them
    assert store.history(row) == [("playing", None, t0.isoformat(timespec="milliseconds"),
                                   store.history(row)[0][3])]
    for sql, message in (
            ("UPDATE plays SET status='failed' WHERE id=?", "final status is never rewritten"),
            ("UPDATE plays SET title='x' WHERE id=?", "never (rewritten|changes)"),
            ("DELETE FROM plays WHERE id=?", "never deleted")):
        with pytest.raises(sqlite3.DatabaseError, match=message):
            store._db.execute(sql, (row,))
    store.event("start", t0, "")
    with pytest.raises(sqlite3.DatabaseError, match="never"):
        store._db.execute("DELETE FROM events")
    assert store.plays()[0].status == "played"


WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime, timedelta
    from loa.clock import DEFAULT_TZ
    from loa.log import LogStore
    store = LogStore(sys.argv[1])
    tag = sys.argv[2]
    t0 = datetime(2026, 5, 1, 6, 30, tzinfo=DEFAULT_TZ)
    i = 0
    while True:
        at = t0 + timedelta(seconds=i)
        row = store.claim(play_key=f"{tag}-{i}", station="ba-vi", zone=tag, program="p",
                          session="sang", bulletin="ba-vi-2026/IV.1.a", title="Tiêu đề có dấu",
                          field=1, priority=3, scheduled_at=at, now=at, clip_s=1.5)
        store.finish(row, status="played", started_at=at, ended_at=at + timedelta(seconds=1.5))
        store.event("tick", at, f"{tag} {i}")
        print(i, flush=True)
        i += 1
""")


def test_kill_9_during_heavy_logging_keeps_every_committed_row(tmp_path):
    db = tmp_path / "loa.sqlite3"
    LogStore(db).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = {tag: subprocess.Popen([sys.executable, "-c", WRITER, str(db), tag],
                                     stdout=subprocess.PIPE, text=True, env=env)
               for tag in ("thon-1", "thon-2")}
    done: dict[str, list[int]] = {tag: [] for tag in writers}
    deadline = time.monotonic() + 60
    while min(len(v) for v in done.values()) < 150 and time.monotonic() < deadline:
        for tag, proc in writers.items():
            done[tag].append(int(proc.stdout.readline()))
    for proc in writers.values():
        os.kill(proc.pid, signal.SIGKILL)  # the power goes, mid-transaction for all we know
    for tag, proc in writers.items():
        done[tag] += [int(line) for line in proc.stdout.read().split()]
        proc.wait(10)
    assert min(len(v) for v in done.values()) >= 150

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    store = LogStore(db)
    rows = {r.play_key: r for r in store.plays()}
    for tag, committed in done.items():
        assert committed == list(range(len(committed)))
        for i in committed:  # every row whose commit was reported is there, finished
            assert rows[f"{tag}-{i}"].status == "played"
            assert rows[f"{tag}-{i}"].duration_s == 1.5
        # at most the one in flight beyond them, claimed but not finished
        extra = [k for k in rows if k.startswith(tag) and int(k.rsplit("-", 1)[1]) >= len(committed)]
        assert len(extra) <= 1
    # the per-month totals moved in the same transactions as the rows
    assert sum(t[6] for t in store.tallies()) == len(rows)
    assert len([e for e in store.events(limit=None) if e[1] == "tick"]) >= sum(
        len(v) for v in done.values())
    store.close()


# --- exports ------------------------------------------------------------------------------------

def test_log_filters_on_the_command_line(station, capsys):
    _, _, store = station
    q1 = _q1_rows(store)
    want = [r for r in q1 if r.zone == "thon-1" and r.status == "missed"]
    assert main(["log", "--quarter", "2026Q1", "--zone", "thon-1", "--status", "bị lỡ",
                 "--limit", "0"]) == 0
    out = capsys.readouterr().out
    assert out.count("bị lỡ") == len(want) > 0
    assert "31/12/2025" not in out and "01/04/2026" not in out
    topic = q1[0].bulletin.split("/", 1)[1]
    assert main(["log", "--bulletin", topic, "--limit", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert len(lines) == sum(1 for r in store.plays() if r.bulletin.endswith("/" + topic))
    assert main(["log", "--status", "chưa-có"]) == 2
    assert "trạng thái 'chưa-có' không có" in capsys.readouterr().err
    assert main(["log", "--events"]) == 0


def test_xlsx_export_sheets_figures_and_formats(station, tmp_path, capsys):
    sched, _, store = station
    out = tmp_path / "nhat-ky-q1.xlsx"
    assert main(["export", "-o", str(out), "--quarter", "2026Q1", "--schedule", str(sched)]) == 0
    rows = sorted(_q1_rows(store), key=lambda r: (r.scheduled_at, r.id))
    assert f"Đã xuất {len(rows)} lượt" in capsys.readouterr().out
    plan = load_bulletins(sched.parent / "bulletins.yaml").plan
    plan_id, plan_title = plan["id"], plan["title"]
    assert plan_title and plan_title != plan_id
    wb = load_workbook(out)
    assert wb.sheetnames == ["Nhật ký phát", "Theo bản tin", "Theo vùng", "Theo tháng",
                             "Theo ngôn ngữ", "Sự kiện của máy phát"]
    ws = wb["Nhật ký phát"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:V{len(rows) + 1}"
    head = [c.value for c in ws[1]]
    got = [dict(zip(head, (c.value for c in row), strict=True)) for row in ws.iter_rows(min_row=2)]
    assert len(got) == len(rows)
    for r, g in zip(rows, got, strict=True):
        assert g["Mã lượt phát"] == r.id and g["Tiêu đề bản tin"] == r.title
        # names, not ids: the zone, station, program, session and plan by their names
        assert g["Vùng phát"] == ZONES[r.zone] and g["Đài"] == "Đài truyền thanh xã Ba Vì"
        assert g["Chương trình"] == {"kstthc": "Kiểm soát TTHC", "khan-cap": "khẩn cấp"}[r.program]
        # an emergency has no session of the schedule; 'chieu' is not in this one
        assert g["Buổi phát"] == {"sang": "Buổi sáng", "khan-cap": "khẩn cấp",
                                  "chieu": "chieu"}[r.session]
        assert g["Mục"] == r.bulletin.rsplit("/", 1)[1]
        if r.bulletin.startswith(plan_id + "/"):
            assert g["Kế hoạch"] == plan_title
        assert g["Giờ theo lịch"] == datetime.fromisoformat(r.scheduled_at).replace(tzinfo=None)
        if r.duration_s is not None:  # a duration, in Excel's own type
            assert abs(g["Thời lượng phát"].total_seconds() - r.duration_s) < 1e-3
    dur_cell = ws.cell(row=2, column=head.index("Thời lượng phát") + 1)
    assert dur_cell.number_format == "[h]:mm:ss"
    assert ws.cell(row=2, column=head.index("Giờ theo lịch") + 1).is_date

    zones = wb["Theo vùng"]
    zhead = [c.value for c in zones[1]]
    assert zhead[0] == "Vùng phát" and "Mã vùng" not in zhead
    table = {row[0]: dict(zip(zhead, row, strict=True))
             for row in zones.iter_rows(min_row=2, values_only=True)}
    for zid, name in ZONES.items():
        mine = [r for r in rows if r.zone == zid]
        assert table[name]["Lượt theo lịch"] == len(mine)
        assert table[name]["Phát trọn"] == sum(r.status in ("played", "late") for r in mine)
        airtime = sum(r.duration_s or 0 for r in mine
                      if r.status in ("played", "late", "interrupted"))
        assert table[name]["Thời lượng phát"] == timedelta(seconds=round(airtime))
    total = [r for r in zones.iter_rows(min_row=2, values_only=True) if r[0] == "Tổng cộng"][0]
    assert total[1] == len(rows)
    by_bulletin = wb["Theo bản tin"]
    assert [c.value for c in by_bulletin[1]][:3] == ["Kế hoạch", "Mục", "Tiêu đề bản tin"]
    plans = {row[0] for row in by_bulletin.iter_rows(min_row=2, values_only=True)}
    assert plan_title in plans and plan_id not in plans
    months = {r[0]: r[1] for r in wb["Theo tháng"].iter_rows(min_row=2, values_only=True)}
    assert months == {"01/2026": sum(r.scheduled_at[5:7] == "01" for r in rows),
                      "02/2026": sum(r.scheduled_at[5:7] == "02" for r in rows),
                      "03/2026": sum(r.scheduled_at[5:7] == "03" for r in rows),
                      "Tổng cộng": len(rows)}


def test_upward_json_uses_the_provincial_field_names(station, tmp_path):
    _, _, store = station
    out = tmp_path / "gui-tinh.json"
    n = export_json(store, out, "ba-vi", LogFilter(statuses=("played", "missed")))
    doc = json.loads(out.read_text(encoding="utf-8"))
    plays = doc["plays"]
    assert doc["station"] == "ba-vi" and len(plays) == n > 0
    assert all(set(UPWARD_FIELDS) <= set(p) for p in plays)
    storm = [p for p in plays if p["LoaiBanTin"] == "khan-cap"][0]
    assert storm["MucDoUuTien"] == 1 and storm["ThoiLuong"] == "00:00:20"  # 20.5 s, rounded
    assert storm["LinhVuc"] == 2 and storm["TomTat"].startswith("Bão số 3")
    assert {p["ThanhCong"] for p in plays if p["TrangThai"] == "missed"} == {False}
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", p["ThoiLuong"]) for p in plays)
    assert {p["AmLuong"] for p in plays if p["MaCumLoa"] == "thon-1"} == {80}


def test_export_refuses_an_unknown_format(data_dir, tmp_path, capsys):
    assert main(["export", "-o", str(tmp_path / "x.txt")]) == 2
    assert "không rõ định dạng" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()


# --- the quarterly report ------------------------------------------------------------------------

def _tables(doc):
    out = {}
    for t in doc.tables:
        head = tuple(c.text for c in t.rows[0].cells)
        out.setdefault(head[:3], []).append([[c.text for c in r.cells] for r in t.rows[1:]])
    return out


def test_quarterly_report_reconciles_with_the_log(station, tmp_path, capsys):
    sched, bulletins, store = station
    out = tmp_path / "bao-cao-q1.docx"
    assert main(["report", str(sched), "--quarter", "2026Q1", "-o", str(out),
                 "--number", "05/BC-ĐTT", "--date", "2026-04-02"]) == 0
    said = capsys.readouterr().out
    rows = _q1_rows(store)
    aired = [r for r in rows if r.status in ("played", "late")]
    on_air = [r for r in rows if r.status in ("played", "late", "interrupted")]
    assert f"{len(aired)}/{len(rows)} lượt phát trọn" in said

    doc = Document(out)
    text = "\n".join(p.text for p in doc.paragraphs)
    head = doc.tables[0]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in head.cell(0, 1).text
    assert "Độc lập - Tự do - Hạnh phúc" in head.cell(0, 1).text
    assert "ĐÀI TRUYỀN THANH XÃ BA VÌ" in head.cell(0, 0).text
    assert "UBND XÃ BA VÌ" in head.cell(0, 0).text and "Số: 05/BC-ĐTT" in head.cell(0, 0).text
    assert "Ba Vì, ngày 02 tháng 04 năm 2026" in head.cell(0, 1).text
    assert "BÁO CÁO" in text and "quý I năm 2026" in text
    assert doc.styles["Normal"].font.name == "Times New Roman"
    sign = doc.tables[-1]
    assert "TRƯỞNG ĐÀI" in sign.cell(0, 1).text and "Nguyễn Văn An" in sign.cell(0, 1).text
    assert "Nơi nhận" in sign.cell(0, 0).text

    # I. totals
    assert f"đã phát {len(aired)} lượt" in text
    assert f"tổng số {len(rows)} lượt theo lịch" in text
    assert f"({_minutes(sum(r.duration_s for r in on_air))} phút)" in text
    assert "tin khẩn cấp: 1 lượt" in text

    tables = _tables(doc)
    # II. per topic (parts merged): plays and minutes
    (per_bulletin,) = tables[("STT", "Mục", "Tiêu đề")]
    want = defaultdict(lambda: [0, 0.0])
    for r in on_air:
        want[topic_of(r.bulletin).split("/", 1)[1]][1] += r.duration_s
        want[topic_of(r.bulletin).split("/", 1)[1]][0] += r.status != "interrupted"
    got = {row[1]: [int(_vi_number(row[3])), row[4]] for row in per_bulletin[:-1]}
    assert got == {k: [n, _minutes(s)] for k, (n, s) in want.items()}
    assert not any("-p" in k or "phần" in row[2] for k, row in zip(got, per_bulletin, strict=False))
    assert per_bulletin[-1][3] == f"{len(aired)}"

    # III. per zone
    (per_zone,) = tables[("STT", "Vùng phát", "Lượt theo lịch")]
    for row in per_zone[:-1]:
        zid = {v: k for k, v in ZONES.items()}[row[1]]
        mine = [r for r in rows if r.zone == zid]
        assert int(row[2]) == len(mine)
        assert int(row[3]) == sum(r.status in ("played", "late") for r in mine)
        assert row[4] == _minutes(sum(r.duration_s or 0 for r in mine
                                      if r.status in ("played", "late", "interrupted")))

    # III. per voice: the engines' Vietnamese names, the officer's recording by its words
    (per_voice,) = tables[("STT", "Giọng đọc", "Lượt đã phát")]
    from loa.voice.engine import engine_label_vi

    voices = Counter(r.engine or "" for r in aired)
    assert {row[1]: int(row[2]) for row in per_voice[:-1]} == {
        (engine_label_vi(e) if e else "không rõ"): n for e, n in voices.items()}
    assert per_voice[-1][2] == f"{len(aired)}"

    # IV. what did not go out whole, with reasons
    (bad,) = tables[("STT", "Tình trạng", "Nguyên nhân")]
    counted = Counter((r.status, r.reason) for r in rows if r.status not in ("played",))
    from loa.log import STATUS_VI

    got = {(row[1], row[2]): int(row[3]) for row in bad[:-1]}
    assert got == {(STATUS_VI[s], reason or NO_REASON.get(s, "không rõ")): n
                   for (s, reason), n in counted.items()}
    assert int(bad[-1][3]) == len(rows) - sum(r.status == "played" for r in rows)

    # V. plan coverage: every topic, how often and where; the never-aired listed
    (coverage,) = tables[("STT", "Mục", "Nội dung")]
    topics = []
    for b in bulletins:
        if topic_of(b.key) not in [t for t, _ in topics]:
            topics.append((topic_of(b.key), b))
    assert [row[1] for row in coverage] == [topic_of(b.id) for _, b in topics]
    for row, (topic, _) in zip(coverage, topics, strict=True):
        mine = [r for r in aired if topic_of(r.bulletin) == topic]
        assert int(row[3]) == len(mine)
        assert row[4] == (", ".join(ZONES[z] for z in sorted({r.zone for r in mine})) or "—")
    never = [b for t, b in topics if not any(topic_of(r.bulletin) == t for r in aired)]
    assert never and all(b.id.startswith("IV.4") for b in never)
    assert "Các nội dung chưa được phát trong kỳ:" in text
    for b in never:
        assert f"- {topic_of(b.id)}: " in text


def test_report_needs_a_period_and_a_valid_schedule(station, tmp_path, capsys):
    sched, _, _ = station
    assert main(["report", str(sched)]) == 2
    assert "chọn kỳ báo cáo" in capsys.readouterr().err
    assert main(["report", str(sched), "--quarter", "2026Q9"]) == 2
    assert "quý '2026Q9' không hợp lệ" in capsys.readouterr().err
    assert not list(Path.cwd().glob("bao-cao-*.docx"))


def test_libreoffice_opens_the_report_and_the_workbook_with_vietnamese_intact(station,
                                                                             tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice missing: run scripts/setup.sh --dev"
    sched, _, _ = station
    report = tmp_path / "bao-cao.docx"
    assert main(["report", str(sched), "--quarter", "2026Q1", "-o", str(report), "--pdf"]) == 0
    text = "\n".join(p.extract_text() for p in PdfReader(report.with_suffix(".pdf")).pages)
    flat = re.sub(r"\s+", " ", text)
    for phrase in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA", "Độc lập - Tự do - Hạnh phúc", "BÁO CÁO",
                   "KẾT QUẢ CHUNG", "Thôn Đông Sàng", "nguyên nhân".upper(), "Nguyễn Văn An"):
        assert phrase in flat, phrase

    book = tmp_path / "nhat-ky.xlsx"
    assert main(["export", "-o", str(book), "--quarter", "2026Q1", "--schedule", str(sched)]) == 0
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), str(book)],
                   check=True, capture_output=True, timeout=300)
    text = "\n".join(p.extract_text() for p in PdfReader(tmp_path / "pdf/nhat-ky.pdf").pages)
    flat = re.sub(r"\s+", " ", text)  # headers wrap in their cells
    for phrase in ("Mã lượt phát", "Tiêu đề bản tin", "đã phát", "Thôn Văn Hòa",
                   "Tuyên truyền về", "Thời lượng yêu cầu"):
        assert phrase in flat, phrase


def test_csv_export_filtered_by_period_zone_and_status(station, tmp_path):
    _, _, store = station
    out = tmp_path / "loc.csv"
    assert main(["export", "-o", str(out), "--quarter", "2026Q1", "--zone", "thon-1", "toan-xa",
                 "--status", "played", "missed"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    want = sorted((r for r in _q1_rows(store) if r.zone in ("thon-1", "toan-xa")
                   and r.status in ("played", "missed")), key=lambda r: (r.scheduled_at, r.id))
    assert [int(r["Mã lượt phát"]) for r in rows] == [r.id for r in want]
    assert {r["Trạng thái"] for r in rows} == {"đã phát", "bị lỡ"}
