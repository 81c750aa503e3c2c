"""The few filters production needs, without importing scipy.signal or scipy.ndimage.

`import scipy.signal` takes 1.4 s on this 2-core machine (it loads scipy.stats,
scipy.interpolate, scipy.optimize), scipy.ndimage 0.4 s: more than espeak-ng needs for a
whole bulletin. Filter designs are a few lines of numpy; the two loops numpy cannot do
fast (an IIR filter, a polyphase FIR) are scipy's own compiled kernels, loaded from their
files without the package around them. If that ever fails (another scipy layout), the
public scipy.signal functions are used: slower to import, same results.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@functools.cache
def _kernel(name: str):
    """scipy.signal's compiled module `name`, or None when it cannot be loaded alone."""
    try:
        spec = importlib.util.find_spec("scipy")
        folder = Path(spec.origin).parent / "signal"
        path = next(folder.glob(f"{name}.*.so"), None) or next(folder.glob(f"{name}.*.pyd"))
        spec = importlib.util.spec_from_file_location(f"scipy.signal.{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    except Exception:  # noqa: BLE001 - any layout problem: the public API below
        return None


def sosfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """scipy.signal.sosfilt for a 1-D float64 signal, zero initial state (a new array)."""
    sos = np.ascontiguousarray(sos, dtype=np.float64)
    kernel = _kernel("_sosfilt")
    if kernel is None:
        from scipy.signal import sosfilt as public

        return public(sos, np.asarray(x, dtype=np.float64))
    y = np.array(x, dtype=np.float64, order="C").reshape(1, -1)  # a copy, filtered in place
    try:
        kernel._sosfilt(sos, y, np.zeros((1, len(sos), 2)))
    except Exception:  # noqa: BLE001 - a private kernel whose signature moved: the public API
        from scipy.signal import sosfilt as public

        return public(sos, np.asarray(x, dtype=np.float64))
    return y.reshape(-1)


def biquad_sos(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """One second-order section [b0 b1 b2 1 a1 a2] (scipy's tf2sos of a biquad)."""
    b, a = np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64)
    return np.concatenate([b / a[0], a / a[0]])


def firwin_kaiser(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """scipy.signal.firwin(numtaps, cutoff, window=("kaiser", beta)): a windowed-sinc
    low-pass, cutoff relative to Nyquist, unity gain at DC."""
    m = np.arange(numtaps) - (numtaps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / h.sum()


@functools.lru_cache(maxsize=4)
def _double_taps(dtype: str) -> tuple[np.ndarray, np.floating]:
    """resample_poly's filter for 2x, split: the odd outputs' 20 taps (reversed, for a
    dot product), and the even outputs' one tap (a half-band sinc is zero at the others)."""
    h = firwin_kaiser(41, 0.5, 5.0) * 2
    assert np.abs(np.delete(h[0::2], 10)).max() < 1e-12
    return h[1::2][::-1].astype(dtype), np.dtype(dtype).type(h[20])


def _double(x: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """resample_poly(x, 2, 1): every even output is x itself (scaled), every odd one a
    20-tap dot product, done as matrix products over windows (numpy's vectorised loops
    rather than upfirdn's scalar one: about 30 % less time)."""
    odd, centre = _double_taps(x.dtype.str)
    n = len(x)
    padded = np.concatenate([np.zeros(10, x.dtype), x, np.zeros(10, x.dtype)])
    windows = sliding_window_view(padded, 20)
    out = np.empty(2 * n, dtype=x.dtype)
    np.multiply(x, centre, out=out[0::2])
    for start in range(0, n, chunk):  # bounded memory: a window matrix per chunk
        stop = min(n, start + chunk)
        out[2 * start + 1: 2 * stop: 2] = windows[start + 1: stop + 1] @ odd
    return out


def resample_poly(x: np.ndarray, up: int, down: int) -> np.ndarray:
    """scipy.signal.resample_poly(x, up, down) for a 1-D signal (Kaiser 5.0, zero pad)."""
    if (up, down) == (2, 1) and getattr(x, "dtype", None) in (np.float32, np.float64) \
            and len(x) > 20:
        return _double(np.ascontiguousarray(x))
    kernel = _kernel("_upfirdn_apply")
    if kernel is not None:
        try:
            return _upfirdn(kernel, x, up, down)
        except Exception:  # noqa: BLE001 - a private kernel whose signature moved
            pass
    from scipy.signal import resample_poly as public

    return public(x, up, down)


def _upfirdn(kernel, x: np.ndarray, up: int, down: int) -> np.ndarray:
    """resample_poly through scipy's compiled polyphase kernel, as scipy itself calls it."""
    x = np.asarray(x)
    dtype = np.result_type(x.dtype, np.float32)
    n_in = len(x)
    n_out = n_in * up // down + bool(n_in * up % down)
    half_len = 10 * max(up, down)
    h = firwin_kaiser(2 * half_len + 1, 1.0 / max(up, down), 5.0).astype(dtype) * up
    n_pre_pad = down - half_len % down
    n_pre_remove = (half_len + n_pre_pad) // down
    n_post_pad = 0
    while kernel._output_len(len(h) + n_pre_pad + n_post_pad, n_in, up, down) \
            < n_out + n_pre_remove:
        n_post_pad += 1
    h = np.concatenate([np.zeros(n_pre_pad, dtype), h, np.zeros(n_post_pad, dtype)])
    # scipy's _pad_h: the phases transposed and flipped, as the kernel reads them
    h_full = np.zeros(len(h) + (-len(h) % up), dtype)
    h_full[: len(h)] = h
    h_flip = np.ascontiguousarray(h_full.reshape(-1, up).T[:, ::-1].ravel())
    out = np.zeros(kernel._output_len(len(h), n_in, up, down), dtype=dtype)
    kernel._apply(np.asarray(x, dtype), h_flip, out, up, down, 0,
                  kernel.mode_enum("constant"), 0)
    return out[n_pre_remove: n_pre_remove + n_out]


def moving_max(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.maximum_filter1d(x, size, mode="nearest") for odd `size`, in O(n)
    (van Herk / Gil-Werman: running maxima within blocks of `size`, forwards and back)."""
    x = np.asarray(x)
    n, r = len(x), size // 2
    if n == 0:
        return x.copy()
    padded = np.concatenate([np.full(r, x[0]), x, np.full(r + (-(n + 2 * r) % size), x[-1])])
    blocks = padded.reshape(-1, size)
    ahead = np.maximum.accumulate(blocks, axis=1).ravel()  # max from block start to i
    behind = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()  # i to end
    # the window [i, i + size) of `padded` is centred on x[i]
    return np.maximum(behind[:n], ahead[size - 1: size - 1 + n])


def moving_mean(x: np.ndarray, size: int) -> np.ndarray:
    """scipy.ndimage.uniform_filter1d(x, size, mode="nearest") for odd `size`."""
    x = np.asarray(x, dtype=np.float64)
    n, r = len(x), size // 2
    if n == 0:
        return x.copy()
    padded = np.concatenate([np.full(r + 1, x[0]), x, np.full(r, x[-1])])
    total = np.cumsum(padded)
    return (total[size:] - total[:-size]) / size
