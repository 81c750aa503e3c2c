"""How well a listener would understand a clip, measured by a speech recogniser.

Round trip: audio -> (optionally) a horn-like channel -> the offline Vietnamese
recogniser `vietasr` (the `eval` extra) -> word error rate against what was meant.
Used by benchmarks/intelligibility.py; nothing on the air path imports it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

ASR_RATE = 16000  # what the recogniser takes
TONES = "\u0300\u0301\u0303\u0309\u0323"  # huyền, sắc, ngã, hỏi, nặng (combining)
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def _syllable_key(word: str) -> str:
    """A syllable with its tone mark moved to the end: 'hòa' and 'hoà', 'thủy' and
    'thuỷ' (old and new placement) become the same key."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in TONES]
    base = "".join(c for c in decomposed if c not in TONES)
    return unicodedata.normalize("NFC", base) + "".join(tones[:1])


def normalize_words(text: str) -> list[str]:
    """Words as WER compares them: NFC, lowercase, punctuation out, tone placement equal."""
    text = unicodedata.normalize("NFC", text).lower().replace("_", " ")
    text = _PUNCT.sub(" ", text)
    return [_syllable_key(w) for w in text.split()]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions, deletions, insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance (0 = every word right; may exceed 1)."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """WER over many utterances: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        ref, hyp = normalize_words(reference), normalize_words(hypothesis)
        edits += edit_distance(ref, hyp)
        words += len(ref)
    return edits / words if words else 0.0


HORN_BAND_HZ = (300, 3400)


def horn_parts(x: np.ndarray, rate: int, seed: int = 0, snr_db: float = 15.0,
               rt60_s: float = 0.5, wet: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """The horn channel's two parts before they are added: the speech as the lane hears
    it (band-passed, with the yard's reverb) and the noise, `snr_db` below it."""
    from scipy.signal import butter, fftconvolve, sosfilt

    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return x.copy(), x.copy()
    sos = butter(4, HORN_BAND_HZ, btype="bandpass", fs=rate, output="sos")
    y = sosfilt(sos, x)
    n_ir = int(rt60_s * rate)
    t = np.arange(n_ir) / rate
    ir = rng.standard_normal(n_ir) * np.exp(-6.91 * t / rt60_s)  # -60 dB at rt60
    ir /= np.sqrt(np.sum(ir ** 2)) or 1.0
    rev = fftconvolve(y, ir)[: len(y)]
    y = (1 - wet) * y + wet * rev
    noise = sosfilt(sos, rng.standard_normal(len(y)))  # horn noise is in the horn's band too
    speech_power, noise_power = float(np.mean(y ** 2)), float(np.mean(noise ** 2))
    if speech_power > 0 and noise_power > 0:
        noise *= np.sqrt(speech_power / noise_power / 10 ** (snr_db / 10))
    else:
        noise[:] = 0.0  # silence stays silence: no speech to set the noise against
    return y, noise


def horn_channel(x: np.ndarray, rate: int, seed: int = 0, snr_db: float = 15.0,
                 rt60_s: float = 0.5, wet: float = 0.35) -> np.ndarray:
    """A village horn heard from the lane: band-pass 300-3400 Hz, a reverberant yard,
    and noise at `snr_db` below the speech. Deterministic for a given seed."""
    speech, noise = horn_parts(x, rate, seed, snr_db, rt60_s, wet)
    y = speech + noise
    peak = np.max(np.abs(y)) if len(y) else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def to_asr_pcm(x: np.ndarray, rate: int) -> np.ndarray:
    """Mono float in [-1, 1] at any rate -> int16 at the recogniser's 16 kHz."""
    from loa.audio.produce import resample

    y = resample(np.asarray(x, dtype=np.float32), rate, ASR_RATE)
    return (np.clip(y, -1.0, 1.0) * 32767).astype(np.int16)


def available() -> bool:
    """Is the recogniser installed (`pip install loa[eval]`)?"""
    import importlib.util

    return importlib.util.find_spec("vietasr") is not None


@functools.cache
def _pipeline():
    import atexit

    import vietasr

    pipeline = vietasr.Pipeline.preset("transcribe")
    # freed while the interpreter still works: its __del__ at shutdown finds cffi gone
    atexit.register(pipeline.close)
    return pipeline


def recogniser_version() -> str | None:
    """The installed viet-asr version (benchmarks print it with their figures)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("viet-asr")
    except PackageNotFoundError:
        return None


def transcribe(x: np.ndarray, rate: int) -> str:
    """What the recogniser hears in mono float audio at `rate`."""
    if len(x) == 0:
        return ""
    return _pipeline().transcribe(to_asr_pcm(x, rate), sample_rate=float(ASR_RATE)).text
