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


# --- a voice a technician copies onto the machine: checked before loa uses it ---------------

MAX_CONFIG_BYTES = 5_000_000  # piper's own are tens of kilobytes
TEST_SENTENCE = "Kính thưa bà con nhân dân, đài truyền thanh xã xin thông báo."


def voice_language(config: dict) -> str:
    """The voice's language code ('vi_VN', 'en_US', ...): piper's `language.code` (or
    `family`), else the espeak voice it phonemizes with; '' if the file says neither."""
    lang = config.get("language")
    if isinstance(lang, dict):
        code = lang.get("code") or lang.get("family")
        if isinstance(code, str) and code:
            return code
    espeak = config.get("espeak")
    if isinstance(espeak, dict) and isinstance(espeak.get("voice"), str):
        return espeak["voice"]
    return ""


def is_vietnamese(code: str) -> bool:
    return code.replace("-", "_").lower().split("_")[0] == "vi"


def read_voice_config(model: Path) -> dict:
    """The model's .onnx.json, read; LoaError (Vietnamese, naming the file and line) if it
    is missing, not JSON, or not a Vietnamese voice."""
    import json

    from loa.errors import LoaError

    config_path = Path(str(model) + ".json")
    try:
        if config_path.stat().st_size > MAX_CONFIG_BYTES:
            raise LoaError("tệp cấu hình giọng đọc lớn bất thường (hơn "
                           f"{MAX_CONFIG_BYTES // 1_000_000} MB): không phải cấu hình piper.",
                           config_path)
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoaError(f"thiếu tệp cấu hình '{config_path.name}' đi kèm giọng đọc: chép cả "
                       "hai tệp .onnx và .onnx.json vào cùng một thư mục.", config_path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LoaError(f"không đọc được tệp cấu hình giọng đọc ({exc}).", config_path) from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoaError(f"tệp cấu hình giọng đọc không phải JSON hợp lệ ({exc.msg}).",
                       config_path, exc.lineno) from None
    except (RecursionError, ValueError):  # nested thousands deep; a number of 5000 digits
        raise LoaError("tệp cấu hình giọng đọc lồng nhau quá sâu hoặc có số quá dài: không "
                       "phải cấu hình piper.", config_path) from None
    if not isinstance(config, dict):
        raise LoaError("tệp cấu hình giọng đọc không phải cấu hình piper.", config_path)
    code = voice_language(config)
    if not code:
        raise LoaError("tệp cấu hình không ghi ngôn ngữ của giọng đọc ('language' hoặc "
                       "'espeak.voice'), nên loa không biết đó có phải giọng tiếng Việt.",
                       config_path)
    if not is_vietnamese(code):
        raise LoaError(f"giọng đọc này là ngôn ngữ '{code}', không phải tiếng Việt (vi_VN).",
                       config_path)
    return config


def check_voice(model: str | Path, sentence: str = TEST_SENTENCE) -> tuple[dict, float]:
    """A piper voice loa can use: the .onnx beside its .onnx.json, Vietnamese, loaded by
    onnxruntime, and speaking a test sentence. Returns (its config, seconds of speech
    for the sentence); LoaError (Vietnamese, naming the file) otherwise."""
    from loa.errors import LoaError

    model = Path(model)
    if not model.name.endswith(".onnx"):
        raise LoaError("tệp giọng đọc piper phải là tệp .onnx (kèm tệp .onnx.json cạnh nó).",
                       model)
    if not model.is_file():
        raise LoaError("không tìm thấy tệp giọng đọc.", model)
    config = read_voice_config(model)
    try:
        import onnxruntime
        import piper  # noqa: F401 - the engine that will speak with it

        onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except ImportError:
        raise LoaError("máy này chưa cài piper (pip install 'loa[piper]').", model) from None
    except Exception as exc:  # onnxruntime says why in English: kept for the technician
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise LoaError(f"tệp không phải mô hình ONNX đọc được (onnxruntime: {why}).",
                       model) from None
    try:
        speech = PiperEngine(model).synthesize(sentence)
    except EngineError as exc:
        raise LoaError(f"giọng đọc không đọc được câu thử ({exc.detail}).", model) from None
    with wave.open(io.BytesIO(speech.data)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    if seconds < 0.2:
        raise LoaError("giọng đọc không đọc ra tiếng câu thử.", model)
    return config, seconds
