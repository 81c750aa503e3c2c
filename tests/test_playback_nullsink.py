"""Real playback: `loa run` -> sounddevice -> PortAudio -> ALSA -> PulseAudio null sink."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from helpers import RATE, Recorder, loa_env, locate, rows_in, soon, start_daemon, wait_for

from loa.audio import read_wav
from loa.log import LogStore
from loa.plan import import_plan
from loa.script import approve, load_bulletins, new_bulletin_file
from loa.script.draft import clear_markers
from loa.yamlio import write_yaml

pytestmark = pytest.mark.audio


def _schedule(folder: Path, at: datetime) -> Path:
    plan = import_plan(Path(__file__).resolve().parents[1] / "loa/data/plans/ba-vi-2026.txt")
    bfile_path = folder / "bulletins.yaml"
    new_bulletin_file(bfile_path, plan).save()
    bfile = load_bulletins(bfile_path)
    b = bfile.get("IV.1.đ")
    b.text = clear_markers(b.text)  # as the officer does before approving
    approve(bfile, ["IV.1.đ"], "test", at)
    bfile.save()
    path = folder / "schedule.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": "toan-xa", "name": "Toàn xã", "device": "default"},
                  {"id": "thon-1", "name": "Thôn 1", "device": "default"}],
        "sessions": [{"id": "s", "name": "Buổi thử", "time": at.strftime("%H:%M:%S"),
                      "zones": ["toan-xa", "thon-1"]}],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": ["s"], "from": at.date().isoformat(),
                      "until": at.date().isoformat()}],
    })
    return path


def test_scheduled_play_reaches_the_sink_on_time_and_intact(pulse, tmp_path):
    data = tmp_path / "data"
    env = {**pulse.env, "LOA_DATA_DIR": str(data)}
    at = soon(15, run_s=40)  # room for start-up and rendering ahead on a busy machine
    schedule = _schedule(tmp_path, at)

    recorder = Recorder(pulse)
    proc = subprocess.run(
        [sys.executable, "-m", "loa", "run", str(schedule), "--sink", "device", "--until-idle"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    time.sleep(0.3)
    rec = recorder.stop()
    assert proc.returncode == 0, proc.stderr
    assert "Phát ra thiết bị âm thanh" in proc.stdout

    store = LogStore(data / "loa.sqlite3")
    rows = store.plays()
    store.close()
    assert {r.zone for r in rows} == {"toan-xa", "thon-1"}
    assert {r.status for r in rows} == {"played"}
    row = rows[0]
    assert datetime.fromisoformat(row.scheduled_at) == at
    logged_start = datetime.fromisoformat(row.started_at)
    assert abs((logged_start - at).total_seconds()) < 0.1

    clip, rate = read_wav(data / "clips" / f"{row.clip_hash}.wav")
    assert rate == RATE
    heard = rec.samples()
    start = locate(heard, clip)
    segment = heard[start : start + len(clip)]
    assert len(segment) == len(clip)
    # the samples come back bit-identical through PortAudio and PulseAudio
    assert np.array_equal(segment, clip), float(np.abs(segment.astype(int) - clip).max())
    # and the first sample left the sink within 100 ms of the scheduled time
    first_sample_at = rec.time_of(start)
    error = first_sample_at - at.timestamp()
    print(f"start error {error * 1000:.1f} ms, clip {len(clip) / RATE:.1f} s")
    assert abs(error) < 0.1, f"start error {error * 1000:.1f} ms"


def _likeness(heard: np.ndarray, clip: np.ndarray) -> float:
    """Normalized correlation of two equally long stretches: 1.0 is the same sound."""
    a, b = heard.astype(np.float64), clip.astype(np.float64)
    if len(a) != len(b) or not a.any() or not b.any():
        return 0.0
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _daemon(pulse, data, schedule, *extra):
    return start_daemon(loa_env(data, pulse.env), schedule, *extra)


def test_loa_now_interrupts_the_session_on_air(pulse, tmp_path):
    data = tmp_path / "data"
    at = soon(8, run_s=60)
    schedule = _schedule(tmp_path, at)
    recorder = Recorder(pulse)
    proc = _daemon(pulse, data, schedule, "--for", "60")
    try:
        assert wait_for(lambda: any(r.status == "playing" for r in rows_in(data)), 40)
        time.sleep(1.0)
        asked = time.time()
        env = {**pulse.env, "LOA_DATA_DIR": str(data)}
        now = subprocess.run([sys.executable, "-m", "loa", "now", "Bão số 3 sắp đổ bộ, bà con "
                              "chằng chống nhà cửa.", "--title", "Bão số 3", "--zones", "toan-xa"],
                             env=env, capture_output=True, text=True, timeout=30)
        answered = time.time()  # `loa now` has its answer: accepted and logged
        assert now.returncode == 0, now.stderr
        assert "Đã gửi tin khẩn cấp" in now.stdout
        assert wait_for(lambda: any(r.session == "khan-cap" and r.status == "played"
                                     for r in rows_in(data)), 40)
    finally:
        proc.terminate()
        proc.wait(30)
        rec = recorder.stop()
    rows = rows_in(data)
    session = [r for r in rows if r.session == "s"]
    emergency = [r for r in rows if r.session == "khan-cap"]
    assert {r.status for r in session} == {"interrupted"}
    assert all(r.reason == "bị ngắt để phát tin khẩn cấp" for r in session)
    assert len(emergency) == 1 and emergency[0].zone == "toan-xa" and emergency[0].priority == 1
    started = datetime.fromisoformat(emergency[0].started_at).timestamp()
    # accepted, read offline, played; 4 s leaves room for a busy machine (the time `loa now`
    # itself takes to start up is not the daemon's: it is measured from the answer)
    assert asked < started < answered + 4.0, (started - asked, started - answered)
    # what went out: the session's clip, cut short by the emergency's clip. Compared by
    # correlation, not sample for sample: a busy machine may drop a few ms in the sink.
    heard = rec.samples()
    clip, _ = read_wav(data / "clips" / f"{emergency[0].clip_hash}.wav")
    start = locate(heard, clip)
    assert _likeness(heard[start : start + len(clip)], clip) > 0.9
    assert abs(rec.time_of(start) - started) < 0.2
    cut, _ = read_wav(data / "clips" / f"{session[0].clip_hash}.wav")
    head = cut[:RATE]  # the session clip's first second did air
    began = locate(heard[:start], head)
    assert _likeness(heard[began : began + len(head)], head) > 0.9
    assert began + len(cut) > start + RATE // 2  # its end never did: the emergency cut in


def test_kill_9_mid_play_then_restart_never_plays_twice(pulse, tmp_path):
    data = tmp_path / "data"
    at = soon(8, run_s=60)
    schedule = _schedule(tmp_path, at)
    proc = _daemon(pulse, data, schedule, "--for", "60")
    assert wait_for(lambda: any(r.status == "playing" for r in rows_in(data)), 40)
    time.sleep(1.5)
    proc.kill()  # power cut: no cleanup at all
    proc.wait(10)
    recorder = Recorder(pulse)
    again = _daemon(pulse, data, schedule, "--until-idle")
    out, err = again.communicate(timeout=60)
    rec = recorder.stop()
    assert again.returncode == 0, err
    rows = rows_in(data)
    assert len(rows) == 2 and {r.status for r in rows} == {"interrupted"}
    assert all("mất điện" in r.reason for r in rows)
    # nothing went out after the restart: the interrupted play was not replayed
    assert np.abs(rec.samples()).max() == 0
