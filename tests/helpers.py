"""Real stand-ins for what a test machine lacks (Google's TTS endpoint, a loudspeaker), and
the rigs the daemon tests share: `loa` as a process, and the daemon in process."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from loa.clock import DEFAULT_TZ
from loa.yamlio import write_yaml

RATE = 44100


def espeak_mp3(text: str = "xin chào bà con") -> bytes:
    """A real MP3 (espeak-ng through ffmpeg), as Google would send."""
    wav = subprocess.run(["espeak-ng", "-v", "vi", "--stdout", text], capture_output=True,
                         check=True).stdout
    return subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", "-f", "mp3", "pipe:1"],
        input=wav, capture_output=True, check=True,
    ).stdout


class FakeGoogle:
    """Answers gTTS's batchexecute POSTs like translate.google.com does.

    mode: "ok" (audio), "hang" (accept, never answer), "429", "garbage".
    """

    def __init__(self, mp3: bytes):
        self.mp3 = mp3
        self.mode = "ok"
        self.script: list[str] = []  # modes for the next requests, then self.mode
        self.requests: list[str] = []
        self.release = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append(body.decode("utf-8", "replace"))
                mode = fake.script.pop(0) if fake.script else fake.mode
                if mode == "hang":
                    fake.release.wait(30)
                    return
                if mode == "429":
                    self.send_response(429)
                    self.end_headers()
                    return
                if mode == "garbage":
                    payload = b")]}'\n\n[[\"wrb.fr\",\"other\",null]]"
                else:
                    b64 = base64.b64encode(fake.mp3).decode()
                    payload = (
                        ")]}'\n\n" + '[["wrb.fr","jQ1olc","[\\"' + b64 +
                        '\\"]",null,null,null,"generic"]]'
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/_/TranslateWebserverUi/data/batchexecute"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PulseSink:
    env: dict[str, str]
    root: Path


def start_pulse(root: Path) -> PulseSink:
    """A private PulseAudio with one null sink; audio played to it can be recorded back."""
    for tool in ("pulseaudio", "parec", "pactl"):
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} missing: run scripts/setup.sh --dev")
    run_dir, home = root / "pa-run", root / "pa-home"
    run_dir.mkdir(mode=0o700, parents=True)
    home.mkdir(parents=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir), "HOME": str(home)}
    env.pop("PULSE_SERVER", None)
    pa = Path(__file__).parent / "audio" / "null-sink.pa"
    subprocess.run(["pulseaudio", "-n", "-F", str(pa), "--exit-idle-time=-1",
                    "--daemonize=yes"], env=env, check=True, timeout=30)
    for _ in range(100):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError("private PulseAudio did not come up")
    return PulseSink(env=env, root=root)


def stop_pulse(sink: PulseSink) -> None:
    subprocess.run(["pulseaudio", "--kill"], env=sink.env, timeout=30, check=False)


@dataclass
class Recording:
    """Raw monitor audio with the wall-clock time at which sample 0 left the sink."""

    chunks: list[bytes] = field(default_factory=list)
    arrivals: list[tuple[float, int]] = field(default_factory=list)  # (time, frames so far)

    def samples(self) -> np.ndarray:
        return np.frombuffer(b"".join(self.chunks), dtype="<i2")

    def t0(self) -> float:
        # Sample i left the sink no later than it reached us: t0 = min(arrival - i/RATE).
        return min(t - n / RATE for t, n in self.arrivals)

    def time_of(self, i: int, window_s: float = 1.5) -> float:
        """Wall time at which sample i left the sink, from the chunks around it only: the
        sink's sample clock drifts from the wall clock over a long recording."""
        w = window_s * RATE
        near = [t - n / RATE for t, n in self.arrivals if abs(n - i) <= w]
        return min(near) + i / RATE


class Recorder:
    def __init__(self, sink: PulseSink):
        self.proc = subprocess.Popen(
            ["parec", "-d", "vsink.monitor", "--format=s16le", f"--rate={RATE}",
             "--channels=1", "--raw", "--latency-msec=10"],
            stdout=subprocess.PIPE, env=sink.env,
        )
        self.rec = Recording()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        frames = 0
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 882)
            if not data:
                return
            now = time.time()
            self.rec.chunks.append(data)
            frames += len(data) // 2
            self.rec.arrivals.append((now, frames))

    def stop(self) -> Recording:
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(10)
        return self.rec


def locate(haystack: np.ndarray, needle: np.ndarray) -> int:
    """Index where `needle` best matches inside `haystack` (FFT cross-correlation)."""
    a = haystack.astype(np.float64)
    b = needle.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return int(np.argmax(corr[: len(a) - len(b) + 1]))


def sink_lead_s(sink: PulseSink) -> float:
    """How much earlier the null sink's monitor hears a sample than the sink tells its
    clients the sample plays: the sink renders one configured latency ahead (set by the
    lowest request, usually the Recorder's 10 ms) and the monitor gets the audio at
    render time. Measured with parec at 3, 10 and 30 ms: a start placed by PortAudio's
    DAC time showed up 3.1, 9.9 and 29.1 ms early in the recording. Add it to a
    recorded time to get the time the sink says the sample played, as a real device
    would play it. Read while the Recorder runs."""
    out = subprocess.run(["pactl", "list", "sinks"], env={**sink.env, "LC_ALL": "C"},
                         capture_output=True, text=True, check=True, timeout=30).stdout
    block = next(b for b in out.split("\nSink #") if "Name: vsink" in b)
    return int(re.search(r"configured (\d+) usec", block).group(1)) / 1e6


# --- waiting, and `loa` as a process ----------------------------------------------------------

def wait_for(predicate, seconds: float, poll: float = 0.05) -> bool:
    """True as soon as `predicate()` is; False if it is not within `seconds` (real time)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def soon(lead_s: float, run_s: float) -> datetime:
    """A whole second `lead_s` from now, moved on if a run of `run_s` would cross midnight
    (a session's program is dated: it must not end before the run does)."""
    at = (datetime.now(DEFAULT_TZ) + timedelta(seconds=lead_s)).replace(microsecond=0)
    if at.date() != (at + timedelta(seconds=run_s)).date():
        at += timedelta(seconds=run_s + 30)
    return at


def loa_env(data: Path, base: dict[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment of a `loa` process on data folder `data` (base: a PulseSink's env)."""
    return {**(base if base is not None else os.environ), "LOA_DATA_DIR": str(data), **extra}


def loa(env: dict[str, str], *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """`python -m loa ARGS`, to its end."""
    return subprocess.run([sys.executable, "-m", "loa", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)


def start_daemon(env: dict[str, str], schedule: Path, *extra: str,
                 sink: str = "device") -> subprocess.Popen:
    """`loa run SCHEDULE` in the background (no NTP on a test machine)."""
    return subprocess.Popen([sys.executable, "-m", "loa", "run", str(schedule), "--sink", sink,
                             "--no-time-sync", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_log(db: Path) -> tuple[list, list]:
    """(plays oldest first, event kinds oldest first), through a connection of its own;
    empty if there is no log yet (looking must not create one)."""
    from loa.log import LogStore

    if not Path(db).exists():
        return [], []
    store = LogStore(db)
    try:
        return (sorted(store.plays(), key=lambda r: r.id),
                [e[1] for e in reversed(store.events(limit=None))])
    finally:
        store.close()


def rows_in(data: Path) -> list:
    """The plays `loa run` on data folder `data` has logged, oldest first."""
    return read_log(data / "loa.sqlite3")[0]


def events_in(data: Path, kind: str | None = None) -> list[tuple]:
    """(at, kind, detail) events, oldest first, of one kind or all."""
    from loa.log import LogStore

    if not (data / "loa.sqlite3").exists():
        return []
    store = LogStore(data / "loa.sqlite3")
    try:
        return [e for e in reversed(store.events(None)) if kind is None or e[1] == kind]
    finally:
        store.close()


def heartbeat_up(data: Path) -> bool:
    """`loa run` has planned, rendered ahead and written its first heartbeat."""
    return (data / "control" / "daemon.json").exists()


def one_session_station(folder: Path, at: datetime | None, texts: list[str],
                        device: str = "default") -> Path:
    """Two zones on one device, one session at `at` playing every text as an approved
    bulletin (IV.1, IV.2, ...); None: a session two days ago, nothing to play."""
    folder.mkdir(parents=True, exist_ok=True)
    write_yaml(folder / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": f"IV.{i + 1}", "title": f"Bản tin {i + 1}", "status": "approved", "text": text}
        for i, text in enumerate(texts)]})
    day = at or datetime.now(DEFAULT_TZ) - timedelta(days=2)
    path = folder / "lich.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": "toan-xa", "name": "Toàn xã", "device": device},
                  {"id": "thon-1", "name": "Thôn 1", "device": device}],
        "sessions": [{"id": "s", "name": "Buổi thử", "time": day.strftime("%H:%M:%S"),
                      "zones": ["toan-xa", "thon-1"]}],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": ["s"], "per_session": len(texts),
                      "from": day.date().isoformat(), "until": day.date().isoformat()}],
    })
    return path


# --- the real daemon in process, on the fake clock -----------------------------------------------

MONDAY = datetime(2026, 4, 6, 5, 0, tzinfo=DEFAULT_TZ)  # a Monday


def write_station(folder: Path, extra: dict | None = None) -> Path:
    """Ba Vì: two zones on relays 17 and 27; 06:30 daily, 08:55 Mondays, 17:00 weekdays;
    two approved bulletins (IV.2.c priority 2) and a draft; a holiday on 2026-04-08."""
    bulletins = {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công", "status": "approved",
         "text": "Bà con nộp hồ sơ trực tuyến tại nhà."},
        {"id": "IV.2.c", "title": "Tiện ích miễn phí", "status": "approved", "priority": 2,
         "text": "Điểm phục vụ có wifi miễn phí."},
        {"id": "IV.3.a", "title": "Chưa duyệt", "status": "draft", "text": "Không phát."},
    ]}
    write_yaml(folder / "bulletins.yaml", bulletins)
    schedule = {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"],
                    "quiet_hours": "21:00-05:30", "pre_roll": 1.5, "post_roll": 0.5},
        "zones": [{"id": "toan-xa", "name": "Toàn xã", "relay": 17},
                  {"id": "thon-1", "name": "Thôn 1", "relay": 27}],
        "sessions": [
            {"id": "sang", "name": "Buổi sáng", "time": "06:30", "zones": ["toan-xa", "thon-1"]},
            {"id": "giua", "name": "Giữa buổi", "time": "08:55", "days": "T2",
             "zones": ["toan-xa"]},
            {"id": "chieu", "name": "Buổi chiều", "time": "17:00", "days": "T2-T6",
             "zones": ["toan-xa", "thon-1"]},
        ],
        "programs": [{"id": "kstthc", "name": "KSTTHC", "bulletins": "bulletins.yaml",
                      "sessions": ["sang", "giua", "chieu"], "per_session": 2}],
        "holidays": [{"date": "2026-04-08", "name": "Ngày thử nghỉ"}],
    }
    if extra:
        schedule.update(extra)
    write_yaml(folder / "lich.yaml", schedule)
    return folder / "lich.yaml"


class DaemonRig:
    """The real Daemon and Player (APScheduler, SQLite, espeak-ng, recording relays) in this
    process, on a FakeClock(travel=True) the test moves. Driven through public behaviour
    only (watch, pending, the log), so it survives the daemon's inner layout changing.

    store: the log to use (default: a plain LogStore in `tmp`); sink: where plays go
    (default: WAV files); synced: the time-sync check (None: synced)."""

    def __init__(self, tmp: Path, clock, sink=None, synced=lambda: None, store=None):
        from loa.audio import AudioSettings, ClipStore, Renderer
        from loa.log import LogStore
        from loa.player import Daemon, Player, WavDirSink
        from loa.player.relays import RecordingRelays
        from loa.player.trust import ClockTrust
        from loa.schedule import load_program_bulletins, load_schedule
        from loa.voice import EngineChain, EspeakEngine

        self.tmp = tmp
        self.path = tmp / "lich.yaml" if (tmp / "lich.yaml").exists() else write_station(tmp)
        self.clock = clock
        self.store = store if store is not None else LogStore(tmp / "loa.sqlite3")
        self.sink = sink or WavDirSink(tmp / "played", self.clock)  # keeps the fake time
        self.relays = RecordingRelays(clock)
        renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp / "clips"), str.strip,
                            AudioSettings(chime=False))
        self.trust = ClockTrust(self.store, clock, synced)

        def load():
            s = load_schedule(self.path)
            return s, load_program_bulletins(s)

        schedule, _ = load()
        self.player = Player(self.store, clock, lambda d: self.sink,
                             lambda b: renderer.render(b.text).clip, schedule.zones,
                             self.relays, schedule.station.pre_roll, schedule.station.post_roll,
                             self.trust)
        self.daemon = Daemon(load, self.player, clock, self.store,
                             control_dir=tmp / "control", trust=self.trust)
        self._down = False
        if hasattr(clock, "at_stop"):
            clock.at_stop(self.shutdown)

    def busy(self) -> bool:
        """An occurrence that should have started by now has not finished, a job is due,
        or the player is on air."""
        now = self.clock.now()
        if any(o.at - self.player.lead <= now for o in self.daemon.pending()):
            return True
        if any(j.id not in ("watch", "refresh") and j.next_run_time is not None
               and j.next_run_time <= now for j in self.daemon.scheduler.get_jobs()):
            return True
        # The one private look: a job of the previous plan may still be on air after a
        # re-plan has moved its occurrence on.
        lock = getattr(self.player, "_lock", None)
        return bool(lock is not None and lock.locked())

    def go(self, when: datetime, settle: float = 0.0) -> None:
        """Set the wall clock (a jump, as NTP or a power cut would), then let due jobs run."""
        self.clock.move_to(when)
        self.daemon.watch()  # what the 1 s watcher would do next
        self.daemon.scheduler.wakeup()  # APScheduler waits on real time: look again now
        wait_for(lambda: not self.busy(), 20)
        if settle:
            time.sleep(settle)

    def session(self, at: datetime) -> None:
        """Let the occurrence at `at` play: step to just after its job wakes up; the
        player's own sleeps (the injected clock) carry it to the exact start."""
        self.go(at - self.player.lead + timedelta(milliseconds=20))
        wait_for(lambda: not any(o.at == at for o in self.daemon.pending()), 20, poll=0.02)

    def rows(self) -> list:
        return sorted(self.store.plays(), key=lambda r: r.id)

    def event_kinds(self, limit: int | None = 100) -> list[str]:
        """Event kinds, newest first."""
        return [e[1] for e in self.store.events(limit)]

    def beat(self) -> dict:
        return json.loads((self.tmp / "control" / "daemon.json").read_text(encoding="utf-8"))

    def shutdown(self) -> None:
        """Stop the daemon (once), leaving its log open to look at."""
        if not self._down:
            self._down = True
            self.daemon.shutdown()

    def close(self) -> None:
        try:
            self.shutdown()
        finally:
            self.store.close()
