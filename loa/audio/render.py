"""Render texts to clips, once: look in the store first, in the station's engine order.

A clip comes from one engine from start to end: if an engine fails on any sentence,
the next engine reads the whole text, so a bulletin never switches voice halfway.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loa.audio.cache import Clip, ClipStore, clip_key
from loa.audio.settings import TRIM_KEEP_S, AudioSettings
from loa.voice.chain import EngineChain
from loa.voice.engine import Engine, EngineError, Speech

if TYPE_CHECKING:
    import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+(?=\S)")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


@dataclass
class Spoken:
    """Everything one engine said for one clip, ready for production."""

    engine: Engine
    body: list[Speech]
    intro: list[Speech]
    outro: list[Speech]


@dataclass
class Rendered:
    clip: Clip
    cached: bool
    failures: list[EngineError] = field(default_factory=list)


class Renderer:
    """normalize: the station's reading normalizer; intro/outro: spoken around each body."""

    def __init__(self, chain: EngineChain, store: ClipStore, normalize: Callable[[str], str],
                 settings: AudioSettings | None = None, intro: str = "", outro: str = "",
                 speed: float = 1.0, mp3: bool = False):
        self.chain, self.store, self.normalize = chain, store, normalize
        self.settings = settings or AudioSettings()
        self.intro, self.outro = self.spoken(intro), self.spoken(outro)
        self.speed, self.mp3 = speed, mp3

    def spoken(self, text: str) -> str:
        """The text as the voice reads it. A normalizer with a `fingerprint` (Reading)
        has its readings remembered in the store: looking a clip up then runs no rule."""
        if not text:
            return ""
        fingerprint = getattr(self.normalize, "fingerprint", None)
        if fingerprint is None:
            return self.normalize(text)
        key = hashlib.sha256(f"{fingerprint}\0{text}".encode()).hexdigest()
        spoken = self.store.reading(key)
        if spoken is None:
            spoken = self.normalize(text)
            self.store.remember_reading(key, spoken)
        return spoken

    def key(self, spoken: str, engine: Engine) -> str:
        # key_tag: settings an engine reads with besides its voice (espeak's rate, word gap)
        voice = getattr(engine, "voice", "") + getattr(engine, "key_tag", "")
        return clip_key(spoken, engine.name, voice, self.speed,
                        self.settings.fingerprint(), self.intro, self.outro)

    def lookup(self, text: str, engines: list[Engine] | None = None, verify: str = "cheap",
               problems: list[str] | None = None) -> Clip | None:
        """The best good clip already made for this text, in the station's engine order.

        verify: "cheap" (the file is the one indexed: size and sha256), "full" (also
        decodes, right length, not silent) or "" (size only). A clip that fails is removed
        from the store, so it is made again; why goes to `problems` (Vietnamese)."""
        spoken = self.spoken(text)
        for engine in engines or self.chain.engines:
            clip = self.store.get(self.key(spoken, engine))
            if clip is None:
                continue
            problem = self.store.verify(clip, full=verify == "full") if verify else None
            if problem is None:
                return clip
            self.store.discard(clip.hash, problem)
            if problems is not None:
                problems.append(problem)
        return None

    def speak(self, text: str, engines: list[Engine] | None = None
              ) -> tuple[str, Spoken, list[EngineError]]:
        """Network/subprocess part: synthesize every sentence with one engine."""
        spoken = self.spoken(text)
        parts = sentences(spoken)
        # An engine reading a whole part at once pauses as speech_track would join the
        # sentences: the gap plus the margin trim_silence keeps on each side.
        gap = self.settings.sentence_gap_s + 2 * TRIM_KEEP_S
        result = self.chain.synthesize_all(
            [parts, sentences(self.intro), sentences(self.outro)], engines, gap_s=gap)
        body, intro, outro = result.speeches
        return spoken, Spoken(result.engine, body, intro, outro), result.failures

    def produce(self, spoken: Spoken):
        """CPU part: chime, intro, body, outro, levelled (scipy loads here, not before)."""
        from loa.audio.produce import assemble_measured

        return assemble_measured(spoken.body, self.settings, spoken.intro, spoken.outro)

    def store_clip(self, spoken_text: str, spoken: Spoken, samples: np.ndarray,
                   levels) -> Clip:
        engine = spoken.engine
        return self.store.put(
            self.key(spoken_text, engine), samples, self.settings.rate, engine=engine.name,
            voice=getattr(engine, "voice", ""), preferred=self.chain.engines[0].name,
            text=spoken_text, lufs=round(levels.lufs, 3),
            true_peak=round(levels.true_peak_dbtp, 3), mp3=self.mp3)

    def render(self, text: str, engines: list[Engine] | None = None) -> Rendered:
        cached = self.lookup(text, engines)
        if cached is not None:
            return Rendered(cached, True)
        spoken_text, spoken, failures = self.speak(text, engines)
        samples, levels = self.produce(spoken)
        return Rendered(self.store_clip(spoken_text, spoken, samples, levels), False, failures)

    def offline(self) -> list[Engine]:
        return [e for e in self.chain.engines if not e.online]

    def better_than(self, clip: Clip) -> list[Engine]:
        """Engines the station prefers over the one that made this clip."""
        names = [e.name for e in self.chain.engines]
        if clip.engine not in names:
            return list(self.chain.engines)
        return self.chain.engines[: names.index(clip.engine)]
