"""Broadcast loudness: ITU-R BS.1770 integrated loudness, true peak, and a limiter.

Gain alone cannot reach -16 LUFS on espeak-ng speech, which already peaks at 0 dBFS: the
peaks go through a look-ahead limiter. Normalization is single-pass: the K-weighted signal
is measured once, the gain that lands on the target *after* limiting is solved on that
measurement (the limiter's gain curve is slow next to the K-weighting filter, so weighting
then limiting is almost limiting then weighting), the gain and one limiter pass are
applied, and one more measurement only verifies (a pure gain corrects what is left).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from loa.audio.dsp import biquad_sos, firwin_kaiser, moving_max, moving_mean, sosfilt

OVERSAMPLE = 4  # BS.1770-4 annex 2: 4x oversampling estimates the true peak at 44.1/48 kHz
# 48-tap interpolation filter, as in the annex: 12 taps per phase.
_H = firwin_kaiser(48, 1.0 / OVERSAMPLE, 8.0) * OVERSAMPLE
_DELAY = 6  # samples: the filter's centre (23.5 taps) at the original rate
MIN_SECONDS = 0.45  # BS.1770 gating needs at least one 400 ms block
LIKELY_LIMITING_DB = 3.0  # the gain the limiter takes back from espeak-ng/gTTS speech, at most
MAX_LIMITING_DB = 12.0  # the most it may take back to reach the target
_LIMIT_MARGIN_DB = 0.3  # the limiter's estimate is per sample: keep a little room
_TOLERANCE_LU = 0.1
_SOLVE_LU = 0.03  # the solved gain's aim; the verify allows _TOLERANCE_LU
_RESAMPLE_ALLOWANCE_DB = 0.1  # what resampling may add to a verified true peak


@dataclass(frozen=True)
class Levels:
    lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float

    def gained(self, gain_db: float) -> Levels:
        """The levels after a pure gain: every level moves by exactly that much."""
        return Levels(self.lufs + gain_db, self.true_peak_dbtp + gain_db,
                      self.sample_peak_dbfs + gain_db)


@functools.lru_cache(maxsize=8)
def _k_weighting(rate: int) -> np.ndarray:
    """The K-weighting biquads for this rate as pyloudnorm designs them (RBJ cookbook: a
    +4 dB shelf at 1500 Hz, Q 1/sqrt 2, then a 38 Hz high-pass, Q 0.5), as one SOS."""
    amp, w0 = 10 ** (4.0 / 40.0), 2.0 * np.pi * 1500.0 / rate
    cos, k = np.cos(w0), 2.0 * np.sqrt(amp) * np.sin(w0) / (2.0 / np.sqrt(2))
    shelf = biquad_sos([amp * ((amp + 1) + (amp - 1) * cos + k),
                        -2 * amp * ((amp - 1) + (amp + 1) * cos),
                        amp * ((amp + 1) + (amp - 1) * cos - k)],
                       [(amp + 1) - (amp - 1) * cos + k, 2 * ((amp - 1) - (amp + 1) * cos),
                        (amp + 1) - (amp - 1) * cos - k])
    w0 = 2.0 * np.pi * 38.0 / rate
    cos, alpha = np.cos(w0), np.sin(w0) / (2.0 * 0.5)
    high_pass = biquad_sos([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2],
                           [1 + alpha, -2 * cos, 1 - alpha])
    return np.vstack([shelf, high_pass])


def k_weighted_power(x: np.ndarray, rate: int) -> np.ndarray:
    """The K-weighted signal, squared (in place: these arrays are long)."""
    z = sosfilt(_k_weighting(rate), x)  # a float64 copy, filtered
    return np.square(z, out=z)


def _sub_block_power(z2: np.ndarray, rate: int) -> np.ndarray:
    """Mean square of each 100 ms step of the squared K-weighted signal."""
    step = int(round(0.1 * rate))
    sub = len(z2) // step
    return z2[: sub * step].reshape(sub, step).mean(axis=1)


def _gated_lufs(power: np.ndarray) -> float:
    """BS.1770-4 gating on 100 ms powers: 400 ms blocks every 100 ms; absolute gate
    -70 LUFS, relative gate -10 LU."""
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


def power_lufs(power: np.ndarray, rate: int) -> float:
    """Gated loudness from the K-weighted power (k_weighted_power)."""
    if len(power) < MIN_SECONDS * rate:
        return float("-inf")
    return _gated_lufs(_sub_block_power(power, rate))


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """BS.1770-4 gated loudness of a mono signal, vectorised (pyloudnorm checks it in tests)."""
    if len(x) < MIN_SECONDS * rate:
        return float("-inf")
    return power_lufs(k_weighted_power(x, rate), rate)


_PHASES = _H.reshape(-1, OVERSAMPLE)  # [k, phase] = h[4k + phase]
_TAPS = _PHASES.shape[0]
# Band-limited speech overshoots between samples by well under this; only samples this
# close to the level that matters are interpolated.
_SEARCH_DB = 4.0


def _rows(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Row m+1 of the windows of x zero-padded by _TAPS on both sides, for each m: read
    backwards, x[m], x[m-1], ... Views of x itself, but at the two ends (no padded copy)."""
    n = len(x)
    pad = np.zeros(_TAPS, dtype=x.dtype)
    if n < 2 * _TAPS:
        return sliding_window_view(np.concatenate([pad, x, pad]), _TAPS)[m + 1]
    out = np.empty((len(m), _TAPS), dtype=x.dtype)
    inner = (m + 1 >= _TAPS) & (m + 1 <= n)
    out[inner] = sliding_window_view(x, _TAPS)[m[inner] + 1 - _TAPS]
    head = m + 1 < _TAPS
    if head.any():
        out[head] = sliding_window_view(np.concatenate([pad, x[:_TAPS]]), _TAPS)[m[head] + 1]
    tail = m + 1 > n
    if tail.any():
        out[tail] = sliding_window_view(np.concatenate([x[n - _TAPS:], pad]),
                                        _TAPS)[m[tail] + 1 - n]
    return out


def true_peak(x: np.ndarray, floor: float | None = None) -> np.ndarray:
    """Per-sample peak of the 4x oversampled signal (the inter-sample peaks included).

    Only around local maxima of |x| within _SEARCH_DB of `floor` (default: the sample
    peak) are the three points between samples computed, all at once as one matrix product.
    """
    x = np.asarray(x)
    n = len(x)
    peaks = np.abs(x)  # in x's own dtype: float32 clips stay float32 (half the memory)
    if n == 0:
        return peaks
    level = float(peaks.max()) if floor is None else floor
    # An inter-sample peak sits beside a sample that is a local maximum of |x|: only
    # those are looked around (a third or less of the loud samples of speech).
    near = peaks >= level * 10 ** (-_SEARCH_DB / 20)
    near[1:] &= peaks[1:] >= peaks[:-1]
    near[:-1] &= peaks[:-1] >= peaks[1:]
    near = np.flatnonzero(near)
    if len(near) == 0:
        return peaks
    # u_p[m] = sum_k h[4k+p] x[m-k] peaks about _DELAY samples after the x it comes from;
    # a mask, not np.unique, marks each output once (neighbours overlap).
    wanted = np.zeros(n + _DELAY + 2, dtype=bool)
    for d in (_DELAY - 1, _DELAY, _DELAY + 1):
        wanted[near + d] = True
    m = np.flatnonzero(wanted)
    between = np.abs(_rows(x, m).astype(np.float64) @ _PHASES[::-1]).max(axis=1)
    target = m - _DELAY
    ok = (target >= 0) & (target < n)
    peaks[target[ok]] = np.maximum(peaks[target[ok]], between[ok])
    return peaks


def db(v: float) -> float:
    return float(20 * np.log10(v)) if v > 0 else float("-inf")


def measure(x: np.ndarray, rate: int) -> Levels:
    if len(x) == 0:
        return Levels(float("-inf"), float("-inf"), float("-inf"))
    sample_peak = max(float(np.max(x)), -float(np.min(x)))
    return Levels(integrated_lufs(x, rate), db(float(true_peak(x, sample_peak).max())),
                  db(sample_peak))


class _Limiter:
    """Look-ahead limiter whose gain curve is known for any input gain g, from one
    true-peak pass: the gain falls smoothly before a peak and recovers after it.

    curve(g) = moving average (width L) of the gain each sample needs, taken as its
    minimum over 2L+1 samples; every average only mixes minima whose window holds the
    sample, so the curve never exceeds what that sample needs. The minimum of
    min(1, c / (g p)) is min(1, c / (g max p)): one moving maximum serves every g.
    Only the stretches where the curve can dip under 1 are kept, with margins wide enough
    that the moving average there sees what it would in the whole signal.
    """

    def __init__(self, x: np.ndarray, rate: int, ceiling: float, max_gain: float,
                 window_ms: float = 8.0):
        self.ceiling = ceiling
        self.width = max(3, int(rate * window_ms / 1000) | 1)
        peaks = true_peak(x, floor=ceiling / max_gain)
        reach = 2 * self.width + 2  # the moving maximum, then the moving average
        level = ceiling / max_gain
        hot = np.flatnonzero(peaks > level)
        self.index = np.zeros(0, dtype=np.intp)
        self.loudest = np.zeros(0)
        if len(hot) == 0:
            return
        # [h - reach, h + reach] around every hot sample, overlapping ones merged
        breaks = np.flatnonzero(np.diff(hot) > 2 * reach + 1)
        starts = np.maximum(hot[np.r_[0, breaks + 1]] - reach, 0)
        ends = np.minimum(hot[np.r_[breaks, len(hot) - 1]] + reach + 1, len(peaks))
        lengths = ends - starts
        offsets = np.cumsum(lengths) - lengths
        self.index = np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())
        # Only the hot peaks can ask for less than unity gain; runs of the index are
        # reach apart from any hot sample, so the moving maximum never mixes two runs.
        near = peaks[self.index]
        loud = np.where(near > level, near, 0.0)
        self.loudest = moving_max(loud, 2 * self.width + 1)

    def curve(self, gain: float) -> np.ndarray:
        """The limiter's gain at self.index for input gain `gain` (elsewhere 1)."""
        if len(self.index) == 0:
            return np.ones(0)
        need = np.minimum(1.0, self.ceiling / np.maximum(gain * self.loudest, 1e-12))
        return moving_mean(need, self.width)


def _solve_gain(z2: np.ndarray, lim: _Limiter, rate: int, target_lufs: float,
                g0: float, max_gain: float) -> float:
    """The input gain whose limited output measures target_lufs, on the K-weighted
    measurement already made (no filtering): a few secant steps on block powers."""
    step = int(round(0.1 * rate))
    base = _sub_block_power(z2, rate)
    inside = lim.index < len(base) * step  # the tail after the last full step is not measured
    where, energy = lim.index[inside] // step, z2[lim.index[inside]]

    def predicted(g: float) -> float:
        lost = energy * (1.0 - lim.curve(g)[inside] ** 2)
        power = base - np.bincount(where, weights=lost, minlength=len(base)) / step
        return _gated_lufs(np.maximum(power, 0.0)) + 20 * np.log10(g)

    lo, lo_err = g0, predicted(g0) - target_lufs
    if abs(lo_err) <= _SOLVE_LU or not np.isfinite(lo_err):
        return g0
    g = min(max_gain, g0 * 10 ** (-lo_err / 20))
    for _ in range(4):
        err = predicted(g) - target_lufs
        if abs(err) <= _SOLVE_LU or g >= max_gain:
            break
        slope = (err - lo_err) / (20 * np.log10(g / lo)) if g != lo else 1.0
        lo, lo_err = g, err
        g = min(max_gain, g * 10 ** (-err / max(slope, 0.05) / 20))
    return g


def normalize_measured(x: np.ndarray, rate: int, target_lufs: float = -16.0,
                       ceiling_dbtp: float = -1.0, power: np.ndarray | None = None,
                       out_rate: int | None = None,
                       resample: Callable[[np.ndarray, int, int], np.ndarray] | None = None
                       ) -> tuple[np.ndarray, Levels | None]:
    """x at target_lufs (within 0.1 LU) with its true peak at or under the ceiling, and
    its measured levels (None when too short or silent to measure).

    power: x's K-weighted power when the caller has it (else it is measured here).
    out_rate: the rate to return (resample(x, rate, out_rate) makes it); everything is
    worked out and measured at `rate`, the levels returned are those."""
    y = np.asarray(x, dtype=np.float32)
    out_rate = out_rate or rate

    def converted(v: np.ndarray) -> np.ndarray:
        return v if out_rate == rate else resample(v, rate, out_rate)

    if len(y) < MIN_SECONDS * rate or not np.any(y):
        return converted(y), None
    # the one measurement the gain is solved on
    z2 = power if power is not None and len(power) == len(y) else k_weighted_power(y, rate)
    lufs = _gated_lufs(_sub_block_power(z2, rate))
    if not np.isfinite(lufs):
        return converted(y), None
    g0 = 10 ** ((target_lufs - lufs) / 20)
    ceiling = 10 ** ((ceiling_dbtp - _LIMIT_MARGIN_DB) / 20)
    # The limiter looks only at peaks it could have to touch; speech needs 1-2 dB of it,
    # a signal that needs more than LIKELY_LIMITING_DB is looked at again, more widely.
    for reach_db in (LIKELY_LIMITING_DB, MAX_LIMITING_DB):
        max_gain = g0 * 10 ** (reach_db / 20)
        lim = _Limiter(y, rate, ceiling, max_gain)
        g = _solve_gain(z2, lim, rate, target_lufs, g0, max_gain)
        if g < max_gain:
            break
    out = y * np.float32(g)
    if len(lim.index):
        out[lim.index] *= lim.curve(g).astype(np.float32)
    # Verify at the rate levelled at (resampling band-limited speech moves its loudness by
    # about +0.003 LU and its true peak by about +0.02 dB: measured, and allowed for below).
    levels = measure(out, rate)
    fix = target_lufs - levels.lufs if abs(target_lufs - levels.lufs) > _TOLERANCE_LU else 0.0
    room = _RESAMPLE_ALLOWANCE_DB if out_rate != rate else 0.0
    fix = min(fix, ceiling_dbtp - room - levels.true_peak_dbtp)  # never over the ceiling
    if fix != 0.0:
        out *= np.float32(10 ** (fix / 20))
        levels = levels.gained(fix)
    return converted(out), levels


def normalize(x: np.ndarray, rate: int, target_lufs: float = -16.0,
              ceiling_dbtp: float = -1.0) -> np.ndarray:
    """Bring x to target_lufs (within 0.1 LU) with its true peak at or under the ceiling."""
    return normalize_measured(x, rate, target_lufs, ceiling_dbtp)[0]
