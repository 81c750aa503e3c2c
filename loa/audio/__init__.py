"""Stage 4: speech to broadcast-ready clips (chime, intro, body, outro; BS.1770 loudness)."""

from loa.audio.cache import Clip, ClipError, ClipStore, clip_key
from loa.audio.produce import AudioSettings, assemble
from loa.audio.render import Rendered, Renderer, sentences
from loa.audio.wav import read_wav, read_wav_comment, write_wav

__all__ = ["AudioSettings", "Clip", "ClipError", "ClipStore", "Rendered", "Renderer",
           "assemble", "clip_key", "read_wav", "read_wav_comment", "sentences", "write_wav"]
