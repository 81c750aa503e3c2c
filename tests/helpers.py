"""Real stand-ins for what a test machine lacks: Google's TTS endpoint and a loudspeaker."""

from __future__ import annotations

import base64
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
