"""Turn engine speech into a broadcast clip: trimmed, levelled, with chime and intro."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from loa.audio.chime import make_chime
from loa.audio.wav import parse_wav
from loa.voice.engine import Speech

RATE = 44100


@dataclass(frozen=True)
class AudioSettings:
    rate: int = RATE
    target_rms_dbfs: float = -20.0  # speech level; replaced by LUFS targeting later
    peak_dbfs: float = -1.0  # never louder than this: espeak already peaks at 0 dBFS
    chime: bool = True
    gap_s: float = 0.5
    silence_threshold_dbfs: float = -45.0

    def fingerprint(self) -> str:
        return (
            f"rate={self.rate};rms={self.target_rms_dbfs};peak={self.peak_dbfs};"
            f"chime={self.chime};gap={self.gap_s};v1"
        )


def decode(speech: Speech, rate: int = RATE) -> np.ndarray:
    """Engine audio as mono float32 at `rate`."""
    if speech.format == "wav":
        pcm, src_rate, channels = parse_wav(speech.data)
        x = pcm.astype(np.float32).mean(axis=1) / 32768.0
    else:
        from pydub import AudioSegment  # ffmpeg decodes MP3

        seg = AudioSegment.from_file(io.BytesIO(speech.data), format=speech.format)
        seg = seg.set_channels(1).set_sample_width(2)
        src_rate = seg.frame_rate
        x = np.frombuffer(seg.raw_data, dtype="<i2").astype(np.float32) / 32768.0
    return resample(x, src_rate, rate)


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(x) == 0:
        return x.astype(np.float32)
    # Band-limited enough for speech at the 22.05/24 kHz rates engines produce.
    n = int(round(len(x) * dst / src))
    t = np.arange(n) * (src / dst)
    return np.interp(t, np.arange(len(x)), x).astype(np.float32)


def trim_silence(x: np.ndarray, rate: int, threshold_dbfs: float, keep_s: float = 0.05):
    """Cut leading/trailing stretches below the threshold, keeping a short margin."""
    if len(x) == 0:
        return x
    win = max(1, int(rate * 0.01))
    n = len(x) // win
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * win].reshape(n, win) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms) > threshold_dbfs)[0]
    if len(loud) == 0:
        return x[:0]
    keep = int(rate * keep_s)
    start = max(0, loud[0] * win - keep)
    end = min(len(x), (loud[-1] + 1) * win + keep)
    return x[start:end]


def level(x: np.ndarray, target_rms_dbfs: float, peak_dbfs: float) -> np.ndarray:
    """Gain towards the target speech level, capped so peaks stay under peak_dbfs."""
    if len(x) == 0:
        return x
    rms = float(np.sqrt(np.mean(x**2)))
    peak = float(np.max(np.abs(x)))
    if rms <= 0 or peak <= 0:
        return x
    gain = 10 ** (target_rms_dbfs / 20) / rms
    gain = min(gain, 10 ** (peak_dbfs / 20) / peak)
    return (x * gain).astype(np.float32)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)


def assemble(body: Speech, intro: Speech | None, settings: AudioSettings) -> np.ndarray:
    """chime, intro, body, as int16 mono at settings.rate."""
    rate = settings.rate
    gap = np.zeros(int(rate * settings.gap_s), dtype=np.float32)
    parts: list[np.ndarray] = []
    if settings.chime:
        parts += [make_chime(rate), gap]
    if intro is not None:
        spoken = trim_silence(decode(intro, rate), rate, settings.silence_threshold_dbfs)
        parts += [level(spoken, settings.target_rms_dbfs, settings.peak_dbfs), gap]
    speech = trim_silence(decode(body, rate), rate, settings.silence_threshold_dbfs)
    if len(speech) == 0:
        raise ValueError("the engine returned silence")
    parts += [level(speech, settings.target_rms_dbfs, settings.peak_dbfs), gap]
    return to_int16(np.concatenate(parts))
