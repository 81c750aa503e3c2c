"""Where audio goes: a sound device, or WAV files on a machine without one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import numpy as np

from loa.audio.wav import write_wav


class SinkError(Exception):
    """The output could not play (device gone, busy, PortAudio missing)."""


class Sink(Protocol):
    name: str

    def play(self, samples: np.ndarray, rate: int, label: str) -> None:
        """Block until the audio has been handed over completely."""


class SoundDeviceSink:
    # Closing a PortAudio stream drops its last partial buffer (measured through the
    # ALSA pulse plugin: ~23 ms zeroed), so a short silence follows every clip.
    TAIL_S = 0.2

    def __init__(self, device: str | None = None):
        self.device = None if device in (None, "", "default") else device
        self.name = f"sounddevice:{device or 'default'}"
        try:
            # PortAudio enumerates every device on first use (~80 ms through ALSA):
            # pay that when the sink is made, not at air time.
            import sounddevice  # noqa: F401
        except OSError:
            pass  # reported by play(), where it can be logged against the play

    def play(self, samples: np.ndarray, rate: int, label: str) -> None:
        try:
            import sounddevice as sd

            tail = np.zeros(int(rate * self.TAIL_S), dtype=samples.dtype)
            sd.play(np.concatenate([samples, tail]), rate, device=self.device, blocking=True)
        except OSError as exc:  # PortAudio library missing
            raise SinkError(f"PortAudio unavailable: {exc}") from exc
        except Exception as exc:  # sd.PortAudioError, ValueError for unknown device names
            raise SinkError(f"{type(exc).__name__}: {exc}") from exc


class WavDirSink:
    """Writes each play to a WAV file: what would have gone to the horns."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.name = f"wav:{self.folder}"
        self.written: list[Path] = []

    def play(self, samples: np.ndarray, rate: int, label: str) -> None:
        safe = re.sub(r"[^\w.-]+", "_", label, flags=re.ASCII).strip("_")[:120]
        path = self.folder / f"{safe}.wav"
        try:
            write_wav(path, samples, rate)
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc}") from exc
        self.written.append(path)


def output_devices() -> list[str]:
    """Names of output devices PortAudio sees; empty when there is no sound at all."""
    try:
        import sounddevice as sd

        return [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
    except Exception:  # no PortAudio library, or no host API at all
        return []
