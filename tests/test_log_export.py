from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import zipfile
from datetime import datetime, timedelta

from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.log.store import SCHEMA_VERSION
from loa.report import CSV_HEADERS, export_csv

T0 = datetime(2026, 4, 1, 6, 30, tzinfo=DEFAULT_TZ)


def _claim(store, key, title="Tuyên truyền về dịch vụ công trực tuyến", now=T0, **kw):
    args = dict(play_key=key, station="ba-vi", zone="thôn-đông", program="kstthc",
                session="sang", bulletin="ba-vi-2026/IV.2.a", title=title, field=3,
                priority=3, scheduled_at=T0, now=now)
    args.update(kw)
    return store.claim(**args)


def test_log_is_a_real_sqlite_file_and_claims_once(tmp_path):
    db = tmp_path / "log.sqlite3"
    store = LogStore(db)
    row = _claim(store, "k1")
    assert row is not None
    assert _claim(store, "k1") is None  # the same play is never recorded (or played) twice
    store.finish(row, status="played", started_at=T0, ended_at=T0 + timedelta(seconds=42.5))
    store.close()

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    status, dur, sched = con.execute(
        "SELECT status, duration_s, scheduled_at FROM plays").fetchone()
    assert (status, dur) == ("played", 42.5)
    assert sched == "2026-04-01T06:30:00+07:00"  # stored with its zone


def test_reopening_keeps_rows(tmp_path):
    db = tmp_path / "log.sqlite3"
    s = LogStore(db)
    _claim(s, "a")
    s.close()
    s = LogStore(db)
    assert [r.play_key for r in s.plays()] == ["a"]
    s.close()


def test_csv_export_has_bom_vietnamese_headers_local_and_utc(tmp_path):
    store = LogStore(tmp_path / "log.sqlite3")
    r = _claim(store, "k1")
    store.finish(r, status="played", started_at=T0 + timedelta(seconds=0.02),
                 ended_at=T0 + timedelta(seconds=60))
    _claim(store, "k2", status="missed", reason="máy tắt vào giờ phát")
    out = tmp_path / "nhat-ky.csv"
    assert export_csv(store, out) == 2
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert tuple(rows[0]) == CSV_HEADERS
    played = dict(zip(rows[0], rows[1], strict=True))
    assert played["Giờ theo lịch"] == "01/04/2026 06:30:00"
    assert played["Giờ theo lịch (UTC)"] == "2026-03-31T23:30:00Z"
    assert played["Trạng thái"] == "đã phát" and played["Vùng phát"] == "thôn-đông"
    missed = dict(zip(rows[0], rows[2], strict=True))
    assert missed["Trạng thái"] == "bị lỡ" and missed["Lý do"] == "máy tắt vào giờ phát"


def test_libreoffice_opens_the_csv_with_diacritics_intact(tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice missing: run scripts/setup.sh --dev"
    store = LogStore(tmp_path / "log.sqlite3")
    _claim(store, "k1", title="Tuyên truyền về Điểm Phục vụ hành chính công số")
    out = tmp_path / "nhat-ky.csv"
    export_csv(store, out)
    profile = tmp_path / "lo-profile"
    # LibreOffice shows its Text Import dialog for a CSV, which offers UTF-8; headless, with
    # no filter options at all, 7.4 decodes as Latin-1 even with a BOM. So pass what the
    # dialog shows: comma, double quote, UTF-8 (76), from line 1.
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless",
         "--infilter=Text - txt - csv (StarCalc):44,34,76,1", "--convert-to",
         "xlsx", "--outdir", str(tmp_path), str(out)],
        check=True, capture_output=True, timeout=180,
    )
    with zipfile.ZipFile(tmp_path / "nhat-ky.xlsx") as z:
        strings = z.read("xl/sharedStrings.xml").decode("utf-8")
    for text in ("Tiêu đề bản tin", "Tuyên truyền về Điểm Phục vụ hành chính công số",
                 "thôn-đông", "Giờ theo lịch", "đang phát"):
        assert text in strings
    assert "<t>Mã lượt phát</t>" in strings or ">Mã lượt phát<" in strings  # BOM consumed


def test_cli_export_and_log(data_dir, tmp_path, capsys):
    from loa import settings

    store = LogStore(settings.db_path())
    r = _claim(store, "k1")
    store.finish(r, status="played", started_at=T0, ended_at=T0 + timedelta(seconds=5))
    store.close()
    assert main(["log"]) == 0
    out = capsys.readouterr().out
    assert "01/04/2026 06:30:00" in out and "đã phát" in out
    target = tmp_path / "out.csv"
    assert main(["export", "--format", "csv", "-o", str(target)]) == 0
    assert "Đã xuất 1 lượt phát" in capsys.readouterr().out
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")


def test_csv_read_in_parallel_slices_is_the_same_csv_in_the_same_order(tmp_path):
    """Slices split plays that share a scheduled time; rows claimed out of order, a NUL in
    a title and a filter on zone and status change nothing."""
    from loa.log import LogFilter

    store = LogStore(tmp_path / "log.sqlite3")
    for i in range(40):
        at = T0 + timedelta(minutes=(i * 7) % 5)  # five times, claimed out of order
        row = _claim(store, f"k{i}", title=f"bản tin {i}" + ("\x00rỗng" if i == 13 else ""),
                     zone=f"thon-{i % 3}", scheduled_at=at, now=at)
        if i % 4:
            store.finish(row, status="played" if i % 5 else "failed", started_at=at,
                         ended_at=at + timedelta(seconds=i), reason="lỗi, \"loa\"")
    for where in (LogFilter(), LogFilter(zones=("thon-1", "thon-2"), statuses=("played",)),
                  LogFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=4))):
        # cache=False: every line built, so the two threads do build them
        one = [line for block in store.iter_csv(where, workers=1, cache=False) for line in block]
        many = [line for block in store.iter_csv(where, batch=3, workers=2, cache=False)
                for line in block]
        assert many == one and one
        ids = [int(line.split(b",", 1)[0]) for line in one]
        want = [r.id for r in sorted(store.plays(where=where),
                                     key=lambda r: (r.scheduled_at, r.id))]
        assert ids == want
    nul = [line for block in store.iter_csv(batch=3) for line in block if b"\x00" in line]
    assert nul and "bản tin 13\x00rỗng" in nul[0].decode("utf-8")
    store.close()


def test_bulletin_logged_by_id_or_plan_key_without_wildcards(tmp_path):
    store = LogStore(tmp_path / "log.sqlite3")
    _claim(store, "a", bulletin="khan-cap-20260406-045900")
    _claim(store, "b", bulletin="ke-hoach/IV_1%a")
    assert store.bulletin_logged("khan-cap-20260406-045900")
    assert store.bulletin_logged("IV_1%a")  # sent as <plan>/<id>
    assert not store.bulletin_logged("khan-cap-20260406-04590")
    assert not store.bulletin_logged("IVx1%a") and not store.bulletin_logged("IV_1")
    assert not store.bulletin_logged("IV_1xa")  # '%' and '_' are not wildcards
    store.close()
