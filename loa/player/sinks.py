"""Where audio goes: a sound device, or WAV files on a machine without one."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
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
    """Plays through PortAudio, placing the clip's first sample on the device at `at`.

    The lead-in is counted in frames inside the stream callback, from the time PortAudio
    says each buffer reaches the DAC (`outputBufferDacTime`): that is the driver's measured
    delay (ALSA's snd_pcm_delay; through PulseAudio it includes the sink's own latency),
    where `stream.latency` is only the buffer PortAudio asked for: trusting that left every
    start late by what lies below it (through ALSA-pulse: 7 ms as the null sink's monitor
    heard it, 17 ms by the sink's own account of when it plays)."""

    timed = True  # play(at=...) itself starts on the dot
    # Closing a PortAudio stream drops its last partial buffer (measured through the
    # ALSA pulse plugin: ~23 ms zeroed), so a short silence follows every clip.
    TAIL_S = 0.2
    # PortAudio's "low" is ~9 ms through ALSA-pulse: one busy moment of a Pi (or a CI box)
    # and the horns hear a gap. 100 ms of buffer rides that out; start times stay exact
    # because the first sample is placed by the DAC time of each buffer, not by this.
    LATENCY_S = 0.1
    # How long past its expected end a play may run before the stream counts as stalled.
    STALL_S = 10.0

    def __init__(self, device: str | None = None, clock: Clock | None = None):
        self.device = None if device in (None, "", "default") else device
        self.name = f"sounddevice:{device or 'default'}"
        self.clock: Clock = clock or SystemClock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by stop() or when the stream has finished
        self.underflows = 0  # of the last play: gaps the listeners heard
        # Of the last timed play, for the log and the benchmark: the output delay the
        # driver reported for the first sample, and how far (frame rounding, or a start
        # asked for too late) its DAC time fell from `at`.
        self.measured_latency_s: float | None = None
        self.placement_error_s: float | None = None
        # PortAudio enumerates every device on first use (~80 ms through ALSA), and the
        # first stream of a process loads ALSA's plugins and connects (0.45 s through
        # ALSA-pulse on a loaded 2-core box, longer than the daemon's 0.3 s of lead-in;
        # 2 ms after). Pay both when the sink is made, not at air time: open, never start.
        try:
            import sounddevice as sd

            sd.OutputStream(channels=1, dtype="int16", device=self.device,
                            latency=self.LATENCY_S).close()
        except Exception:  # noqa: BLE001 - no PortAudio, no such device: play() says which
            pass

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def play(self, samples: np.ndarray, rate: int, label: str, at: float | None = None) -> bool:
        """Open the stream early and feed silence, so the clip's first sample reaches the
        device at `at` (epoch seconds on the sink's clock), not whenever a fresh stream
        happens to start."""
        try:
            import sounddevice as sd
        except OSError as exc:  # PortAudio library missing
            raise SinkError(f"PortAudio unavailable: {exc}") from exc
        self._stop.clear()
        self._wake.clear()
        self.underflows = 0
        self.measured_latency_s = self.placement_error_s = None
        pcm = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        feed = _Feed(sd, pcm, int(rate * self.TAIL_S), timed=at is not None, rate=rate)
        try:
            stream = sd.OutputStream(samplerate=rate, channels=1, dtype="int16",
                                     device=self.device, latency=self.LATENCY_S,
                                     callback=feed.callback, finished_callback=self._wake.set)
            with stream:  # starts it; closes it however we leave
                lead = 0.0
                if at is not None:
                    offset = self._stream_offset(stream)
                    feed.nominal_latency = stream.latency
                    feed.stream_now = lambda: self.clock.now().timestamp() - offset
                    feed.target = at - offset  # the callback reads it from here on
                    lead = max(0.0, at - self.clock.now().timestamp())
                budget = lead + len(pcm) / rate + self.TAIL_S + self.LATENCY_S + self.STALL_S
                if not self._wake.wait(budget):
                    stream.abort()
                    raise SinkError(f"stream stalled: {label} not finished after {budget:.0f} s")
                if self._stop.is_set():
                    stream.abort()
                    return False
                if feed.error is not None:
                    raise SinkError(f"playback failed: {feed.error!r}")
                if not feed.done:  # PortAudio gave up on its own (device gone mid-play)
                    raise SinkError(f"stream ended early: {label}")
        except sd.PortAudioError as exc:
            raise SinkError(f"PortAudioError: {exc}") from exc
        except (ValueError, OSError) as exc:  # unknown device name, device gone
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc
        self.underflows = feed.underflows
        self.measured_latency_s = feed.latency
        if feed.placed is not None:
            self.placement_error_s = feed.placed - feed.target
        return True

    def _stream_offset(self, stream) -> float:
        """clock time minus stream time (PortAudio's clock, in which DAC times are given),
        from the tightest of a few paired readings."""
        best = None
        for _ in range(5):
            before = self.clock.now().timestamp()
            t = stream.time
            after = self.clock.now().timestamp()
            if best is None or after - before < best[0]:
                best = (after - before, (before + after) / 2 - t)
        return best[1]


class _Feed:
    """The stream callback's state: silence until the target frame, the clip, the tail.
    Runs on PortAudio's thread: no allocation beyond slicing, no locks, never raises
    anything but the stop signals (an error is kept for play() to report)."""

    def __init__(self, sd, pcm: np.ndarray, tail: int, timed: bool, rate: int):
        self.sd = sd  # imported by play(): PortAudio may be missing on this machine
        self.pcm, self.tail, self.timed, self.rate = pcm, tail, timed, rate
        self.target: float | None = None  # stream time of the first sample, set by play()
        self.nominal_latency = 0.0  # stream.latency, set by play()
        self.stream_now: Callable[[], float] = lambda: 0.0  # from play()'s clock
        self.untimed = 0  # callbacks in a row that came without a DAC time
        self.pos: int | None = None  # next clip frame; None until the clip has begun
        self.underflows = 0
        self.latency: float | None = None
        self.placed: float | None = None  # DAC time given to the first sample
        self.error: BaseException | None = None
        self.done = False  # clip and tail handed over

    def callback(self, out: np.ndarray, frames: int, time_info, status) -> None:
        sd = self.sd
        try:
            first = 0
            if self.pos is None:
                if self.timed:
                    if self.target is None:
                        out.fill(0)
                        return
                    dac, now = time_info.outputBufferDacTime, time_info.currentTime
                    if 0 < now <= dac:
                        self.untimed = 0
                    else:  # no timing for the first buffer of a stream
                        self.untimed += 1
                        if self.untimed <= 2:
                            out.fill(0)
                            return
                        # a host API that never gives it: trust its nominal latency
                        now = now if now > 0 else self.stream_now()
                        dac = now + self.nominal_latency
                    first = max(0, round((self.target - dac) * self.rate))
                    if first >= frames:
                        out.fill(0)
                        return
                    self.latency = dac - now
                    self.placed = dac + first / self.rate
                out[:first].fill(0)
                self.pos = 0
            elif status.output_underflow:
                self.underflows += 1
            n = min(frames - first, len(self.pcm) - self.pos)
            out[first : first + n, 0] = self.pcm[self.pos : self.pos + n]
            out[first + n :].fill(0)
            self.pos += n
            if self.pos >= len(self.pcm):
                self.tail -= frames - first - n
                if self.tail <= 0:
                    self.done = True
                    raise sd.CallbackStop  # PortAudio plays out what it holds, then stops
        except (sd.CallbackStop, sd.CallbackAbort):
            raise
        except Exception as exc:  # noqa: BLE001 - reported by play(), not lost on this thread
            self.error = exc
            raise sd.CallbackAbort from exc


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
