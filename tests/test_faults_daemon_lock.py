"""Daemon faults, tried on purpose through the real `loa run` into the PulseAudio null sink:
two daemons on one data folder, kill -9 and take-over, `loa now` refused / unanswered /
twice at once, reload failures. Each test ends with the log reconciled: every scheduled play
has exactly one final row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import numpy as np
import pytest
from fakeclock import FakeClock
from helpers import (
    MONDAY,
    DaemonRig,
    Recorder,
    events_in,
    heartbeat_up,
    loa,
    loa_env,
    locate,
    one_session_station,
    rows_in,
    soon,
    start_daemon,
    wait_for,
)

from loa.audio import read_wav
from loa.log import LogStore
from loa.log.store import ALL
from loa.player import control
from loa.report.summary import summarize

pytestmark = pytest.mark.audio

SHORT = "Bà con nộp hồ sơ trực tuyến tại nhà, không phải đi lại."
LONG = ("Từ ngày mùng một tháng tư, bà con có thể nộp hồ sơ đăng ký khai sinh, khai tử, kết "
        "hôn trực tuyến trên cổng dịch vụ công quốc gia, nhận kết quả tại nhà qua bưu điện, "
        "không phải đi lại nhiều lần, không mất phí. Mọi thắc mắc xin liên hệ bộ phận một "
        "cửa của ủy ban nhân dân xã.")


def _station(folder, at, text: str = SHORT):
    """Two zones on one device; one session at `at` (None: nothing to play today)."""
    return one_session_station(folder, at, [text])


def _daemon(pulse, data, schedule, *extra):
    return start_daemon(loa_env(data, pulse.env), schedule, *extra)


def _now(pulse, data, *args, timeout=60):
    return loa(loa_env(data, pulse.env), "now", *args, timeout=timeout)


def _store(data):
    return LogStore(data / "loa.sqlite3")


def _reconciled(data, expected: dict[str, int]) -> list:
    """Every scheduled play has exactly one final row, its final status written once.
    `expected`: session -> number of plays."""
    rows = rows_in(data)
    assert not [r for r in rows if r.status == "playing"]
    assert len({r.play_key for r in rows}) == len(rows)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.session] = counts.get(r.session, 0) + 1
    assert counts == expected
    store = _store(data)
    try:
        for r in rows:
            earlier = [h[0] for h in store.history(r.id)]
            assert earlier in ([], ["playing"]), (r.play_key, earlier)
    finally:
        store.close()
    return rows


def _no_traceback(*texts):
    for text in texts:
        assert "Traceback" not in text, text


# --- one daemon per data folder ------------------------------------------------------------

def test_a_second_daemon_refuses_and_the_first_plays_through(pulse, tmp_path):
    data = tmp_path / "data"
    at = soon(lead_s=8, run_s=40)
    schedule = _station(tmp_path, at, LONG)
    first = _daemon(pulse, data, schedule, "--until-idle")
    try:
        assert wait_for(lambda: any(r.status == "playing" for r in rows_in(data)), 40)
        events = events_in(data)
        began = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "loa", "run", str(schedule), "--sink", "device",
             "--no-time-sync", "--until-idle"], env=loa_env(data, pulse.env), capture_output=True,
            text=True, timeout=30)
        took = time.monotonic() - began
        assert second.returncode == 2
        assert f"PID {first.pid}" in second.stderr and "đang chạy" in second.stderr
        _no_traceback(second.stderr)
        assert took < 10  # at once: it does not wait for the first to finish
        # it touched nothing: no recovery of the first's play, no event
        assert {r.status for r in rows_in(data)} == {"playing"}
        assert [e for e in events_in(data) if e not in events] == []
        out, err = first.communicate(timeout=90)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    _no_traceback(err)
    rows = _reconciled(data, {"s": 2})
    assert {r.status for r in rows} == {"played"}  # nothing marked interrupted
    assert [e[1] for e in events_in(data)].count("start") == 1


def test_kill_9_releases_the_lock_and_the_next_daemon_recovers_once(pulse, tmp_path):
    data = tmp_path / "data"
    at = soon(lead_s=8, run_s=40)
    schedule = _station(tmp_path, at, LONG)
    first = _daemon(pulse, data, schedule, "--for", "60")
    assert wait_for(lambda: any(r.status == "playing" for r in rows_in(data)), 40)
    time.sleep(1.0)
    first.kill()  # power cut: no cleanup at all
    first.wait(10)
    assert (data / "daemon.lock").read_text().strip() == str(first.pid)  # stale PID stays
    assert control.running_pid(data) is None  # but the OS let go of the lock
    nobody = _now(pulse, data, "Thử")
    assert nobody.returncode == 2 and "không thấy 'loa run'" in nobody.stderr
    again = _daemon(pulse, data, schedule, "--until-idle")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    _no_traceback(err)
    rows = _reconciled(data, {"s": 2})
    assert {r.status for r in rows} == {"interrupted"}
    assert all("mất điện" in r.reason for r in rows)
    starts = [e[2] for e in events_in(data, "start")]
    assert len(starts) == 2 and starts[1].endswith("; 2 lượt phát dở trước đó ghi là bị ngắt")


# --- loa now ----------------------------------------------------------------------------------

def test_loa_now_refuses_unknown_zones_on_both_sides(pulse, tmp_path):
    data = tmp_path / "data"
    schedule = _station(tmp_path, None)
    proc = _daemon(pulse, data, schedule, "--for", "90")
    try:
        assert wait_for(lambda: heartbeat_up(data), 40)
        typo = _now(pulse, data, "Bão số 3 sắp đổ bộ.", "--zones", "thon-doi")
        assert typo.returncode == 2
        assert "'thon-doi'" in typo.stderr and "Có phải ý là 'thon-1'" in typo.stderr
        assert "toan-xa (Toàn xã), thon-1 (Thôn 1)" in typo.stderr
        assert "lich.yaml" in typo.stderr
        evil = _now(pulse, data, "Bão số 3 sắp đổ bộ.", "--zones", "toan-xa", "../../etc")
        assert evil.returncode == 2 and "'../../etc'" in evil.stderr
        _no_traceback(typo.stderr, evil.stderr)
        # the daemon never trusts the request file: a request written by hand is refused
        rid = control.new_request_id()
        control.send_request(data / "control", rid, {"title": "x", "text": "Bão.",
                                                     "zones": ["../../etc"]}, 10)
        answer = control.wait_answer(data / "control", rid, time.time() + 10)
        assert answer is not None and not answer.accepted
        assert "'../../etc'" in answer.reason and "thon-1 (Thôn 1)" in answer.reason
        assert rows_in(data) == [] and events_in(data, "emergency") == []  # nothing logged
        # a display name is accepted, as an id
        ok = _now(pulse, data, "Bão số 3 sắp đổ bộ.", "--zones", "Thôn 1")
        assert ok.returncode == 0, ok.stderr
        assert "Đã gửi tin khẩn cấp" in ok.stdout and "Thôn 1" in ok.stdout
        assert wait_for(lambda: any(r.status == "played" for r in rows_in(data)), 40)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    _no_traceback(err)
    rows = _reconciled(data, {"khan-cap": 1})
    assert rows[0].zone == "thon-1" and rows[0].status == "played"
    assert len(events_in(data, "emergency")) == 1


def test_two_emergencies_at_once_both_air_under_their_own_ids(pulse, tmp_path):
    data = tmp_path / "data"
    schedule = _station(tmp_path, None)
    proc = _daemon(pulse, data, schedule, "--for", "120")
    recorder = Recorder(pulse)
    try:
        assert wait_for(lambda: heartbeat_up(data), 40)
        env = loa_env(data, pulse.env)
        texts = ["Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.",
                 "Nước sông Hồng lên nhanh, bà con vùng bãi di dời ngay."]
        both = [subprocess.Popen([sys.executable, "-m", "loa", "now", t, "--zones", "toan-xa"],
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for t in texts]
        said = [p.communicate(timeout=60) for p in both]
        assert [p.returncode for p in both] == [0, 0], said
        assert wait_for(lambda: len([r for r in rows_in(data) if r.status != "playing"]) == 2,
                         60)
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        rec = recorder.stop()
    _no_traceback(err)
    rows = _reconciled(data, {"khan-cap": 2})
    # the second waited for the first: neither was cut
    assert [r.status for r in rows] == ["played", "played"]
    ids = [r.bulletin for r in rows]
    assert len(set(ids)) == 2 and all(i.startswith("khan-cap-") for i in ids)
    assert sorted(f"mã {i}" in "".join(o for o, _ in said) for i in ids) == [True, True]
    # both went out whole, one after the other
    heard = rec.samples()
    spans = []
    for r in rows:
        clip, _ = read_wav(data / "clips" / f"{r.clip_hash}.wav")
        start = locate(heard, clip)
        assert np.array_equal(heard[start : start + len(clip)], clip)
        spans.append((start, start + len(clip)))
    spans.sort()
    assert spans[0][1] <= spans[1][0]
    # the report counts each under its own id
    store = _store(data)
    try:
        summary = summarize(store, ALL)
    finally:
        store.close()
    assert {k: dict(t.by_status) for k, t in summary.bulletins.items()} == {
        i: {"played": 1} for i in ids}
    assert summary.total.emergency == 2


def test_loa_now_with_no_daemon_or_a_daemon_that_does_not_answer(pulse, tmp_path):
    data = tmp_path / "data"
    nobody = _now(pulse, data, "Bão số 3.")
    assert nobody.returncode == 2
    assert "không thấy 'loa run' đang chạy" in nobody.stderr
    _no_traceback(nobody.stderr)
    schedule = _station(tmp_path, None)
    proc = _daemon(pulse, data, schedule, "--for", "120")
    try:
        assert wait_for(lambda: heartbeat_up(data), 40)
        os.kill(proc.pid, signal.SIGSTOP)  # hung: holds its lock, answers nothing
        try:
            began = time.monotonic()
            hung = _now(pulse, data, "Bão số 3 sắp đổ bộ.", "--timeout", "2")
            took = time.monotonic() - began
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert hung.returncode == 2
        assert f"loa run (PID {proc.pid}) không trả lời trong 2 giây" in hung.stderr
        assert "KHÔNG được phát" in hung.stderr
        _no_traceback(hung.stderr)
        assert took < 2 + control.GRACE_S + 10
        assert list((data / "control" / "requests").iterdir()) == []  # withdrawn
        # the daemon runs on and the withdrawn request never plays
        time.sleep(3)
        assert rows_in(data) == [] and events_in(data, "emergency") == []
        # while a later one is answered and plays
        ok = _now(pulse, data, "Nước sông lên nhanh.")
        assert ok.returncode == 0, ok.stderr
        assert wait_for(lambda: len([r for r in rows_in(data) if r.status == "played"]) == 2,
                         40)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    _no_traceback(err)
    rows = _reconciled(data, {"khan-cap": 2})  # both zones, the second request only
    assert {r.title for r in rows} == {"Nước sông lên nhanh."}
    assert len(events_in(data, "emergency")) == 1


def test_a_request_past_its_deadline_is_refused_by_the_daemon(pulse, tmp_path):
    """Left behind by a `loa now` that gave up (or a clock that moved): never played."""
    data = tmp_path / "data"
    schedule = _station(tmp_path, None)
    proc = _daemon(pulse, data, schedule, "--for", "60")
    try:
        assert wait_for(lambda: heartbeat_up(data), 40)
        rid = control.new_request_id()
        control.send_request(data / "control", rid, {"title": "x", "text": "Bão."}, -1)
        answer = control.wait_answer(data / "control", rid, time.time() + 10)
        assert answer is not None and not answer.accepted and "quá thời gian" in answer.reason
        garbage = data / "control" / "requests" / "rac.json"
        garbage.write_bytes(b"\xff\x00{")
        assert wait_for(lambda: (data / "control" / "answers" / "rac.json").exists(), 10)
        assert not garbage.exists()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    _no_traceback(err)
    assert rows_in(data) == [] and events_in(data, "emergency") == []


# --- reload failures --------------------------------------------------------------------------

def test_bulletins_file_replaced_by_a_directory_the_old_schedule_plays(pulse, tmp_path):
    data = tmp_path / "data"
    at = soon(lead_s=30, run_s=40)
    schedule = _station(tmp_path, at)
    proc = _daemon(pulse, data, schedule, "--until-idle")
    try:
        assert wait_for(lambda: heartbeat_up(data), 25)
        bulletins = tmp_path / "bulletins.yaml"
        bulletins.rename(tmp_path / "bulletins.bak")
        bulletins.mkdir()
        assert wait_for(lambda: events_in(data, "reload-failed"), 10)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    _no_traceback(err)
    detail = events_in(data, "reload-failed")[0][2]
    assert "bulletins.yaml" in detail and "vẫn phát theo lịch cũ" in detail
    rows = _reconciled(data, {"s": 2})
    assert {r.status for r in rows} == {"played"}


def _break_by_directory(r):
    bulletins = r.tmp / "bulletins.yaml"
    bulletins.unlink()
    bulletins.mkdir()


def _break_by_bytes(r):
    (r.tmp / "bulletins.yaml").write_bytes(b"bulletins:\n- id: \xff\xfe\n")


def _break_by_bug(r):
    def load():
        raise RuntimeError("a bug in loading")

    r.daemon._load = load


@pytest.mark.parametrize("breakage, words", [
    (_break_by_directory, "bulletins.yaml"),
    (_break_by_bytes, "bulletins.yaml"),
    (_break_by_bug, "lỗi trong loa (chi tiết trong nhật ký kỹ thuật)"),
])
def test_any_reload_failure_is_an_event_and_the_old_schedule_plays(tmp_path, capfd,
                                                                    breakage, words):
    with FakeClock(MONDAY, travel=True) as clock:
        r = DaemonRig(tmp_path, clock)
        try:
            r.daemon.start()
            old = r.daemon.schedule
            breakage(r)
            r.daemon.request_reload()
            r.go(MONDAY.replace(hour=6))  # the watcher reloads, and fails
            assert r.daemon.schedule is old
            failed = [e for e in r.store.events(100) if e[1] == "reload-failed"]
            assert len(failed) == 1 and words in failed[0][2]
            assert "vẫn phát theo lịch cũ" in failed[0][2]
            r.session(MONDAY.replace(hour=6, minute=30))
            rows = r.rows()
        finally:
            r.close()
    assert "Traceback" not in capfd.readouterr().err
    assert len(rows) == 4 and {x.status for x in rows} == {"played"}
    assert len({x.play_key for x in rows}) == 4  # 2 zones x 2 approved bulletins at 06:30


# --- the control channel's pieces ---------------------------------------------------------------

def test_lock_is_exclusive_and_released_with_its_holder(tmp_path):
    from loa.errors import LoaError

    first = control.DaemonLock(tmp_path)
    first.acquire()
    try:
        assert control.running_pid(tmp_path) == os.getpid()
        with pytest.raises(LoaError) as refused:
            control.DaemonLock(tmp_path).acquire(tries=0.2)
        assert f"PID {os.getpid()}" in str(refused.value) and "daemon.lock" in str(refused.value)
    finally:
        first.release()
    assert control.running_pid(tmp_path) is None
    with control.DaemonLock(tmp_path):
        assert control.running_pid(tmp_path) == os.getpid()


def test_zones_by_id_or_name_and_garbage_refused(tmp_path):
    from loa.errors import LoaError

    zones = {"toan-xa": "Toàn xã", "thon-1": "Thôn 1"}
    assert control.resolve_zones([], zones) == ("toan-xa", "thon-1")
    assert control.resolve_zones(["THÔN 1", "thon-1", "toan-xa"], zones) == ("thon-1", "toan-xa")
    for bad in ("thon-1", [1], {"a": 1}, ["x" * 5000]):
        with pytest.raises(LoaError) as err:
            control.resolve_zones(bad, zones, "lich.yaml")
        assert str(err.value).startswith("lich.yaml: ") and len(str(err.value)) < 300
    # a heartbeat that is not what the daemon writes is as good as none
    (tmp_path / "daemon.json").write_text('{"at": "2026-01-01T00:00:00+07:00", "zones": 5}')
    assert control.read_heartbeat(tmp_path) is None


def test_an_emergency_the_log_cannot_record_is_not_accepted(tmp_path):
    """Accepted means its event row is committed: a log another writer holds locked (a real
    SQLite lock, past the store's busy timeout) makes the daemon answer "not accepted"."""
    import sqlite3

    with FakeClock(MONDAY, travel=True) as clock:
        r = DaemonRig(tmp_path, clock)
        try:
            r.daemon.start()
            ctl = tmp_path / "control"
            rid = control.new_request_id()
            control.send_request(ctl, rid, {"title": "Bão", "text": "Bão số 3 sắp đổ bộ."}, 60)
            holder = sqlite3.connect(tmp_path / "loa.sqlite3", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                r.daemon._take_requests()
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            answer = control.read_answer(ctl, rid)
            assert answer is not None and not answer.accepted
            assert "không ghi được tin khẩn cấp vào sổ nhật ký" in answer.reason
            assert "sổ đang bị một chương trình khác khóa" in answer.reason
            time.sleep(0.5)
            assert r.rows() == [] and not [e for e in r.store.events(100)
                                           if e[1] == "emergency"]
            # once the log is writable the same request is accepted, logged and played
            rid = control.new_request_id()
            control.send_request(ctl, rid, {"title": "Bão", "text": "Bão số 3 sắp đổ bộ.",
                                            "zones": ["toan-xa"]}, 60)
            r.daemon._take_requests()
            answer = control.read_answer(ctl, rid)
            assert answer is not None and answer.accepted and answer.zones == ("toan-xa",)
            assert wait_for(lambda: [x.status for x in r.rows()] == ["played"], 20)
            assert list((ctl / "requests").iterdir()) == []
        finally:
            r.close()


def test_an_accepted_emergency_that_never_aired_is_logged_missed_at_the_next_start(tmp_path):
    """Accepted, then the daemon stopped before it aired (a long text still being read, a
    power cut): the next start logs its plays missed, once; one that did air stays as it is."""
    with FakeClock(MONDAY, travel=True) as clock:
        r = DaemonRig(tmp_path, clock)
        try:
            r.daemon.start()
            ctl = r.daemon.control_dir
            rid = control.new_request_id()
            control.send_request(ctl, rid, {"title": "Bão", "text": "Bão số 3 sắp đổ bộ.",
                                            "zones": ["toan-xa"]}, 60)
            r.daemon._take_requests()
            assert control.read_answer(ctl, rid).accepted
            assert wait_for(lambda: [x.status for x in r.rows()] == ["played"], 20)
            aired = r.rows()[0]
            # one accepted by a daemon that then stopped before it could play it
            stranded = {"id": "khan-cap-20260406-045900", "station": aired.station,
                        "title": "Cháy", "text": "Cháy ở chợ xã.", "plan": "",
                        "at": (MONDAY - timedelta(minutes=1)).isoformat(),
                        "zones": ["toan-xa", "thon-1"]}
            control.keep_accepted(ctl, stranded)
            assert len(control.take_accepted(ctl)) == 2  # the aired one is kept too
        finally:
            r.close()
        again = DaemonRig(tmp_path, clock)
        try:
            again.daemon.start()
            rows = again.rows()
            assert control.take_accepted(again.daemon.control_dir) == []
        finally:
            again.close()
    by = sorted((x.bulletin, x.zone, x.status) for x in rows)
    assert by == sorted([(aired.bulletin, "toan-xa", "played"),
                         ("khan-cap-20260406-045900", "thon-1", "missed"),
                         ("khan-cap-20260406-045900", "toan-xa", "missed")]), by
    assert {x.reason for x in rows if x.status == "missed"} == {
        "loa run dừng trước khi kịp phát tin khẩn cấp"}


def test_an_emergency_of_control_characters_only_is_refused(tmp_path):
    """Nothing a voice can read is no message: refused up front, not accepted then failed."""
    with FakeClock(MONDAY, travel=True) as clock:
        r = DaemonRig(tmp_path, clock)
        try:
            r.daemon.start()
            ctl = r.daemon.control_dir
            rid = control.new_request_id()
            control.send_request(ctl, rid, {"title": "\x1b[2J", "text": "\x07\x1b\x7f \t"}, 60)
            r.daemon._take_requests()
            answer = control.read_answer(ctl, rid)
            time.sleep(0.5)
            rows = r.rows()
        finally:
            r.close()
    assert answer is not None and not answer.accepted
    assert "tin khẩn cấp không có lời" in answer.reason
    assert rows == []
