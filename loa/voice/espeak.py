"""espeak-ng: the offline voice, always there when the internet is not."""

from __future__ import annotations

import shutil
import subprocess

from loa.voice.engine import EngineError, Speech

VOICES = {"north": "vi", "central": "vi-vn-x-central", "south": "vi-vn-x-south"}


class EspeakEngine:
    """backend: "exe" (Debian's espeak-ng), "library" (PyPI's espeakng-loader, in process),
    or "auto": the executable when installed, else the library."""

    name = "espeak"
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

    def synthesize(self, text: str) -> Speech:
        if self.backend == "library":
            from loa.voice import espeak_lib

            return espeak_lib.synthesize(text, self.voice, self.words_per_minute)
        exe = shutil.which(self.executable)
        if exe is None:
            raise EngineError(self.name, "broken", f"{self.executable} not installed")
        try:
            proc = subprocess.run(
                [exe, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout"],
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
