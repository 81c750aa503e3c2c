"""Start accuracy of `loa run` into a private PulseAudio null sink, and its idle memory.

Schedules 50 one-off announcements 6 s apart, runs the real daemon (APScheduler ->
sounddevice -> PortAudio -> PulseAudio), records the sink's monitor, finds each clip in
the recording and compares its first sample with the scheduled time. In the same run,
3 s after each of those, this process plays one of the daemon's clips the naive way
(`time.sleep` until the moment, then `sounddevice.play`) into the same sink: the
reference. PortAudio is warmed up first in both (a process's first stream takes ~0.5 s).

A start's time is the time the sink says the first sample plays: the recorded time
plus the sink's lead over its monitor (`monitor_lead_ms`, see helpers.sink_lead_s);
subtract that lead from the signed figures for the raw monitor times.
Prints one JSON object: starts, p50_ms, p99_ms (absolute error), mean_signed_ms, the
same for the naive reference (naive_*), worst_ms (the three largest errors), late_calls
(plays the daemon logged as started after their time: it reached the sink late),
monitor_lead_ms, load_1m, idle_rss_mb.
Goals (issue 11): p99_ms <= 5 and |mean_signed_ms| <= 2.
"""

from __future__ import annotations

import json
import os
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

from helpers import RATE, Recorder, locate, sink_lead_s, start_pulse, stop_pulse  # noqa: E402

from loa.audio import read_wav  # noqa: E402
from loa.clock import DEFAULT_TZ  # noqa: E402
from loa.log import LogStore  # noqa: E402
from loa.yamlio import write_yaml  # noqa: E402

STARTS = 50
SPACING_S = 6.0  # the clips last about 2.7 s, plus the 0.2 s tail; a naive play between
NAIVE_AFTER_S = 3.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_error_ms(heard, rec, clip: np.ndarray, at: float, lead: float) -> float:
    lo = max(0, int((at - rec.t0() - 0.5) * RATE))
    hi = min(len(heard), int((at - rec.t0() + 0.5) * RATE) + len(clip))
    i = lo + locate(heard[lo:hi], clip)
    return (rec.time_of(i) + lead - at) * 1000


def figures(errors: list[float], prefix: str = "") -> dict[str, float]:
    err = np.array(errors)
    return {f"{prefix}p50_ms": round(float(np.percentile(np.abs(err), 50)), 2),
            f"{prefix}p99_ms": round(float(np.percentile(np.abs(err), 99)), 2),
            f"{prefix}mean{'_signed' if not prefix else ''}_ms": round(float(err.mean()), 2)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sink = start_pulse(tmp / "pulse")
        # this process's PortAudio (the naive reference) must find the private PulseAudio
        os.environ.update({k: sink.env[k] for k in ("XDG_RUNTIME_DIR", "HOME")})
        os.environ.pop("PULSE_SERVER", None)
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
            import sounddevice as sd

            sd.OutputStream(channels=1, dtype="int16").close()  # warm up, as the sink does
            naive_clip, naive_rate = read_wav(sorted((tmp / "data" / "clips").glob("*.wav"))[0])
            # idle: everything rendered, nothing playing yet
            wait = (first - datetime.now(DEFAULT_TZ)).total_seconds() - 3
            time.sleep(max(0.5, wait))
            idle = rss_mb(proc.pid)
            naive_at = [first.timestamp() + SPACING_S * n + NAIVE_AFTER_S for n in range(STARTS)]
            for at in naive_at:
                time.sleep(max(0.0, at - time.time()))
                sd.play(naive_clip, naive_rate)
                sd.wait()
            proc.wait(timeout=STARTS * SPACING_S + 120)
            lead = sink_lead_s(sink)
            time.sleep(0.5)
            rec = recorder.stop()
            load_1m = os.getloadavg()[0]
            store = LogStore(tmp / "data" / "loa.sqlite3")
            rows = [r for r in store.plays() if r.status in ("played", "late")]
            store.close()
            heard = rec.samples()
            errors = []
            late_calls = 0  # the daemon reached the sink after the moment: not the sink's doing
            for r in rows:
                clip, _ = read_wav(tmp / "data" / "clips" / f"{r.clip_hash}.wav")
                at = datetime.fromisoformat(r.scheduled_at).timestamp()
                errors.append(start_error_ms(heard, rec, clip, at, lead))
                late_calls += datetime.fromisoformat(r.started_at).timestamp() > at + 0.001
            naive = [start_error_ms(heard, rec, naive_clip, at, lead) for at in naive_at]
        finally:
            stop_pulse(sink)
    print(json.dumps({"starts": len(errors), **figures(errors), **figures(naive, "naive_"),
                      "worst_ms": [round(e, 1) for e in sorted(errors, key=abs)[-3:]],
                      "late_calls": late_calls,
                      "monitor_lead_ms": round(lead * 1000, 2), "load_1m": round(load_1m, 1),
                      "idle_rss_mb": round(idle, 1)}))


if __name__ == "__main__":
    main()
