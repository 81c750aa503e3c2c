"""The log's schema is frozen text; labels are applied when the log is read."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

from docx import Document
from openpyxl import load_workbook

from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.log import EVENT_VI, KIND_VI, STATUS_VI, LogStore, Names
from loa.log.migrations import MIGRATIONS, SCHEMA_VERSION, statements
from loa.log.period import quarter
from loa.report import CSV_HEADERS, export_csv, export_json
from loa.report.periodic import build, write_docx
from loa.report.xlsx import export_xlsx

ROOT = Path(__file__).resolve().parents[1]

# sha256 of each migration's text as shipped. A migration that has run in a station's
# database is history: never edit one, add the next version instead (and its hash here).
PINNED = {
    1: "89997ff5caac773bc735aae1c37f888767d4865c6a8958329e4e6772fa3f71ba",
    2: "2c40d48d142df53eb23aa777c4fa08bbfa351ace705e79afc8683bc0c29ff2ea",
    3: "721a80ebb8c36af9b6a10d126549add0373177923f2145be748225b31e9f7b10",
    4: "dc1c92892098f627ee9464c7f8cd42d02ed04f1f6a83b0e8d4ddd55988340224",
    5: "9b3e0d6f4a410eed9d606f99424b65dd0dc5cca57ac29f26b3d96cf2042b81e9",
}
T0 = datetime(2026, 3, 2, 6, 30, tzinfo=DEFAULT_TZ)


def test_no_migration_text_ever_changes():
    for version, text in MIGRATIONS.items():
        assert version in PINNED, (
            f"migration {version} is new: add its sha256 to PINNED "
            f"({hashlib.sha256(text.encode()).hexdigest()})")
        assert hashlib.sha256(text.encode()).hexdigest() == PINNED[version], (
            f"migration {version} changed: databases already at version {version} ran the "
            "old text; restore it and add a new migration instead")
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def test_migrations_are_literal_text_not_built_from_python_values():
    tree = ast.parse((ROOT / "loa/log/migrations.py").read_text(encoding="utf-8"))
    (table,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign)
                and getattr(node.target, "id", "") == "MIGRATIONS"]
    assert isinstance(table, ast.Dict) and len(table.values) == len(MIGRATIONS)
    for value in table.values:  # no f-string, .format, .replace or concatenation
        assert isinstance(value, ast.Constant) and isinstance(value.value, str), ast.dump(value)
    # and the labels of the day are nowhere in the schema a new database gets
    labels = [v for d in (STATUS_VI, KIND_VI, EVENT_VI) for v in d.values()]
    assert not [w for w in labels if w in MIGRATIONS[SCHEMA_VERSION]]


def _old_database(path: Path) -> list[str]:
    """A log made by loa before this change: migrations 1 and 2 run as the store ran
    them, plays written through its triggers. Returns the CSV lines it kept."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    for version in (1, 2):
        for statement in statements(MIGRATIONS[version]):
            con.execute(statement)
        con.execute(f"PRAGMA user_version={version}")
    con.execute("COMMIT")
    insert = ("INSERT INTO plays (play_key, station, zone, program, session, bulletin, title, "
              "field, priority, scheduled_at, started_at, status, reason, recorded_at, kind, "
              "clip_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    rows = [("a", "sang", "playing", None, "lich"),
            ("b", "sang", "missed", "máy tắt", "lich"),
            ("c", "khan-cap", "playing", None, "khan-cap")]
    for i, (key, session, status, reason, kind) in enumerate(rows):
        at = (T0 + timedelta(minutes=i)).isoformat()
        con.execute(insert, (key, "ba-vi", "thon-1", "kstthc", session, "kh-2026/II.1",
                             'Tiêu đề "có" dấu, phẩy', 1, 3, at,
                             at if status == "playing" else None, status, reason, at, kind,
                             12.5))
    con.execute("UPDATE plays SET status='played', ended_at=?, duration_s=12.5 WHERE "
                "play_key='a'", ((T0 + timedelta(seconds=12.5)).isoformat(),))
    con.execute("INSERT INTO events (at, kind, detail) VALUES (?, 'start', '')",
                (T0.isoformat(),))
    lines = [r[0] for r in con.execute("SELECT line FROM plays_csv ORDER BY scheduled_at, "
                                       "play_id")]
    con.close()
    return lines


def _schema(path: Path) -> set[tuple[str, str, str]]:
    con = sqlite3.connect(path)
    try:
        return {(t, n, " ".join(sql.split())) for t, n, sql in con.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")}
    finally:
        con.close()


def test_a_log_made_by_the_old_schema_migrates_and_keeps_its_guarantees(tmp_path):
    db = tmp_path / "old.sqlite3"
    old_lines = _old_database(db)
    assert len(old_lines) == 3 and "đã phát" in old_lines[0]

    store = LogStore(db)
    assert store.version == SCHEMA_VERSION == 5
    LogStore(tmp_path / "fresh.sqlite3").close()
    # the same schema as a log created today, no CSV table or trigger left
    assert _schema(db) == _schema(tmp_path / "fresh.sqlite3")
    names = {n for _, n, _ in _schema(db)}
    assert not {n for n in names if "csv" in n}
    assert {"plays_keep_history", "plays_facts_fixed", "plays_no_delete", "events_no_update",
            "events_no_delete", "play_totals_insert", "play_totals_update",
            "language_totals_insert", "language_totals_update"} <= names

    # the CSV built at read time says what the stored lines said, names appended
    out = tmp_path / "nhat-ky.csv"
    assert export_csv(store, out) == 3
    got = out.read_bytes().decode("utf-8-sig").split("\r\n")[1:-1]
    assert len(got) == 3
    for old, new in zip(old_lines, got, strict=True):
        # five name columns, blank without a schedule; old plays were all in Vietnamese
        assert new == old + ',""' * 5 + ',"vi","Tiếng Việt"'
    assert len(next(csv.reader([got[0]]))) == len(CSV_HEADERS)

    # the history triggers still hold
    rows = {r.play_key: r for r in store.plays()}
    store.finish(rows["c"].id, status="interrupted", started_at=T0, ended_at=T0
                 + timedelta(seconds=3), reason="mất điện")
    assert [h[0] for h in store.history(rows["c"].id)] == ["playing"]
    assert [h[0] for h in store.history(rows["a"].id)] == ["playing"]
    for sql in ("UPDATE plays SET status='failed' WHERE play_key='b'",
                "UPDATE plays SET zone='x' WHERE play_key='c'",
                "UPDATE plays SET language='hmn' WHERE play_key='c'",
                "DELETE FROM plays WHERE play_key='a'", "DELETE FROM events",
                "UPDATE events SET detail='x'"):
        try:
            store._db.execute(sql)
        except sqlite3.DatabaseError as exc:
            assert "as-played log" in str(exc)
        else:
            raise AssertionError(f"allowed: {sql}")
    tallies = {t[3]: t[6] for t in store.tallies()}
    assert tallies == {"played": 1, "missed": 1, "interrupted": 1}
    # the plays before languages were all in Vietnamese
    assert {x[:4] for x in store.languages()} == {("vi", "interrupted", "khan-cap", 1),
                                                  ("vi", "missed", "lich", 1),
                                                  ("vi", "played", "lich", 1)}
    store.close()
    assert LogStore(db).version == 5  # reopening migrates nothing twice


def _fill(store: LogStore) -> None:
    for i, status in enumerate(("played", "missed", "failed")):
        at = T0 + timedelta(minutes=i)
        claim = dict(play_key=f"k{i}", station="ba-vi", zone="thon-1", program="kstthc",
                     session="sang", bulletin="kh-2026/II.1", title="Tiêu đề", field=1,
                     priority=3, scheduled_at=at, clip_s=10.0)
        if status == "missed":
            store.claim(**claim, now=at, status=status, reason="máy tắt")
            continue
        row = store.claim(**claim, now=at)
        store.finish(row, status=status, started_at=at, ended_at=at + timedelta(seconds=10),
                     reason=None if status == "played" else "lỗi loa")
    store.event("device-error", T0, "loa 1")


def test_a_label_changed_in_code_shows_in_every_export_without_touching_the_log(
        data_dir, tmp_path, monkeypatch, capsys):
    from loa import settings

    store = LogStore(settings.db_path())
    _fill(store)
    schema = _schema(settings.db_path())
    monkeypatch.setitem(STATUS_VI, "missed", "vắng phát (nhãn mới)")
    monkeypatch.setitem(KIND_VI, "lich", "định kỳ (nhãn mới)")
    monkeypatch.setitem(EVENT_VI, "device-error", "hỏng loa (nhãn mới)")
    names = Names(zone={"thon-1": "Thôn Văn Hòa"}, plan={"kh-2026": "Kế hoạch năm 2026"})

    out = tmp_path / "x.csv"
    export_csv(store, out, names=names)
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["Trạng thái"] for r in rows] == ["đã phát", "vắng phát (nhãn mới)", "lỗi"]
    assert {r["Loại bản tin"] for r in rows} == {"định kỳ (nhãn mới)"}
    assert {(r["Vùng phát"], r["Tên vùng phát"], r["Kế hoạch"]) for r in rows} == {
        ("thon-1", "Thôn Văn Hòa", "Kế hoạch năm 2026")}

    out = tmp_path / "x.json"
    export_json(store, out, "ba-vi", names=names)
    plays = json.loads(out.read_text(encoding="utf-8"))["plays"]
    assert [p["TrangThai"] for p in plays] == ["played", "missed", "failed"]  # codes stay
    assert plays[1]["TenTrangThai"] == "vắng phát (nhãn mới)"
    assert plays[1]["TenCumLoa"] == "Thôn Văn Hòa" and plays[1]["MaCumLoa"] == "thon-1"

    out = tmp_path / "x.xlsx"
    export_xlsx(store, out, DEFAULT_TZ, names=names)
    wb = load_workbook(out)
    log = list(wb["Nhật ký phát"].iter_rows(values_only=True))
    head = log[0]
    assert [r[head.index("Trạng thái")] for r in log[1:]][1] == "vắng phát (nhãn mới)"
    assert {r[head.index("Vùng phát")] for r in log[1:]} == {"Thôn Văn Hòa"}
    assert {r[head.index("Kế hoạch")] for r in log[1:]} == {"Kế hoạch năm 2026"}
    events = list(wb["Sự kiện của máy phát"].iter_rows(min_row=2, values_only=True))
    assert events[0][1] == "hỏng loa (nhãn mới)"

    out = tmp_path / "x.docx"
    write_docx(build(store, quarter("2026Q1"), DEFAULT_TZ, (), names, today=date(2026, 4, 1)),
               out)
    cells = {c.text for t in Document(out).tables for row in t.rows for c in row.cells}
    assert "vắng phát (nhãn mới)" in cells and "Thôn Văn Hòa" in cells
    store.close()

    assert main(["log", "--limit", "0"]) == 0
    assert "vắng phát (nhãn mới)" in capsys.readouterr().out
    assert main(["log", "--events"]) == 0
    assert "hỏng loa (nhãn mới)" in capsys.readouterr().out
    # the database was not touched: same schema, no label in it
    assert _schema(settings.db_path()) == schema
    assert not [s for s in schema if "nhãn mới" in s[2] or "bị lỡ" in s[2]]
