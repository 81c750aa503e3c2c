"""The CSV export keeps each final play's line (export_lines, a cache) and reads it back
next time: the output never differs from a line built today, and a locked or read-only
log still exports."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from datetime import datetime, timedelta

import pytest

from loa.clock import DEFAULT_TZ
from loa.log import STATUS_VI, LogFilter, LogStore, Names
from loa.log.store import _LineKeeper
from loa.report import export_csv

T0 = datetime(2026, 5, 4, 6, 30, tzinfo=DEFAULT_TZ)
NAMES = Names(zone={"thon-0": "Thôn Đông", "thon-1": "Thôn Đoài"},
              plan={"kh-2026": "Kế hoạch năm 2026"})


def _fill(store: LogStore, n: int = 30) -> dict[str, int]:
    """n plays over five scheduled times, mostly final; the last one still 'playing'.
    Titles hold what each format must carry: a formula start, quotes, a NUL."""
    ids = {}
    for i in range(n):
        at = T0 + timedelta(minutes=(i * 7) % 5)
        title = {3: "=1+2 bản tin", 7: 'tin "ngắn", có phẩy', 11: "có\x00NUL"}.get(i, f"bản tin {i}")
        kw = dict(play_key=f"k{i}", station="ba-vi", zone=f"thon-{i % 3}", program="kstthc",
                  session="sang", bulletin=f"kh-2026/II.{i % 4}", title=title, field=1,
                  priority=3, scheduled_at=at, now=at, clip_s=12.5)
        if i % 6 == 5 and i < n - 1:
            ids[f"k{i}"] = store.claim(**kw, status="missed", reason="máy tắt")
            continue
        ids[f"k{i}"] = row = store.claim(**kw)
        if i < n - 1:
            store.finish(row, status="played" if i % 5 else "failed", started_at=at,
                         ended_at=at + timedelta(seconds=i), reason=None if i % 5 else "-lỗi")
    return ids


def _kept(path) -> dict[int, tuple[str, bytes]]:
    con = sqlite3.connect(path)
    try:
        return {i: (f, line) for i, f, line in con.execute("SELECT * FROM export_lines")}
    finally:
        con.close()


def _export(store, path, **kw) -> bytes:
    export_csv(store, path, **kw)
    return path.read_bytes()


def _built(store, tmp_path, **kw) -> bytes:
    """The same export with nothing kept or read back: lines built today."""
    out = tmp_path / "built.csv"
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
    con = sqlite3.connect(store.path, isolation_level=None)
    kept = con.execute("SELECT * FROM export_lines").fetchall()
    con.execute("DELETE FROM export_lines")
    try:
        return _export(store, out, **kw)
    finally:  # put back what was kept, so the caller's next export still reads it
        con.execute("DELETE FROM export_lines")
        con.executemany("INSERT INTO export_lines VALUES (?,?,?)", kept)
        con.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_cold_and_warm_exports_are_the_same_bytes_and_warm_reads_kept_lines(
        tmp_path, workers, monkeypatch):
    store = LogStore(tmp_path / "log.sqlite3")
    ids = _fill(store)
    real = LogStore.iter_csv

    def small_slices(self, where=None, names=None, **kw):  # several slices, 2 threads
        return real(self, where or LogFilter(), names, batch=4, workers=workers)

    monkeypatch.setattr(LogStore, "iter_csv", small_slices)
    monkeypatch.setattr(_LineKeeper, "CHUNK", 3)  # several transactions a slice
    cold = _export(store, tmp_path / "cold.csv", names=NAMES)
    kept = _kept(store.path)
    # every final play kept, once, under one form; the 'playing' one never
    assert set(kept) == set(ids.values()) - {ids["k29"]}
    assert len({f for f, _ in kept.values()}) == 1
    warm = _export(store, tmp_path / "warm.csv", names=NAMES)
    assert warm == cold and cold.count(b"\r\n") == 31
    assert b"\"'=1+2" in warm and b"\x00NUL" in warm  # neutralized on the way out; NUL kept
    assert _kept(store.path) == kept  # nothing rebuilt

    # warm really reads the kept line: one edited in the cache shows as edited
    con = sqlite3.connect(store.path)
    con.execute("UPDATE export_lines SET line = CAST(? AS BLOB) WHERE play_id = ?",
                (str(ids["k1"]) + ',"kept"', ids["k1"]))
    con.commit()
    con.close()
    assert b'\r\n' + str(ids["k1"]).encode() + b',"kept"\r\n' in _export(
        store, tmp_path / "w2.csv", names=NAMES)
    # cache=False builds every line, reads and keeps none
    built = [x for b in real(store, LogFilter(), NAMES, cache=False) for x in b]
    assert not [x for x in built if x.endswith(b',"kept"')] and len(built) == 30
    assert _kept(store.path)[ids["k1"]][1].endswith(b',"kept"')
    store.close()


def test_a_filtered_export_keeps_its_rows_and_a_whole_export_reads_them(tmp_path):
    store = LogStore(tmp_path / "log.sqlite3")
    _fill(store)
    where = LogFilter(zones=("thon-1",), since=T0 + timedelta(minutes=1))
    part = _export(store, tmp_path / "part.csv", where=where, names=NAMES)
    assert len(_kept(store.path)) == len(
        [r for r in store.plays(where=where) if r.status != "playing"]) > 0
    assert part == _built(store, tmp_path, where=where, names=NAMES)
    whole = _export(store, tmp_path / "whole.csv", names=NAMES)
    assert whole == _built(store, tmp_path, names=NAMES)
    store.close()


def test_a_playing_row_is_never_kept_and_shows_its_final_status_once_finished(tmp_path):
    store = LogStore(tmp_path / "log.sqlite3")
    ids = _fill(store)
    first = _export(store, tmp_path / "a.csv")
    assert ids["k29"] not in _kept(store.path) and "đang phát".encode() in first
    at = T0 + timedelta(minutes=(29 * 7) % 5)
    store.finish(ids["k29"], status="played", started_at=at, ended_at=at + timedelta(seconds=9))
    second = _export(store, tmp_path / "b.csv")
    assert "đang phát".encode() not in second and ids["k29"] in _kept(store.path)
    assert second == _built(store, tmp_path)
    store.close()


def test_a_label_change_or_a_zone_renamed_shows_in_the_next_export(tmp_path, monkeypatch):
    store = LogStore(tmp_path / "log.sqlite3")
    _fill(store)
    before = _export(store, tmp_path / "a.csv", names=NAMES)
    assert "Thôn Đông".encode() in before

    renamed = Names(zone={"thon-0": "Thôn Đông Mới", "thon-1": "Thôn Đoài"},
                    plan={"kh-2026": "Kế hoạch năm 2026"})
    after = _export(store, tmp_path / "b.csv", names=renamed)
    assert after == before.replace("Thôn Đông".encode(), "Thôn Đông Mới".encode())
    assert after == _built(store, tmp_path, names=renamed)

    monkeypatch.setitem(STATUS_VI, "missed", "vắng phát (nhãn mới)")
    relabelled = _export(store, tmp_path / "c.csv", names=renamed)
    assert "vắng phát (nhãn mới)".encode() in relabelled and "bị lỡ".encode() not in relabelled
    assert relabelled == _built(store, tmp_path, names=renamed)
    forms = {f for f, _ in _kept(store.path).values()}
    assert len(forms) == 1  # every kept line rebuilt in today's form
    # and back to yesterday's names: yesterday's bytes
    monkeypatch.undo()
    assert _export(store, tmp_path / "d.csv", names=NAMES) == before
    store.close()


def test_a_log_locked_by_the_daemon_still_exports_and_keeps_nothing(tmp_path):
    store = LogStore(tmp_path / "log.sqlite3")
    _fill(store)
    daemon = sqlite3.connect(store.path, isolation_level=None)
    daemon.execute("BEGIN IMMEDIATE")  # the daemon is writing: the export must not wait
    daemon.execute("INSERT INTO events (at, kind, detail) VALUES ('x', 'start', '')")
    try:
        locked = _export(store, tmp_path / "a.csv", names=NAMES)
        assert _kept(store.path) == {}
    finally:
        daemon.execute("COMMIT")
        daemon.close()
    assert locked == _export(store, tmp_path / "b.csv", names=NAMES)  # now kept
    assert len(_kept(store.path)) == 29
    assert locked == _export(store, tmp_path / "c.csv", names=NAMES)
    store.close()


def test_a_read_only_log_file_still_exports(tmp_path):
    db = tmp_path / "log.sqlite3"
    store = LogStore(db)
    _fill(store)
    want = _built(store, tmp_path, names=NAMES)
    store.close()
    # root writes through file modes; an immutable file is read-only even for root
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode:
        pytest.skip("chattr +i not permitted here: cannot make the file read-only")
    try:
        with pytest.raises(OSError):
            db.open("r+b")
        ro = LogStore(db)
        assert _export(ro, tmp_path / "ro.csv", names=NAMES) == want
        assert _kept(db) == {}
        ro.close()
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


def test_no_line_is_kept_on_a_disk_the_daemon_counts_as_low(tmp_path, monkeypatch):
    from loa.log import disk

    store = LogStore(tmp_path / "log.sqlite3")
    _fill(store)
    free = disk.disk_state(tmp_path).free
    monkeypatch.setattr(disk, "LOW_DISK_BYTES", free + 1)  # this disk is now 'low'
    low = _export(store, tmp_path / "a.csv", names=NAMES)
    assert _kept(store.path) == {}
    monkeypatch.undo()
    assert low == _export(store, tmp_path / "b.csv", names=NAMES) and _kept(store.path)
    store.close()
