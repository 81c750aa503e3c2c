"""Turn engine speech into a broadcast clip: chime, intro, body, outro, levelled as one.

Each part is decoded, resampled and trimmed; sentences are joined with pauses; the
whole clip is then brought to the station's loudness (BS.1770) under a true-peak
ceiling, so every clip sounds equally loud on every horn.
"""

from __future__ import annotations

import functools
import io
from math import gcd

import numpy as np

from loa.audio import loudness
from loa.audio.chime import make_chime
from loa.audio.dsp import resample_poly, sosfilt
from loa.audio.settings import PRESETS, RATE, TRIM_KEEP_S, AudioSettings  # noqa: F401
from loa.audio.wav import parse_wav
from loa.voice.engine import Speech


def decode(speech: Speech, rate: int | None = RATE) -> np.ndarray:
    """Engine audio as mono float32 at `rate` (None: at the engine's own rate)."""
    x, src_rate = decode_native(speech)
    return x if rate is None else resample(x, src_rate, rate)


def decode_native(speech: Speech) -> tuple[np.ndarray, int]:
    """Engine audio as mono float32, and the rate the engine made it at."""
    if speech.format == "wav":
        pcm, src_rate, channels = parse_wav(speech.data)
        x = pcm[:, 0].astype(np.float32) if channels == 1 else \
            pcm.astype(np.float32).mean(axis=1, dtype=np.float32)
        x *= np.float32(1 / 32768.0)
        return x, src_rate
    from pydub import AudioSegment  # ffmpeg decodes MP3

    seg = AudioSegment.from_file(io.BytesIO(speech.data), format=speech.format)
    seg = seg.set_channels(1).set_sample_width(2)
    x = np.frombuffer(seg.raw_data, dtype="<i2").astype(np.float32) / 32768.0
    return x, seg.frame_rate


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Polyphase resampling (22.05/24 kHz engine output to the station rate)."""
    if src == dst or len(x) == 0:
        return x.astype(np.float32)
    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g).astype(np.float32, copy=False)


def trim_silence(x: np.ndarray, rate: int, threshold_dbfs: float, keep_s: float = TRIM_KEEP_S):
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


def horn_preset(x: np.ndarray, rate: int) -> np.ndarray:
    """Horn speakers reproduce roughly 250-4500 Hz: keep speech there and even it out."""
    from scipy.signal import butter  # only this preset pays for scipy.signal

    sos = butter(4, [250, 4500], btype="bandpass", fs=rate, output="sos")
    y = sosfilt(sos, x.astype(np.float64))
    # 3:1 above -26 dBFS on a 30 ms RMS envelope: quiet syllables carry outdoors.
    from scipy.ndimage import uniform_filter1d

    env = np.sqrt(uniform_filter1d(y**2, size=max(1, int(rate * 0.03))) + 1e-12)
    level = 20 * np.log10(env)
    over = np.maximum(0.0, level + 26.0)
    gain = 10 ** (-(over * (1 - 1 / 3.0)) / 20)
    return (y * gain).astype(np.float32)


def to_int16(x: np.ndarray) -> np.ndarray:
    y = np.multiply(x, 32767.0, dtype=np.result_type(x, np.float32))  # rounded in place
    np.round(y, out=y)
    return np.clip(y, -32768, 32767, out=y).astype(np.int16)


def speech_track(parts: list[Speech], settings: AudioSettings,
                 rate: int | None = None) -> np.ndarray:
    """Sentences, each trimmed, joined with a pause, at `rate` (default: the station's)."""
    rate = rate or settings.rate
    pause = np.zeros(int(rate * settings.sentence_gap_s), dtype=np.float32)
    out: list[np.ndarray] = []
    for speech in parts:
        x = trim_silence(decode(speech, rate), rate, settings.silence_threshold_dbfs)
        if len(x):
            if out:
                out.append(pause)
            out.append(x)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def assemble(body: list[Speech], settings: AudioSettings, intro: list[Speech] | None = None,
             outro: list[Speech] | None = None) -> np.ndarray:
    """chime, intro, body, outro as int16 mono, levelled to the station's loudness."""
    return assemble_measured(body, settings, intro, outro)[0]


@functools.lru_cache(maxsize=4)
def _chime(rate: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The chime, its K-weighted power and its loudness (the same in every clip)."""
    chime = make_chime(rate)
    power = loudness.k_weighted_power(chime, rate)
    return chime, power, loudness.power_lufs(power, rate)


def warm(rate: int) -> None:
    """Design the filters and the chime for this rate now, before the first clip."""
    loudness.k_weighted_power(np.zeros(1, dtype=np.float32), rate)
    _chime(rate)


def assemble_measured(body: list[Speech], settings: AudioSettings,
                      intro: list[Speech] | None = None, outro: list[Speech] | None = None
                      ) -> tuple[np.ndarray, loudness.Levels]:
    """assemble, and the clip's levels as measured once it was levelled.

    The clip is put together and levelled at the engine's own rate (espeak-ng: 22.05 kHz,
    half the samples to filter), then resampled once to the station's rate, where the
    levels are verified. Each part is K-weighted once, to level it; the clip's own
    measurement is those measurements put end to end (K-weighting is linear, and 0.6 s of
    silence between parts empties the filters), unless the horn preset filters the clip."""
    rate = decode_native(body[0])[1] if body else settings.rate
    if rate < 16000:  # too narrow for the chime's partials and the horn's band
        rate = settings.rate
    speech = speech_track(body, settings, rate)
    if len(speech) == 0:
        raise ValueError("the engine returned silence")
    gap = np.zeros(int(rate * settings.part_gap_s), dtype=np.float32)
    # Level each spoken part alike first, so the intro is not louder than the body.
    speech_power = loudness.k_weighted_power(speech, rate)
    ref = loudness.power_lufs(speech_power, rate)
    parts: list[np.ndarray] = []
    powers: list[np.ndarray] = []
    quiet = np.zeros(len(gap))

    def add(part: np.ndarray, power: np.ndarray, gain_db: float) -> None:
        gain = 10 ** (gain_db / 20) if np.isfinite(gain_db) else 1.0
        parts.extend([part * np.float32(gain), gap])
        powers.extend([power * gain**2, quiet])

    if settings.chime:
        chime, chime_power, chime_lufs = _chime(rate)
        add(chime, chime_power, ref - chime_lufs - 3)  # a bit under the voice
    for words in (intro or [], None, outro or []):  # None marks the body's place
        if words is None:
            add(speech, speech_power, 0.0)
            continue
        part = speech_track(words, settings, rate) if words else None
        if part is None or len(part) == 0:
            continue
        power = loudness.k_weighted_power(part, rate)
        add(part, power, ref - loudness.power_lufs(power, rate))
    clip = np.concatenate(parts)
    clip_power: np.ndarray | None = np.concatenate(powers)
    if settings.preset == "horn":
        clip, clip_power = horn_preset(clip, rate), None
    clip, levels = loudness.normalize_measured(
        clip, rate, settings.target_lufs, settings.ceiling_dbtp, power=clip_power,
        out_rate=settings.rate, resample=resample)
    samples = to_int16(clip)
    if levels is None:  # too short or silent to level: say what it is
        levels = loudness.measure(samples.astype(np.float32) / 32767.0, settings.rate)
    return samples, levels
