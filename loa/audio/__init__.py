"""Stage 4: speech to broadcast-ready clips (chime, intro, levelled body)."""

from loa.audio.produce import AudioSettings, assemble
from loa.audio.render import Clip, load_clip, render_text
from loa.audio.wav import read_wav, write_wav

__all__ = ["AudioSettings", "Clip", "assemble", "load_clip", "read_wav", "render_text", "write_wav"]
