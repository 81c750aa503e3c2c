"""piper: offline neural voice (optional extra `loa[piper]`).

The station downloads a voice model once (e.g. a vi_VN .onnx with its .onnx.json) and
names it in the schedule; loa only ever loads that local file, never downloads.
"""

from __future__ import annotations

import io
import threading
import wave
from pathlib import Path

from loa.voice.engine import LABELS_VI, EngineError, Speech


class PiperEngine:
    name = "piper"
    label_vi = LABELS_VI["piper"]
    online = False

    def __init__(self, model: str | Path, speed: float = 1.0):
        self.model = Path(model)
        self.speed = speed
        self.voice = self.model.stem.removesuffix(".onnx")
        self._loaded = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._loaded is None:
                try:
                    from piper import PiperVoice
                except ImportError:
                    raise EngineError(self.name, "broken",
                                      "piper is not installed (pip install 'loa[piper]')") from None
                config = Path(str(self.model) + ".json")
                if not self.model.exists() or not config.exists():
                    raise EngineError(self.name, "broken",
                                      f"model {self.model} or {config.name} missing")
                try:
                    self._loaded = PiperVoice.load(self.model, config_path=config)
                except Exception as exc:  # onnxruntime and json errors alike
                    raise EngineError(self.name, "broken", f"cannot load model: {exc}") from None
            return self._loaded

    def __getstate__(self):  # a loaded ONNX session does not cross process boundaries
        state = self.__dict__.copy()
        state["_loaded"], state["_lock"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def synthesize(self, text: str) -> Speech:
        from piper import SynthesisConfig

        voice = self._load()
        buf = io.BytesIO()
        try:
            with wave.open(buf, "wb") as wav:
                voice.synthesize_wav(text, wav, SynthesisConfig(length_scale=1.0 / self.speed))
        except Exception as exc:
            raise EngineError(self.name, "broken", f"{type(exc).__name__}: {exc}") from None
        data = buf.getvalue()
        if len(data) <= 44:
            raise EngineError(self.name, "rejected", "no audio for this text")
        return Speech(data, "wav", self.name, self.voice)
