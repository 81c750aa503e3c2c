"""Where audio goes: a sound device, or WAV files on a machine without one."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from loa.audio.wav import write_wav
from loa.clock import Clock, SystemClock


class SinkError(Exception):
    """The output could not play (device gone, busy, PortAudio missing)."""


class Sink(Protocol):
    name: str

    def play(self, samples: np.ndarray, rate: int, label: str, at: float | None = None) -> bool:
        """Play, starting at wall-clock time `at` (epoch seconds) if given; block until done.
        Returns False if stop() cut it short."""

    def stop(self) -> None:
        """Cut the current play short (an emergency bulletin is waiting)."""


class SoundDeviceSink:
    timed = True  # play(at=...) itself starts on the dot
    # Closing a PortAudio stream drops its last partial buffer (measured through the
    # ALSA pulse plugin: ~23 ms zeroed), so a short silence follows every clip.
    TAIL_S = 0.2
    BLOCK_S = 0.01
    # PortAudio's "low" is ~9 ms through ALSA-pulse: one busy moment of a Pi (or a CI box)
    # and the horns hear a gap. 100 ms of buffer rides that out; start times stay exact
    # because the lead-in below subtracts the stream's reported latency.
    LATENCY_S = 0.1

    def __init__(self, device: str | None = None):
        self.device = None if device in (None, "", "default") else device
        self.name = f"sounddevice:{device or 'default'}"
        self._stop = threading.Event()
        self.underflows = 0  # of the last play: gaps the listeners heard
        try:
            # PortAudio enumerates every device on first use (~80 ms through ALSA):
            # pay that when the sink is made, not at air time.
            import sounddevice  # noqa: F401
        except OSError:
            pass  # reported by play(), where it can be logged against the play

    def stop(self) -> None:
        self._stop.set()

    def play(self, samples: np.ndarray, rate: int, label: str, at: float | None = None) -> bool:
        """Open the stream early and feed silence, so the clip's first sample reaches the
        device at `at`, not whenever a fresh stream happens to start."""
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            raise SinkError(f"PortAudio unavailable: {exc}") from exc
        self._stop.clear()
        self.underflows = 0
        block = max(1, int(rate * self.BLOCK_S))
        try:
            with sd.OutputStream(samplerate=rate, channels=1, dtype="int16",
                                 device=self.device, latency=self.LATENCY_S) as stream:
                if at is not None:
                    while True:  # keep the stream fed with silence until the moment
                        lead = at - time.time() - stream.latency
                        if lead <= self.BLOCK_S * 1.5:
                            break
                        stream.write(np.zeros(block, dtype=np.int16))
                    lead = at - time.time() - stream.latency
                    if lead > 0:
                        stream.write(np.zeros(int(lead * rate), dtype=np.int16))
                pcm = np.ascontiguousarray(samples, dtype=np.int16)
                for start in range(0, len(pcm), block * 10):
                    if self._stop.is_set():
                        stream.abort()
                        return False
                    self.underflows += bool(stream.write(pcm[start : start + block * 10]))
                stream.write(np.zeros(int(rate * self.TAIL_S), dtype=np.int16))
        except sd.PortAudioError as exc:
            raise SinkError(f"PortAudioError: {exc}") from exc
        except (ValueError, OSError) as exc:  # unknown device name, device gone
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc
        return True


class WavDirSink:
    """Writes each play to a WAV file: what would have gone to the horns. It keeps real
    time (play() lasts as long as the clip, on the injected clock, and stop() cuts it
    short), so the log's durations and start times are true; `fast` (tests only) returns
    as soon as the file is written."""

    timed = False
    SLICE_S = 0.05  # how soon stop() is heard

    def __init__(self, folder: str | Path, clock: Clock | None = None, fast: bool = False):
        self.folder = Path(folder)
        self.clock = clock or SystemClock()
        self.fast = fast
        self.name = f"wav:{self.folder}"
        self.written: list[Path] = []
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def play(self, samples: np.ndarray, rate: int, label: str, at: float | None = None) -> bool:
        self._stop.clear()
        safe = re.sub(r"[^\w.-]+", "_", label, flags=re.ASCII).strip("_")[:120]
        path = self.folder / f"{safe}.wav"
        try:
            write_wav(path, samples, rate)
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc}") from exc
        self.written.append(path)
        if self.fast:
            return True
        # Counted down slice by slice as the clock saw it (a sleep may oversleep on a busy
        # machine); a slice the wall clock jumped across counts as asked.
        left = len(samples) / rate
        before = self.clock.now()
        while left > 0:
            if self._stop.is_set():
                return False
            step = min(self.SLICE_S, left)
            self.clock.sleep(step)
            now = self.clock.now()
            took = (now - before).total_seconds()
            before = now
            left -= took if step <= took <= 1.0 else step  # never less: it must end
        return True


def output_devices() -> list[str]:
    """Names of output devices PortAudio sees; empty when there is no sound at all."""
    try:
        import sounddevice as sd

        return [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
    except Exception:  # no PortAudio library, or no host API at all
        return []
