"""Real playback: `loa run` -> sounddevice -> PortAudio -> ALSA -> PulseAudio null sink."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from helpers import RATE, Recorder, locate

from loa.audio import read_wav
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.plan import import_plan
from loa.script import approve, load_bulletins, new_bulletin_file
from loa.yamlio import write_yaml

pytestmark = pytest.mark.audio


def _schedule(folder: Path, at: datetime) -> Path:
    plan = import_plan(Path(__file__).resolve().parents[1] / "loa/data/plans/ba-vi-2026.txt")
    bfile_path = folder / "bulletins.yaml"
    new_bulletin_file(bfile_path, plan).save()
    bfile = load_bulletins(bfile_path)
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
    at = (datetime.now(DEFAULT_TZ) + timedelta(seconds=8)).replace(microsecond=0)
    if at.date() != (at + timedelta(seconds=40)).date():
        at += timedelta(seconds=60)  # keep the whole run inside one day
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
