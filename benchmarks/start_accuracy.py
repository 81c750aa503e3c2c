"""Start accuracy of `loa run` into a private PulseAudio null sink, and its idle memory.

Schedules 50 one-off announcements 3 s apart, runs the real daemon (APScheduler ->
sounddevice -> PortAudio -> PulseAudio), records the sink's monitor, finds each clip in
the recording and compares its first sample with the scheduled time.
Prints one JSON object: starts, p50_ms, p99_ms (of the absolute error), idle_rss_mb.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import RATE, Recorder, locate, start_pulse, stop_pulse  # noqa: E402

from loa.audio import read_wav  # noqa: E402
from loa.clock import DEFAULT_TZ  # noqa: E402
from loa.log import LogStore  # noqa: E402
from loa.yamlio import write_yaml  # noqa: E402

STARTS = 50
SPACING_S = 4.0  # the clips last about 2.7 s, plus the 0.2 s tail


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sink = start_pulse(tmp / "pulse")
        try:
            first = (datetime.now(DEFAULT_TZ) + timedelta(seconds=25)).replace(microsecond=0)
            write_yaml(tmp / "b.yaml", {"plan": {"id": "bench"}, "bulletins": []})
            write_yaml(tmp / "lich.yaml", {
                "station": {"id": "bench", "name": "Đài thử", "engines": ["espeak"],
                            "chime": False, "intro": "Thông báo."},
                "zones": [{"id": "toan-xa", "name": "Toàn xã"}],
                "sessions": [],
                "programs": [],
                "announcements": [
                    {"id": f"so-{n}", "text": f"Số {n}.",
                     "at": (first + timedelta(seconds=SPACING_S * n)).strftime(
                         "%Y-%m-%d %H:%M:%S")}
                    for n in range(STARTS)],
            })
            env = {**sink.env, "LOA_DATA_DIR": str(tmp / "data")}
            recorder = Recorder(sink)
            proc = subprocess.Popen(
                [sys.executable, "-m", "loa", "run", str(tmp / "lich.yaml"), "--sink", "device",
                 "--until-idle", "--no-time-sync"], env=env, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            while proc.poll() is None and "Đang chạy lịch" not in (proc.stdout.readline() or ""):
                pass
            # idle: everything rendered, nothing playing yet
            wait = (first - datetime.now(DEFAULT_TZ)).total_seconds() - 3
            time.sleep(max(0.5, wait))
            idle = rss_mb(proc.pid)
            proc.wait(timeout=STARTS * SPACING_S + 120)
            rec = recorder.stop()
            store = LogStore(tmp / "data" / "loa.sqlite3")
            rows = [r for r in store.plays() if r.status in ("played", "late")]
            store.close()
            heard = rec.samples()
            errors = []
            for r in rows:
                at = datetime.fromisoformat(r.scheduled_at).timestamp()
                clip, _ = read_wav(tmp / "data" / "clips" / f"{r.clip_hash}.wav")
                lo = max(0, int((at - rec.t0() - 1.0) * RATE))
                hi = min(len(heard), int((at - rec.t0() + 1.5) * RATE) + len(clip))
                i = lo + locate(heard[lo:hi], clip)
                errors.append((rec.time_of(i) - at) * 1000)
        finally:
            stop_pulse(sink)
    err = np.abs(np.array(errors))
    print(json.dumps({"starts": len(errors), "p50_ms": round(float(np.percentile(err, 50)), 2),
                      "p99_ms": round(float(np.percentile(err, 99)), 2),
                      "idle_rss_mb": round(idle, 1),
                      "mean_signed_ms": round(float(np.mean(errors)), 2)}))


if __name__ == "__main__":
    main()
