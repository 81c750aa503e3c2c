"""espeak-ng: the offline voice, always there when the internet is not."""

from __future__ import annotations

import shutil
import subprocess
import threading

from loa.voice.engine import LABELS_VI, EngineError, Speech

VOICES = {"north": "vi", "central": "vi-vn-x-central", "south": "vi-vn-x-south"}
_MEMO_CHARS = 300  # intros and outros: the same few words in every clip of a run
_MEMO_SIZE = 16


# Measured at 150 words a minute: espeak-ng's own pause after a sentence's end, counted
# between the sounds, is about this; separate calls joined with it sound the same.
NATURAL_GAP_S = 0.45
_BREAK_EXTRA_S = 0.04  # what espeak-ng adds around an SSML break
# Not xml.sax.saxutils.escape: importing it loads urllib and http, tens of ms a start.
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def ssml(sentences: list[str], gap_s: float) -> str:
    """The sentences as one SSML document, about `gap_s` of quiet between them.
    The text is operator data: escaped."""
    ms = max(0, round((gap_s - _BREAK_EXTRA_S) * 1000))
    brk = f' <break time="{ms}ms"/> '
    return "<speak>" + brk.join(s.translate(_XML_TEXT) for s in sentences) + "</speak>"


class EspeakEngine:
    """backend: "exe" (Debian's espeak-ng), "library" (PyPI's espeakng-loader, in process),
    or "auto": the executable when installed, else the library."""

    name = "espeak"
    label_vi = LABELS_VI["espeak"]
    online = False

    def __init__(self, voice: str = "vi", speed: float = 1.0, executable: str = "espeak-ng",
                 backend: str = "auto"):
        self.voice = VOICES.get(voice, voice)
        self.words_per_minute = max(80, min(400, round(150 * speed)))
        self.executable = executable
        if backend == "auto":
            backend = "exe" if shutil.which(executable) else "library"
        if backend not in ("exe", "library"):
            raise ValueError(f"unknown espeak backend {backend!r}")
        self.backend = backend
        self._memo: dict[tuple[str, str, int, bool], Speech] = {}
        self._memo_lock = threading.Lock()

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
        if len(sentences) == 1 or abs(gap_s - NATURAL_GAP_S) <= 0.05:
            # Its own sentence pauses: the clip lasts what separate calls, each trimmed
            # and joined with the gap, lasted (measured: within 1.5 %).
            return self._speak(" ".join(sentences), ssml=False)
        return self._speak(ssml(sentences, gap_s), ssml=True)

    def _speak(self, text: str, ssml: bool) -> Speech:
        key = (text, self.voice, self.words_per_minute, ssml)
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

            return espeak_lib.synthesize(text, self.voice, self.words_per_minute, ssml=ssml)
        exe = shutil.which(self.executable)
        if exe is None:
            raise EngineError(self.name, "broken", f"{self.executable} not installed")
        try:
            proc = subprocess.run(
                [exe, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout",
                 *(["-m"] if ssml else [])],
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
