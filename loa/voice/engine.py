"""What every TTS engine gives back, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Speech:
    data: bytes  # encoded audio as the engine made it
    format: str  # "mp3" or "wav"
    engine: str  # "gtts", "espeak"
    voice: str  # e.g. "vi", "vi-vn-x-south"


class EngineError(Exception):
    """An engine could not speak this text. kind: offline | timeout | rate-limited | rejected | broken."""

    def __init__(self, engine: str, kind: str, detail: str):
        self.engine, self.kind, self.detail = engine, kind, detail
        super().__init__(f"{engine}: {kind}: {detail}")


class Engine(Protocol):
    name: str
    online: bool

    def synthesize(self, text: str) -> Speech: ...
