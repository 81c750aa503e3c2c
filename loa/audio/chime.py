"""The station chime, generated: two bell tones ("ting-tong") so none has to ship."""

from __future__ import annotations

import numpy as np


def make_chime(rate: int = 44100, level_dbfs: float = -6.0) -> np.ndarray:
    """About 1.6 s of a soft two-note bell, float32 in [-1, 1]."""

    def bell(freq: float, seconds: float) -> np.ndarray:
        t = np.arange(int(rate * seconds)) / rate
        partials = [(1.0, 1.0), (2.0, 0.35), (3.0, 0.12), (4.2, 0.06)]
        tone = sum(a * np.sin(2 * np.pi * freq * m * t) for m, a in partials)
        envelope = np.exp(-3.2 * t) * np.minimum(1.0, t / 0.005)  # 5 ms attack, no click
        return tone * envelope

    ding, dong = bell(784.0, 0.8), bell(659.25, 1.1)  # G5, E5
    out = np.zeros(len(ding) // 2 + len(dong))
    out[: len(ding)] += ding
    out[len(ding) // 2 :] += dong
    out *= 10 ** (level_dbfs / 20) / np.max(np.abs(out))
    return out.astype(np.float32)
