"""Render a bulletin to a clip file, once: clips are named by what went into them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from loa.audio.produce import AudioSettings, assemble
from loa.audio.wav import read_wav, write_wav
from loa.fsio import atomic_write_text
from loa.voice.chain import EngineChain


@dataclass(frozen=True)
class Clip:
    path: Path
    hash: str
    engine: str
    voice: str
    seconds: float
    fallback: bool = False  # made by a fallback engine; worth re-rendering later

    def to_json(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def clip_key(spoken_text: str, intro: str, chain: EngineChain, settings: AudioSettings) -> str:
    engines = ",".join(f"{e.name}:{getattr(e, 'voice', '')}" for e in chain.engines)
    material = "\x1f".join([spoken_text, intro, engines, settings.fingerprint()])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


def load_clip(path: Path) -> Clip | None:
    """A clip is trusted only if its metadata and WAV both read back."""
    meta_path = path.with_suffix(".json")
    if not path.exists() or not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        samples, rate = read_wav(path)
    except (OSError, ValueError):
        return None
    if len(samples) == 0 or abs(len(samples) / rate - meta.get("seconds", -1)) > 0.01:
        return None
    meta["path"] = path
    return Clip(**meta)


def render_text(
    text: str,
    chain: EngineChain,
    clips_dir: Path,
    normalize: Callable[[str], str],
    intro: str = "",
    settings: AudioSettings | None = None,
) -> Clip:
    settings = settings or AudioSettings()
    spoken = normalize(text)
    spoken_intro = normalize(intro) if intro else ""
    key = clip_key(spoken, spoken_intro, chain, settings)
    path = Path(clips_dir) / f"{key}.wav"
    cached = load_clip(path)
    if cached is not None:
        return cached
    body = chain.synthesize(spoken)
    intro_speech = chain.synthesize(spoken_intro).speech if spoken_intro else None
    samples = assemble(body.speech, intro_speech, settings)
    # WAV first, metadata last: a clip without metadata is never trusted.
    write_wav(path, samples, settings.rate,
              comment=f"loa engine={body.speech.engine} voice={body.speech.voice}")
    clip = Clip(
        path=path,
        hash=key,
        engine=body.speech.engine,
        voice=body.speech.voice,
        seconds=round(len(samples) / settings.rate, 4),
        fallback=body.fell_back,
    )
    meta = clip.to_json()
    meta.pop("path")
    meta_text = json.dumps({**meta}, ensure_ascii=False, indent=1)
    atomic_write_text(path.with_suffix(".json"), meta_text)
    return clip
