"""Exports and the yearly report on a large generated log.

Generates N plays (default 1,000,000: a year of 100 loudspeaker clusters, two sessions a
day, the Ba Vì plan's bulletins) into a real log database, through its schema and
triggers, then times:
  csv_first_s  `loa export -o x.csv` on a log never exported: builds every line and
               keeps it (the export-line cache)
  csv_s     the same export again, the steady state (officers export the same year each
            quarter): lines read as kept (goal <= 5 s)
  xlsx_s    `loa export -o x.xlsx`
  report_s  `loa report --year`     (goal <= 3 s), DOCX written
and, as references on the same rows and machine:
  sqlite3_csv_s     the sqlite3 CLI (`-csv`) writing the same CSV: same columns, labels,
                    station time as dd/mm/yyyy and UTC
  sqlite3_raw_csv_s the sqlite3 CLI dumping the same columns as stored (no labels, ISO times)
  xlsxwriter_s      xlsxwriter in constant-memory mode writing the log sheet's columns
with csv_ratio = csv_s / sqlite3_csv_s, csv_first_ratio = csv_first_s / sqlite3_csv_s,
csv_raw_ratio = csv_s / sqlite3_raw_csv_s and
xlsx_ratio = xlsx_s / xlsxwriter_s (goal < 1).
Prints one JSON object: rows, csv_first_s, csv_s, xlsx_s, report_s, the references and ratios
(+ generate_s, db_mb).

    python benchmarks/export.py [ROWS]
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loa.clock import DEFAULT_TZ  # noqa: E402
from loa.log import KIND_VI, STATUS_VI, LogStore  # noqa: E402
from loa.log.period import year  # noqa: E402
from loa.report import export_csv  # noqa: E402
from loa.report.periodic import Letterhead, build, write_docx  # noqa: E402
from loa.report.xlsx import LOG_COLUMNS, export_xlsx  # noqa: E402
from loa.script import load_bulletins  # noqa: E402

BULLETINS = ROOT / "schedules/bulletins/ba-vi-2026.yaml"
INSERT = """INSERT INTO plays (play_key, station, zone, program, session, bulletin, title, field,
    priority, scheduled_at, started_at, ended_at, duration_s, status, reason, engine,
    clip_hash, recorded_at, kind, clip_s, summary, volume)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"""
OUTCOMES = (["played"] * 90 + ["late"] * 4 +
            ["interrupted", "failed", "missed", "missed", "skipped", "played"])
REASONS = {
    "late": None,
    "interrupted": "bị ngắt để phát tin khẩn cấp",
    "failed": "lỗi thiết bị phát: PortAudioError: Error querying device -1",
    "missed": "máy không chạy vào giờ phát (mất điện hoặc tắt máy)",
    "skipped": "không phát vì đồng hồ chưa đồng bộ",
}


def generate(path: Path, rows: int, zones: int = 100, seed: int = 2026) -> int:
    """`rows` plays over the year 2026, written in one transaction."""
    LogStore(path).close()  # the real schema, triggers included
    bulletins = load_bulletins(BULLETINS).bulletins
    rnd = random.Random(seed)
    zone_ids = [f"cum-loa-{i:03d}" for i in range(1, zones + 1)]
    per_day = max(1, rows // 365)
    per_session = -(-per_day // (2 * zones))  # fits the year
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")  # generation only; the store itself is FULL
    batch, n = [], 0
    day = datetime(2026, 1, 1, tzinfo=DEFAULT_TZ)
    while n < rows:
        for session, hour in (("sang", 6), ("chieu", 17)):
            at = day.replace(hour=hour, minute=30)
            for zone in zone_ids:
                offset = 0.0
                for k in range(per_session):
                    if n >= rows:
                        break
                    b = bulletins[(n // zones + k) % len(bulletins)]
                    status = rnd.choice(OUTCOMES)
                    clip = round(40 + rnd.random() * 140, 3)
                    start = at + timedelta(seconds=offset + (45 if status == "late" else 0))
                    aired = status in ("played", "late", "interrupted")
                    dur = (clip if status != "interrupted" else round(clip / 3, 3)) if aired else None
                    offset += clip + 2
                    batch.append((
                        f"ba-vi|{zone}|kstthc|{at.isoformat()}|{b.key}|{k}", "ba-vi", zone,
                        "kstthc", session, b.key, b.title, b.field, b.priority, at.isoformat(),
                        start.isoformat(timespec="milliseconds") if aired else None,
                        (start + timedelta(seconds=dur)).isoformat(timespec="milliseconds")
                        if aired else None, dur, status, REASONS.get(status),
                        "gtts" if rnd.random() < 0.8 else "espeak",
                        f"{rnd.getrandbits(128):032x}", at.isoformat(timespec="milliseconds"),
                        "lich", clip if status != "missed" else None, b.summary(), 80))
                    n += 1
            if len(batch) >= 50000:
                con.executemany(INSERT, batch)
                batch.clear()
        day += timedelta(days=1)
    con.executemany(INSERT, batch)
    con.commit()
    con.close()
    return n


# the columns the CSV export carries, as stored
CSV_COLUMNS = ("id, station, zone, program, session, bulletin, title, field, priority, "
               "scheduled_at, started_at, ended_at, duration_s, status, reason, engine, "
               "clip_hash, kind, clip_s")


def _label(column: str, labels: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in labels.items())
    return f"CASE {column} {whens} ELSE {column} END"


def _local(column: str) -> str:
    return f"strftime('%d/%m/%Y %H:%M:%S', substr({column}, 1, 19))"


def _utc(column: str) -> str:
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column})"


# the CSV export's columns, formatted by the sqlite3 CLI
SAME_CSV = ", ".join((
    "id, station, zone, program, session, bulletin, title, field, priority",
    _local("scheduled_at"), _local("started_at"), _local("ended_at"),
    "printf('%.1f', duration_s)", _label("status", STATUS_VI), "reason, engine, clip_hash",
    _utc("scheduled_at"), _utc("started_at"), _label("kind", KIND_VI), "printf('%.1f', clip_s)"))


def sqlite3_csv(db: Path, out: Path, columns: str) -> float:
    """The sqlite3 CLI's own CSV of `columns`, oldest first."""
    cli = shutil.which("sqlite3")
    if not cli:
        return float("nan")
    t = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run([cli, "-csv", "-header", str(db),
                        f"SELECT {columns} FROM plays ORDER BY scheduled_at, id"],
                       stdout=fh, check=True)
    return time.perf_counter() - t


def xlsxwriter_log(store: LogStore, out: Path) -> float:
    """xlsxwriter (constant memory) writing the log sheet's columns, as stored."""
    try:
        import xlsxwriter
    except ImportError:
        return float("nan")
    from loa.log import COLUMNS

    idx = [COLUMNS.index(col) for _, col, _, _ in LOG_COLUMNS]
    t = time.perf_counter()
    wb = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    ws, n = wb.add_worksheet("Nhật ký phát"), 0
    ws.write_row(0, 0, [c[0] for c in LOG_COLUMNS])
    for r in store.iter_raw():
        n += 1
        ws.write_row(n, 0, [r[i] for i in idx])
    wb.close()
    return time.perf_counter() - t


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "loa.sqlite3"
        t = time.perf_counter()
        generate(db, rows)
        generate_s = time.perf_counter() - t
        store = LogStore(db)
        t = time.perf_counter()
        n = export_csv(store, Path(tmp) / "nhat-ky-1.csv")
        csv_first_s = time.perf_counter() - t
        assert n == rows, (n, rows)
        t = time.perf_counter()
        n = export_csv(store, Path(tmp) / "nhat-ky.csv")
        csv_s = time.perf_counter() - t
        assert n == rows, (n, rows)
        # the kept lines are the lines: same bytes, cold or warm
        cold, warm = Path(tmp) / "nhat-ky-1.csv", Path(tmp) / "nhat-ky.csv"
        assert cold.read_bytes() == warm.read_bytes()
        cold.unlink()
        t = time.perf_counter()
        n = export_xlsx(store, Path(tmp) / "nhat-ky.xlsx", DEFAULT_TZ)
        xlsx_s = time.perf_counter() - t
        assert n == rows, (n, rows)
        t = time.perf_counter()
        data = build(store, year("2026"), DEFAULT_TZ, [load_bulletins(BULLETINS)], {},
                     Letterhead(owner="UBND xã Ba Vì", issuer="Đài truyền thanh xã Ba Vì"),
                     date(2026, 12, 31))
        write_docx(data, Path(tmp) / "bao-cao-2026.docx")
        report_s = time.perf_counter() - t
        assert data.summary.total.scheduled == rows
        sqlite3_csv_s = sqlite3_csv(db, Path(tmp) / "ref.csv", SAME_CSV)
        sqlite3_raw_csv_s = sqlite3_csv(db, Path(tmp) / "raw.csv", CSV_COLUMNS)
        xlsxwriter_s = xlsxwriter_log(store, Path(tmp) / "ref.xlsx")
        store.close()
        print(json.dumps({"rows": rows, "csv_first_s": round(csv_first_s, 2),
                          "csv_s": round(csv_s, 2), "xlsx_s": round(xlsx_s, 2),
                          "report_s": round(report_s, 2),
                          "sqlite3_csv_s": round(sqlite3_csv_s, 2),
                          "sqlite3_raw_csv_s": round(sqlite3_raw_csv_s, 2),
                          "xlsxwriter_s": round(xlsxwriter_s, 2),
                          "csv_first_ratio": round(csv_first_s / sqlite3_csv_s, 2),
                          "csv_ratio": round(csv_s / sqlite3_csv_s, 2),
                          "csv_raw_ratio": round(csv_s / sqlite3_raw_csv_s, 2),
                          "xlsx_ratio": round(xlsx_s / xlsxwriter_s, 2),
                          "generate_s": round(generate_s, 1),
                          "db_mb": round(db.stat().st_size / 1e6)}))


if __name__ == "__main__":
    main()
