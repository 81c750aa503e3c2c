"""The log never fails silently: plays air while SQLite cannot write, are kept in the
journal, and become exactly one true final row each once it can (issue 10, items 2-3).

In process: the real daemon, APScheduler and SQLite, with the connection failing every
statement ("disk I/O error") for a while. Through `loa run`: a real full disk (a small
tmpfs holding the data dir) while a session plays into the PulseAudio null sink."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fakeclock import FakeClock
from helpers import (
    MONDAY,
    Recorder,
    loa,
    loa_env,
    locate,
    one_session_station,
    read_log,
    soon,
    start_daemon,
    wait_for,
)

from loa.audio import read_wav
from loa.log import LogStore
from loa.log.journal import JournaledLogStore, pending_in
from loa.player import WavDirSink

FAILED_LINE = "cannot write the as-played log"


class FlakyConnection:
    """The store's SQLite connection; while `broken`, every statement fails as a dying
    SD card makes it fail."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.broken = False
        self.failures = 0

    def execute(self, sql, args=()):
        if self.broken:
            self.failures += 1
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, args)

    def cursor(self):
        if self.broken:
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.cursor()

    def close(self):
        self.db.close()


@pytest.fixture
def rigs(rig, tmp_path):
    """The daemon rig on the journaled store, its SQLite connection a FlakyConnection
    (`r.db`); the connection works again before the rig shuts down."""
    made = []

    def make(clock, **kw):
        store = JournaledLogStore(tmp_path / "loa.sqlite3")
        store._db = FlakyConnection(store._db)
        r = rig(clock, store=store, **kw)
        r.db = store._db
        made.append(r)
        return r

    yield make
    for r in made:
        r.db.broken = False


def test_log_unwritable_for_a_session_it_airs_and_is_logged_once_writable(rigs, tmp_path,
                                                                          caplog):
    caplog.set_level(logging.ERROR, logger="loa")
    with FakeClock(MONDAY, travel=True) as clock:
        r = rigs(clock)
        r.daemon.start()
        r.go(MONDAY.replace(hour=6, minute=20))
        r.db.broken = True  # from here, every write and read fails: disk I/O error
        r.session(MONDAY.replace(hour=6, minute=30))
        # the session aired in full (2 items, one device for both zones) ...
        assert len(r.sink.written) == 2
        # ... the log holds none of it, the journal on disk holds all of it
        rows, _ = read_log(tmp_path / "loa.sqlite3")
        assert [x for x in rows if x.session == "sang"] == []
        kept = pending_in(tmp_path)
        assert len(kept["plays"]) == 4
        assert {p["status"] for p in kept["plays"].values()} == {"played"}
        assert "log-write-failed" in [e[1] for e in kept["events"]]
        r.go(MONDAY.replace(hour=6, minute=32))
        # the heartbeat says so (the 1 s watcher writes it)
        assert wait_for(lambda: r.beat()["log_writable"] is False, 5)
        assert r.beat()["journal"] == 4
        assert r.db.failures > 5
        # many failed writes, one line on stderr
        assert sum(FAILED_LINE in rec.getMessage() for rec in caplog.records) == 1

        r.db.broken = False  # the card is writable again
        r.go(MONDAY.replace(hour=6, minute=33))
        assert wait_for(lambda: r.beat()["log_writable"] is True, 5)
        assert r.beat()["journal"] == 0
        # nothing left in the journal, nothing replayed
        assert pending_in(tmp_path)["plays"] == {}
        assert len(r.sink.written) == 2
        r.session(MONDAY.replace(hour=8, minute=55))  # the next session is logged directly
        rows, events = read_log(tmp_path / "loa.sqlite3")
    sang = [x for x in rows if x.session == "sang"]
    assert len(sang) == 4 and len({x.play_key for x in rows}) == len(rows)
    assert {x.status for x in sang} == {"played"} and all(x.reason is None for x in sang)
    for x in sang:  # the truth: when it started and ended, as aired
        start, end = (datetime.fromisoformat(x.started_at), datetime.fromisoformat(x.ended_at))
        # the WAV sink keeps time: the second item starts as the first ends
        first = min((y for y in sang if y.zone == x.zone), key=lambda y: y.started_at)
        after = x.scheduled_at if x is first else first.ended_at
        assert timedelta(0) <= start - datetime.fromisoformat(after) < timedelta(seconds=1)
        assert x.duration_s == pytest.approx((end - start).total_seconds(), abs=0.002)
        assert x.duration_s == pytest.approx(x.clip_s, abs=0.2)
        assert x.duration_s >= 0 and x.ended_at >= x.started_at
    assert {x.status for x in rows if x.session == "giua"} == {"played"}
    assert events.index("log-write-failed") < events.index("log-reconciled")
    assert events.count("log-write-failed") == events.count("log-reconciled") == 1
    assert sum(FAILED_LINE in rec.getMessage() for rec in caplog.records) == 1


def test_finish_unwritable_then_power_cut_the_journal_says_played_not_interrupted(
        rigs, tmp_path):
    """Rows claimed 'playing' whose end could not be written, then the daemon dies: after
    the restart they read 'played' (not 'bị ngắt'), and nothing airs twice."""

    class BreaksTheLog(WavDirSink):
        rig = None

        def play(self, samples, rate, label, at=None):
            self.rig.db.broken = True  # the card dies while the first item is on air
            return super().play(samples, rate, label, at)

    with FakeClock(MONDAY.replace(hour=6, minute=29, second=50), travel=True) as clock:
        first = rigs(clock, sink=BreaksTheLog(tmp_path / "first", fast=True))
        first.sink.rig = first
        first.daemon.start()
        first.session(MONDAY.replace(hour=6, minute=30))
        assert len(first.sink.written) == 2
        rows, _ = read_log(tmp_path / "loa.sqlite3")
        assert len(rows) == 2 and {x.status for x in rows} == {"playing"}  # item 1 claimed
        assert len(pending_in(tmp_path)["plays"]) == 4
        # power cut: the process is gone, its connection and journal with it
        first.daemon.scheduler.shutdown(wait=False)
        first.store.journal.close()
        clock.advance(60)
        second = rigs(clock)  # a fresh process: the card works again after the reboot
        second.daemon.start()
        second.go(MONDAY.replace(hour=6, minute=32), settle=0.3)
        rows, events = read_log(tmp_path / "loa.sqlite3")
        history = {x.id: second.store.history(x.id) for x in rows}
    assert len(rows) == 4 and len({x.play_key for x in rows}) == 4
    assert {x.status for x in rows} == {"played"}, [(x.bulletin, x.status) for x in rows]
    assert len(second.sink.written) == 0  # nothing replayed
    claimed = [x for x in rows if history[x.id]]
    assert len(claimed) == 2 and all(history[x.id][0][0] == "playing" for x in claimed)
    assert pending_in(tmp_path)["plays"] == {}
    assert "log-reconciled" in events and "log-write-failed" in events


def test_emergency_while_the_log_is_unwritable_airs_and_is_logged_later(rigs, tmp_path):
    from loa.schedule.expand import Item, Occurrence
    from loa.script.bulletin import Bulletin

    with FakeClock(MONDAY.replace(hour=10), travel=True) as clock:
        r = rigs(clock)
        r.daemon.start()
        r.db.broken = True
        now = r.clock.now()
        storm = Bulletin(id="khan-cap-1", title="Bão số 3", text="Bão số 3 sắp đổ bộ.",
                         status="approved", priority=1, field=2)
        r.player.emergency(Occurrence("ba-vi", "khan-cap", now, ("toan-xa",),
                                      (Item("khan-cap", storm),)))
        assert len(r.sink.written) == 1  # it aired
        assert len(pending_in(tmp_path)["plays"]) == 1
        r.db.broken = False
        r.go(MONDAY.replace(hour=10, minute=1))
        rows, events = read_log(tmp_path / "loa.sqlite3")
    assert [(x.session, x.zone, x.status, x.priority) for x in rows] == [
        ("khan-cap", "toan-xa", "played", 1)]
    assert events.index("log-write-failed") < events.index("log-reconciled")


def test_journal_is_allocated_once_and_survives_a_torn_write(tmp_path):
    from loa.log.journal import Journal

    j = Journal(tmp_path / "journal.bin")
    assert j.open() == {"plays": {}, "events": []}
    size = (tmp_path / "journal.bin").stat().st_size
    assert size == 2 * Journal.SLOT and os.stat(tmp_path / "journal.bin").st_blocks * 512 >= size
    j.write({"plays": {"a": {"status": "played"}}, "events": []})
    j.write({"plays": {"a": {"status": "played"}, "b": {"status": "playing"}}, "events": []})
    assert set(pending_in(tmp_path)["plays"]) == {"a", "b"}
    j.close()
    # a power cut tore the newest slot: the one before it is read
    with open(tmp_path / "journal.bin", "r+b") as fh:
        fh.seek(0 * Journal.SLOT + Journal.HEAD.size + 5)  # sequence 2 lives in slot 0
        fh.write(b"\xff\xff")
    assert set(pending_in(tmp_path)["plays"]) == {"a"}
    assert (tmp_path / "journal.bin").stat().st_size == size  # overwritten in place, never grown


def test_disk_low_event_once_and_heartbeat_fields(rigs, tmp_path, monkeypatch):
    import loa.log.disk as disk

    with FakeClock(MONDAY, travel=True) as clock:
        r = rigs(clock)
        r.daemon.start()
        assert r.beat()["disk_low"] is False and r.store.reserve.present
        monkeypatch.setattr(disk, "LOW_DISK_BYTES", 1 << 62)  # everything is "low" now
        for second in range(1, 4):
            r.go(MONDAY.replace(minute=second))
        assert r.beat()["disk_low"] is True
        monkeypatch.setattr(disk, "LOW_DISK_BYTES", 200 * disk.MB)
        r.go(MONDAY.replace(minute=5))
        assert r.beat()["disk_low"] is False
        # the ballast, once given up, comes back when there is room for it
        assert r.store.reserve.release() and not r.store.reserve.present
        r.go(MONDAY.replace(minute=6))
        assert r.store.reserve.present
        assert (tmp_path / "reserve.bin").stat().st_size == disk.RESERVE_BYTES
        _, events = read_log(tmp_path / "loa.sqlite3")
    assert events.count("disk-low") == 1 and events.count("disk-ok") == 1


# --- a real full disk, through `loa run` and the null sink ------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A small tmpfs of its own: a disk that can really fill up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounts = []

    def mount(size: str) -> Path:
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                       check=True)
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, name: str = "filler", leave: int = 0) -> Path:
    """Write zeros into `folder` until the disk is full (or only `leave` bytes are free)."""
    path = folder / name
    with open(path, "ab") as fh:
        while True:
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            n = min(1 << 20, free - leave)
            if n <= 0:
                break
            try:
                fh.write(bytes(n))
                fh.flush()
            except OSError:
                break
    return path


def station(folder: Path, at: datetime, items: int = 2) -> Path:
    """A session at `at` for two zones on one device, `items` short bulletins."""
    texts = ["Bà con nộp hồ sơ trực tuyến tại nhà.", "Điểm phục vụ có wifi miễn phí.",
             "Mời bà con đi tiêm phòng."][:items]
    return one_session_station(folder, at, texts)


def clips_ready(data: Path, n: int) -> bool:
    return len(list((data / "clips").glob("*.wav"))) >= n


def assert_aired_whole(rec, data: Path, rows) -> None:
    heard = rec.samples()
    for key in {x.clip_hash for x in rows}:
        clip, _ = read_wav(data / "clips" / f"{key}.wav")
        start = locate(heard, clip)
        assert np.array_equal(heard[start:start + len(clip)], clip), key


@pytest.mark.audio
def test_disk_full_during_a_session_the_reserve_lets_the_log_carry_on(pulse, tmp_path,
                                                                      small_disk):
    data = small_disk("32m")
    env = loa_env(data, pulse.env, LOA_CLIP_RESERVE_MB="1")  # a small disk
    at = soon(14, run_s=60)
    schedule = station(tmp_path, at)
    recorder = Recorder(pulse)
    proc = start_daemon(env, schedule, "--until-idle")
    try:
        assert wait_for(lambda: clips_ready(data, 2) and (data / "reserve.bin").exists(), 30)
        time.sleep(0.5)
        fill(data)  # the disk is full before the session starts
        assert os.statvfs(data).f_bavail == 0
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rec = recorder.stop()
    assert proc.returncode == 0, err
    rows, events = read_log(data / "loa.sqlite3")
    assert len(rows) == 4 and len({x.play_key for x in rows}) == 4
    assert {x.status for x in rows} == {"played"}, [(x.status, x.reason) for x in rows]
    assert_aired_whole(rec, data, rows)
    first = [x for x in rows if x.bulletin.endswith("IV.1")]
    assert all(abs((datetime.fromisoformat(x.started_at) - at).total_seconds()) < 0.5
               for x in first)
    # what happened, in order: low disk seen ahead, the failure, the room made, the repair
    assert events.count("disk-low") == 1
    assert events.index("log-write-failed") < events.index("log-reconciled")
    assert "reserve-released" in events and not (data / "reserve.bin").exists()
    assert err.count(FAILED_LINE) == 1, err
    assert err.count("No space left") <= 1, err
    assert pending_in(data)["plays"] == {}


@pytest.mark.audio
def test_kill_9_while_the_disk_is_full_then_restart_with_room(pulse, tmp_path, small_disk):
    """No reserve possible (the disk was nearly full from the start): the session airs
    into the journal only; kill -9 during item 2; room made; restart: item 1 'played',
    item 2 'interrupted', once each, and nothing airs again."""
    data = small_disk("16m")
    env = loa_env(data, pulse.env, LOA_CLIP_RESERVE_MB="1")  # a small disk
    fill(data, "old-files", leave=6 * 1024 * 1024)  # no room for a 4 MB reserve (needs 8)
    at = soon(14, run_s=60)
    schedule = station(tmp_path, at)
    proc = start_daemon(env, schedule, "--for", "90")
    try:
        assert wait_for(lambda: clips_ready(data, 2), 30)
        time.sleep(0.5)
        assert not (data / "reserve.bin").exists()
        fill(data)

        def on_air(status_1, status_2):
            plays = pending_in(data)["plays"].values()
            by = {(p["bulletin"].rsplit("/", 1)[-1], p["status"]) for p in plays}
            return len(plays) == 4 and by == {("IV.1", status_1), ("IV.2", status_2)}

        assert wait_for(lambda: on_air("played", "playing"), 60), pending_in(data)
        status = loa(env, "status")  # the officer looks while the log is unwritable
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)  # power cut during item 2
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert status.returncode == 1, status.stdout
    assert "4 lượt phát đang chờ ghi" in status.stdout
    assert "KHÔNG GHI ĐƯỢC" in status.stdout and "SẮP ĐẦY" in status.stdout
    assert f"PID {proc.pid}" in status.stdout
    rows, _ = read_log(data / "loa.sqlite3")
    # the log took nothing, or a claim that found room in SQLite's files but no end
    assert {x.status for x in rows} <= {"playing"}, [(x.bulletin, x.status) for x in rows]

    for f in ("filler", "old-files"):
        (data / f).unlink()  # the technician makes room
    recorder = Recorder(pulse)
    again = start_daemon(env, schedule, "--until-idle")
    out, err = again.communicate(timeout=60)
    rec = recorder.stop()
    assert again.returncode == 0, err
    rows, events = read_log(data / "loa.sqlite3")
    assert len(rows) == 4 and len({x.play_key for x in rows}) == 4
    status = {x.bulletin.rsplit("/", 1)[-1]: set() for x in rows}
    for x in rows:
        status[x.bulletin.rsplit("/", 1)[-1]].add(x.status)
    assert status == {"IV.1": {"played"}, "IV.2": {"interrupted"}}
    assert all("mất điện" in x.reason for x in rows if x.status == "interrupted")
    assert all(x.duration_s and x.duration_s > 0.5 for x in rows if x.status == "played")
    assert np.abs(rec.samples()).max() == 0  # nothing aired again after the restart
    assert "log-write-failed" in events and "log-reconciled" in events
    assert pending_in(data)["plays"] == {}


@pytest.mark.audio
def test_loa_status_healthy_daemon_then_stopped(pulse, tmp_path):
    data = tmp_path / "data"
    env = loa_env(data, pulse.env)
    at = soon(600, run_s=60)
    schedule = station(tmp_path, at)
    proc = start_daemon(env, schedule, "--for", "60")
    try:
        assert wait_for(lambda: (data / "control" / "daemon.json").exists(), 30)
        time.sleep(1.5)
        ok = loa(env, "status")
    finally:
        proc.terminate()
        proc.wait(30)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"đang chạy (PID {proc.pid}" in ok.stdout
    assert str(schedule) in ok.stdout and "Đồng hồ: đáng tin" in ok.stdout
    assert f"{at:%H:%M}  Buổi thử — Toàn xã, Thôn 1" in ok.stdout
    assert "Bản tin 1" in ok.stdout and "Tình trạng: TỐT" in ok.stdout
    stopped = loa(env, "status", str(schedule))
    assert stopped.returncode == 1
    assert "KHÔNG CHẠY" in stopped.stdout and "Bản tin 2" in stopped.stdout


def test_an_emergency_is_accepted_on_the_journal_file_and_refused_on_memory_alone(rigs,
                                                                                 tmp_path):
    """`loa now` is told "accepted" only when the emergency is durable: in the log, or, with
    the log unwritable, in journal.bin. With neither, it is refused and never logged."""
    from loa.player import control

    ctl = tmp_path / "control"
    with FakeClock(MONDAY, travel=True) as clock:
        r = rigs(clock)
        r.daemon.start()
        r.db.broken = True
        storm = control.new_request_id()
        control.send_request(ctl, storm, {"title": "Bão", "text": "Bão số 3 sắp đổ bộ.",
                                          "zones": ["toan-xa"]}, 60)
        r.daemon._take_requests()
        answer = control.read_answer(ctl, storm)
        assert answer is not None and answer.accepted, answer
        assert [e[1] for e in pending_in(tmp_path)["events"]].count("emergency") == 1
        assert wait_for(lambda: len(r.sink.written) == 1, 30)  # it aired

        r.store.journal.close()  # the journal file cannot take it either: memory alone
        fire = control.new_request_id()
        control.send_request(ctl, fire, {"title": "Cháy", "text": "Cháy ở chợ xã."}, 60)
        r.daemon._take_requests()
        answer = control.read_answer(ctl, fire)
        assert answer is not None and not answer.accepted
        assert "không ghi được tin khẩn cấp" in answer.reason
        time.sleep(1.0)
        assert len(r.sink.written) == 1  # the refused one never airs

        r.db.broken = False
        r.store._open_journal()
        r.go(MONDAY + timedelta(minutes=1))
        assert wait_for(lambda: r.store.waiting == 0 and r.beat()["log_writable"], 10)
    rows, events = read_log(tmp_path / "loa.sqlite3")
    emergencies = [x for x in rows if x.session == "khan-cap"]
    assert [(x.zone, x.status) for x in emergencies] == [("toan-xa", "played")]
    assert emergencies[0].title == "Bão"
    store = LogStore(tmp_path / "loa.sqlite3")
    try:
        details = [e[2] for e in store.events(limit=None) if e[1] == "emergency"]
    finally:
        store.close()
    assert any("Bão" in d for d in details) and not any("Cháy" in d for d in details), details
