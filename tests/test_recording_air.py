"""A recorded bulletin on air: `loa bulletin record` -> approve -> `loa render` -> `loa run`
-> PulseAudio null sink, and the log, `loa log` and the exports say "giọng đọc thu âm"."""

from __future__ import annotations

import csv
import subprocess
import time

import numpy as np
import pytest
from helpers import (
    RATE,
    Recorder,
    loa,
    loa_env,
    locate,
    one_session_station,
    rows_in,
    soon,
    start_daemon,
)

from loa.audio import read_wav
from loa.audio.wav import write_wav

pytestmark = pytest.mark.audio


def test_a_recorded_bulletin_airs_produced_and_the_log_says_giong_doc_thu_am(pulse, tmp_path):
    data = tmp_path / "data"
    env = loa_env(data, pulse.env)
    # the officer's phone recording: espeak-ng stands in for a person, with room around it
    words = tmp_path / "words.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(words),
                    "Bà con chú ý, chiều nay xã phun thuốc muỗi."], check=True)
    x, rate = read_wav(words)
    pad = np.zeros(rate, dtype=np.int16)
    write_wav(tmp_path / "phone.wav", np.concatenate([pad, x, pad]), rate)
    phone = tmp_path / "phone.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i",
                    str(tmp_path / "phone.wav"), "-c:a", "aac", str(phone)], check=True)

    at = soon(25, run_s=60)  # room for importing, rendering and start-up on a busy machine
    schedule = one_session_station(tmp_path / "st", at, ["Lời này được thu âm."])
    bfile = schedule.parent / "bulletins.yaml"
    done = loa(env, "bulletin", "record", str(bfile), "IV.1", str(phone))
    assert done.returncode == 0, done.stderr
    done = loa(env, "bulletin", "approve", str(bfile), "IV.1", "--by", "Nguyễn Văn An")
    assert done.returncode == 0, done.stderr
    done = loa(env, "render", str(schedule))
    assert done.returncode == 0 and "giọng đọc thu âm 1" in done.stdout, done.stderr

    recorder = Recorder(pulse)
    proc = start_daemon(env, schedule, "--until-idle")
    out, err = proc.communicate(timeout=150)
    time.sleep(0.3)
    heard = recorder.stop().samples()
    assert proc.returncode == 0, err

    rows = rows_in(data)
    assert {(r.zone, r.status, r.engine) for r in rows} == {("toan-xa", "played", "ghi-am"),
                                                            ("thon-1", "played", "ghi-am")}
    # what aired is the produced clip (chime, intro, the recording, levelled), bit for bit
    clip, clip_rate = read_wav(data / "clips" / f"{rows[0].clip_hash}.wav")
    assert clip_rate == RATE and len(clip) / RATE > len(x) / rate + 2.0
    start = locate(heard, clip)
    assert np.array_equal(heard[start:start + len(clip)], clip)

    shown = loa(env, "log")
    assert shown.returncode == 0 and "giọng đọc thu âm" in shown.stdout, shown.stderr
    export = tmp_path / "nhat-ky.csv"
    done = loa(env, "export", "--format", "csv", "-o", str(export))
    assert done.returncode == 0, done.stderr
    with export.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert {row["Bộ đọc"] for row in table} == {"giọng đọc thu âm"}
