"""espeak-ng in process, from the libespeak-ng that PyPI's espeakng-loader ships.

For a Raspberry Pi without the apt package: same voices, no executable needed.
"""

from __future__ import annotations

import ctypes
import io
import threading
import wave

from loa.voice.engine import EngineError, Speech

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_ESPEAK_WORDGAP = 7
_CHARS_UTF8 = 1
_SSML = 0x10
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


class _Library:
    """libespeak-ng keeps global state: one instance, one synthesis at a time."""

    _instance: _Library | None = None
    _create_lock = threading.Lock()

    def __init__(self):
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lock = threading.Lock()
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                               ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint,
                                          ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                          ctypes.c_void_p, ctypes.c_void_p]
        data = espeakng_loader.get_data_path().encode()
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, 0)
        if self.rate <= 0:
            raise EngineError("espeak", "broken", "espeak_Initialize failed")
        self._chunks: list[bytes] = []

        def collect(wav, n, events):  # called from inside espeak_Synth
            if wav and n > 0:
                self._chunks.append(ctypes.string_at(wav, n * 2))
            return 0

        self._callback = _CALLBACK(collect)  # keep a reference: ctypes must not free it
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> _Library:
        with cls._create_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def synthesize(self, text: str, voice: str, wpm: int, ssml: bool = False,
                   word_gap: int = 0) -> bytes:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EngineError("espeak", "broken", f"no espeak-ng voice {voice!r}")
            self.lib.espeak_SetParameter(_ESPEAK_RATE, wpm, 0)
            self.lib.espeak_SetParameter(_ESPEAK_WORDGAP, word_gap, 0)  # global: set each time
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            flags = _CHARS_UTF8 | (_SSML if ssml else 0)
            err = self.lib.espeak_Synth(data, len(data), 0, 0, 0, flags, None, None)
            self.lib.espeak_Synchronize()
            if err != 0:
                raise EngineError("espeak", "broken", f"espeak_Synth error {err}")
            pcm = b"".join(self._chunks)
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(pcm)
        return buf.getvalue()


def synthesize(text: str, voice: str, wpm: int, ssml: bool = False,
               word_gap: int = 0) -> Speech:
    try:
        lib = _Library.get()
    except OSError as exc:
        raise EngineError("espeak", "broken", f"cannot load libespeak-ng: {exc}") from None
    return Speech(lib.synthesize(text, voice, wpm, ssml, word_gap), "wav", "espeak", voice)
