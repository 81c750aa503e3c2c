"""Broadcast loudness: ITU-R BS.1770 integrated loudness, true peak, and a limiter.

Gain alone cannot reach -16 LUFS on espeak-ng speech, which already peaks at 0 dBFS:
the peaks go through a look-ahead limiter, and gain and limiting are repeated until the
integrated loudness sits on the target with the true peak under the ceiling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import firwin, sosfilt, tf2sos

OVERSAMPLE = 4  # BS.1770-4 annex 2: 4x oversampling estimates the true peak at 44.1/48 kHz
# 48-tap interpolation filter, as in the annex: 12 taps per phase.
_H = firwin(48, 1.0 / OVERSAMPLE, window=("kaiser", 8.0)) * OVERSAMPLE
_DELAY = 6  # samples: the filter's centre (23.5 taps) at the original rate
MIN_SECONDS = 0.45  # BS.1770 gating needs at least one 400 ms block


@dataclass(frozen=True)
class Levels:
    lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float


@functools.lru_cache(maxsize=8)
def _k_weighting(rate: int) -> np.ndarray:
    """The K-weighting biquads for this rate, as pyloudnorm designs them, as one SOS."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    return np.vstack([tf2sos(f.b, f.a) for f in meter._filters.values()])


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """BS.1770-4 gated loudness of a mono signal, vectorised (pyloudnorm checks it in tests).

    400 ms blocks every 100 ms; absolute gate -70 LUFS, relative gate -10 LU.
    """
    if len(x) < MIN_SECONDS * rate:
        return float("-inf")
    z = sosfilt(_k_weighting(rate), np.asarray(x, dtype=np.float64))
    step = int(round(0.1 * rate))
    sub = len(z) // step
    power = np.mean(z[: sub * step].reshape(sub, step) ** 2, axis=1)
    blocks = np.convolve(power, np.ones(4) / 4, mode="valid")  # 4 x 100 ms = 400 ms
    if len(blocks) == 0:
        return float("-inf")
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10 * np.log10(blocks)
    above = blocks[loud > -70.0]
    if len(above) == 0:
        return float("-inf")
    relative = -0.691 + 10 * np.log10(above.mean()) - 10.0
    gated = blocks[(loud > -70.0) & (loud > relative)]
    return float(-0.691 + 10 * np.log10(gated.mean()))


_PHASES = _H.reshape(-1, OVERSAMPLE)  # [k, phase] = h[4k + phase]
_TAPS = _PHASES.shape[0]
# Band-limited speech overshoots between samples by well under this; only samples this
# close to the level that matters are interpolated.
_SEARCH_DB = 4.0


def true_peak(x: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Per-sample peak of the 4x oversampled signal (the inter-sample peaks included).

    Only around samples within _SEARCH_DB of `floor` (default: the sample peak) are the
    three points between samples computed, all at once as one matrix product.
    """
    x64 = np.asarray(x, dtype=np.float64)
    n = len(x64)
    peaks = np.abs(x64)
    if n == 0:
        return peaks
    level = float(peaks.max()) if floor is None else floor
    near = np.nonzero(peaks >= level * 10 ** (-_SEARCH_DB / 20))[0]
    if len(near) == 0:
        return peaks
    # u_p[m] = sum_k h[4k+p] x[m-k] peaks about _DELAY samples after the x it comes from
    m = np.unique(np.concatenate([near + d for d in (_DELAY - 1, _DELAY, _DELAY + 1)]))
    padded = np.concatenate([np.zeros(_TAPS), x64, np.zeros(_TAPS)])
    window = padded[m[:, None] - np.arange(_TAPS)[None, :] + _TAPS]
    between = np.abs(window @ _PHASES).max(axis=1)
    target = m - _DELAY
    ok = (target >= 0) & (target < n)
    peaks[target[ok]] = np.maximum(peaks[target[ok]], between[ok])
    return peaks


def db(v: float) -> float:
    return float(20 * np.log10(v)) if v > 0 else float("-inf")


def measure(x: np.ndarray, rate: int) -> Levels:
    if len(x) == 0:
        return Levels(float("-inf"), float("-inf"), float("-inf"))
    return Levels(integrated_lufs(x, rate), db(float(true_peak(x).max())),
                  db(float(np.abs(x).max())))


def limit(x: np.ndarray, rate: int, ceiling_dbtp: float, window_ms: float = 8.0) -> np.ndarray:
    """Look-ahead limiter: the gain falls smoothly before a peak and recovers after it.

    g = moving average (width L) of a moving minimum (width 2L) of the gain each sample
    needs; every average only mixes minima whose window holds the sample, so g never
    exceeds what that sample needs.
    """
    ceiling = 10 ** (ceiling_dbtp / 20)
    peaks = true_peak(x, floor=ceiling)
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    if need.min() >= 1.0:
        return x
    width = max(3, int(rate * window_ms / 1000) | 1)
    gain = minimum_filter1d(need, size=2 * width + 1, mode="nearest")
    gain = uniform_filter1d(gain, size=width, mode="nearest")
    return (x * gain).astype(np.float32)


def normalize(x: np.ndarray, rate: int, target_lufs: float = -16.0,
              ceiling_dbtp: float = -1.0) -> np.ndarray:
    """Bring x to target_lufs (within 0.1 LU) with its true peak at or under the ceiling."""
    if len(x) < MIN_SECONDS * rate or not np.any(x):
        return x.astype(np.float32)
    y = x.astype(np.float32)
    margin = ceiling_dbtp - 0.3  # the limiter's estimate is per sample; keep a little room
    lufs = integrated_lufs(y, rate)
    if not np.isfinite(lufs):
        return y
    for _ in range(8):
        y = (y * 10 ** ((target_lufs - lufs) / 20)).astype(np.float32)
        y = limit(y, rate, margin)
        lufs = integrated_lufs(y, rate)  # a pure gain moves loudness exactly; limiting not
        if abs(lufs - target_lufs) <= 0.1:
            break
    if db(float(true_peak(y).max())) > ceiling_dbtp:  # never leave over the ceiling
        y = limit(y, rate, margin - 0.5)
    return y
