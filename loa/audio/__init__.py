"""Stage 4: speech to broadcast-ready clips (chime, intro, body, outro; BS.1770 loudness).

Names load on first use: the playing daemon only looks clips up, and must not pay for
scipy (about 75 MB) that production needs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "AudioSettings": "loa.audio.settings", "Clip": "loa.audio.cache",
    "ClipError": "loa.audio.cache", "ClipStore": "loa.audio.cache",
    "clip_key": "loa.audio.cache", "Rendered": "loa.audio.render",
    "Renderer": "loa.audio.render", "sentences": "loa.audio.render",
    "assemble": "loa.audio.produce", "read_wav": "loa.audio.wav",
    "read_wav_comment": "loa.audio.wav", "write_wav": "loa.audio.wav",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'loa.audio' has no attribute {name!r}")
