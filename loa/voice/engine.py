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


KINDS_VI = {"offline": "không kết nối được", "timeout": "quá thời gian chờ",
            "rate-limited": "bị giới hạn số lần đọc", "rejected": "không nhận đọc văn bản này",
            "broken": "bị lỗi"}


class EngineError(Exception):
    """An engine could not speak this text. kind: offline | timeout | rate-limited | rejected | broken."""

    def __init__(self, engine: str, kind: str, detail: str):
        self.engine, self.kind, self.detail = engine, kind, detail
        super().__init__(f"{engine}: {kind}: {detail}")

    @property
    def message_vi(self) -> str:
        """For the officer: which engine, what went wrong (the technical detail stays in
        the English log line)."""
        if self.engine == "chain":  # every engine failed, or there was none to try
            return "không bộ đọc nào đọc được"
        return f"bộ đọc {engine_label_vi(self.engine)} {KINDS_VI.get(self.kind, self.kind)}"


class Engine(Protocol):
    """An engine may also offer synthesize_sentences(sentences, gap_s) -> Speech: the
    whole clip in one call (the chain uses it when present)."""

    name: str
    label_vi: str  # what officers read: "Google (trực tuyến)", not "gtts"
    online: bool

    def synthesize(self, text: str) -> Speech: ...


LABELS_VI = {"gtts": "Google (trực tuyến)", "espeak": "espeak-ng (ngoại tuyến)",
             "piper": "Piper (ngoại tuyến)",
             "ghi-am": "giọng đọc thu âm"}  # not an engine: a bulletin read by a person


def engine_label_vi(name: str) -> str:
    """An engine's name as officers read it; names loa does not know are shown as they are."""
    return LABELS_VI.get(name, name)
