"""espeak-ng: the offline voice, always there when the internet is not."""

from __future__ import annotations

import shutil
import subprocess
import threading

from loa.voice.engine import LABELS_VI, EngineError, Speech

VOICES = {"north": "vi", "central": "vi-vn-x-central", "south": "vi-vn-x-south"}
_MEMO_CHARS = 300  # intros and outros: the same few words in every clip of a run
_MEMO_SIZE = 16


# What listeners understand best through a horn, measured by round trip through an offline
# recogniser (benchmarks/offline_voice.py, issue 13): speed 1.0 reads at BASE_WPM words a
# minute with WORD_GAP (10 ms units) between syllables.
BASE_WPM = 150
WORD_GAP = 8


def natural_gap_s(wpm: int, word_gap: int = 0) -> float:
    """espeak-ng's own pause after a sentence's end, counted between the sounds (plus what
    trimming keeps); separate calls joined with it sound the same. Measured 100-150 wpm:
    0.45 s at 150, 0.62 s at 120, 0.79 s at 100; a word gap adds a little."""
    return 100.8 / wpm - 0.222 + 2.8 * word_gap / wpm


# An SSML break of `ms` between sentences lengthens the clip by about f * ms + k - the
# gap speech_track would leave; f and k measured (wpm, k with no word gap, k per unit of word
# gap, f). Slower rates and word gaps make even a 0 ms break longer than loa's 0.45 s gap:
# then the pause is as short as espeak-ng makes it. Between rows: linear.
_BREAK = ((100, 0.383, 0.0333, 0.675), (120, 0.27, 0.0259, 0.733), (150, 0.155, 0.0175, 0.883))


def break_ms(gap_s: float, wpm: int, word_gap: int = 0) -> int:
    """The SSML break that leaves about `gap_s` of quiet between two sentences."""
    rows = _BREAK
    if wpm <= rows[0][0]:
        lo = hi = rows[0]
    elif wpm >= rows[-1][0]:
        lo = hi = rows[-1]
    else:
        lo, hi = next((a, b) for a, b in zip(rows, rows[1:], strict=False) if a[0] <= wpm <= b[0])
    t = 0.0 if hi[0] == lo[0] else (wpm - lo[0]) / (hi[0] - lo[0])
    k0, per_gap, f = (a + t * (b - a) for a, b in zip(lo[1:], hi[1:], strict=True))
    return max(0, round((gap_s - k0 - per_gap * word_gap) / f * 1000))


NATURAL_GAP_S = natural_gap_s(150)  # 0.45: the pause at the old default rate
# Not xml.sax.saxutils.escape: importing it loads urllib and http, tens of ms a start.
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def ssml(sentences: list[str], break_ms: int) -> str:
    """The sentences as one SSML document, a break of `break_ms` between them.
    The text is operator data: escaped."""
    brk = f' <break time="{break_ms}ms"/> '
    return "<speak>" + brk.join(s.translate(_XML_TEXT) for s in sentences) + "</speak>"


class EspeakEngine:
    """backend: "exe" (Debian's espeak-ng), "library" (PyPI's espeakng-loader, in process),
    or "auto": the executable when installed, else the library."""

    name = "espeak"
    label_vi = LABELS_VI["espeak"]
    online = False

    def __init__(self, voice: str = "vi", speed: float = 1.0, executable: str = "espeak-ng",
                 backend: str = "auto", word_gap: int | None = None):
        self.voice = VOICES.get(voice, voice)
        self.speed = speed
        self.words_per_minute = max(80, min(400, round(BASE_WPM * speed)))
        self.word_gap = WORD_GAP if word_gap is None else max(0, min(100, int(word_gap)))
        self.executable = executable
        if backend == "auto":
            backend = "exe" if shutil.which(executable) else "library"
        if backend not in ("exe", "library"):
            raise ValueError(f"unknown espeak backend {backend!r}")
        self.backend = backend
        self._memo: dict[tuple[str, str, int, int, bool], Speech] = {}
        self._memo_lock = threading.Lock()

    @property
    def key_tag(self) -> str:
        """Part of a clip's cache key: clips read with other settings are made again. Empty
        for the settings before issue 13, so their clips were not thrown away for nothing."""
        if (self.words_per_minute, self.word_gap) == (round(150 * self.speed), 0):
            return ""
        return f";wpm={self.words_per_minute};g={self.word_gap}"

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_memo"], state["_memo_lock"] = {}, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._memo_lock = threading.Lock()

    def synthesize(self, text: str) -> Speech:
        return self._speak(text, ssml=False)

    def synthesize_sentences(self, sentences: list[str], gap_s: float) -> Speech:
        """A whole clip's sentences in ONE espeak-ng call, `gap_s` apart."""
        natural = natural_gap_s(self.words_per_minute, self.word_gap)
        if len(sentences) == 1 or abs(gap_s - natural) <= 0.05:
            # Its own sentence pauses: the clip lasts what separate calls, each trimmed
            # and joined with the gap, lasted (measured: within 1.5 %).
            return self._speak(" ".join(sentences), ssml=False)
        ms = break_ms(gap_s, self.words_per_minute, self.word_gap)
        return self._speak(ssml(sentences, ms), ssml=True)

    def _speak(self, text: str, ssml: bool) -> Speech:
        key = (text, self.voice, self.words_per_minute, self.word_gap, ssml)
        if len(text) <= _MEMO_CHARS and (hit := self._memo.get(key)) is not None:
            return hit
        speech = self._run(text, ssml)
        if len(text) <= _MEMO_CHARS:
            with self._memo_lock:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.pop(next(iter(self._memo)))
                self._memo[key] = speech
        return speech

    def _run(self, text: str, ssml: bool) -> Speech:
        if self.backend == "library":
            from loa.voice import espeak_lib

            return espeak_lib.synthesize(text, self.voice, self.words_per_minute, ssml=ssml,
                                         word_gap=self.word_gap)
        exe = shutil.which(self.executable)
        if exe is None:
            raise EngineError(self.name, "broken", f"{self.executable} not installed")
        try:
            proc = subprocess.run(
                [exe, "-v", self.voice, "-s", str(self.words_per_minute),
                 "-g", str(self.word_gap), "--stdout", *(["-m"] if ssml else [])],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EngineError(self.name, "timeout", "espeak-ng took over 120 s") from None
        if proc.returncode != 0 or not proc.stdout.startswith(b"RIFF"):
            err = proc.stderr.decode("utf-8", "replace").strip()[:200]
            raise EngineError(self.name, "broken", f"exit {proc.returncode}: {err}")
        return Speech(proc.stdout, "wav", self.name, self.voice)
