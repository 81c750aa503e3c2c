"""Plain 16-bit mono WAV in and out with numpy; tolerant of streamed headers."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import TYPE_CHECKING

from loa.fsio import atomic_open

if TYPE_CHECKING:  # numpy loads when samples are read or written, not to look a clip up
    import numpy as np


def parse_wav(data: bytes) -> tuple[np.ndarray, int, int]:
    """Return (int16 samples shaped (n, channels), rate, channels).

    espeak-ng --stdout writes 0x7ffff000 as the data size because it streams, so the
    chunk sizes are trusted only as far as the bytes go.
    """
    import numpy as np

    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos, rate, channels, bits = 12, 0, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if fmt not in (1, 0xFFFE) or bits != 16:
                raise ValueError(f"unsupported WAV format {fmt}/{bits} bit")
        elif cid == b"data":
            end = min(len(data), body + size)
            end -= (end - body) % (2 * max(channels, 1))
            pcm = np.frombuffer(data[body:end], dtype="<i2").astype(np.int16)
            return pcm.reshape(-1, channels), rate, channels
        pos = body + size + (size & 1)
    raise ValueError("WAV stream has no data chunk")


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono int16 samples and rate."""
    samples, rate, _ = parse_wav(Path(path).read_bytes())
    return samples[:, 0].copy(), rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int, comment: str = "") -> None:
    """Write mono int16 atomically; `comment` goes into a LIST/INFO ICMT chunk."""
    import wave

    import numpy as np

    pcm = np.asarray(samples, dtype=np.int16)
    with atomic_open(path, "wb") as fh:
        with wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
        if comment:
            # After the data chunk, so players that stop at "data" never see it.
            text = comment.encode("utf-8") + b"\0"
            if len(text) % 2:
                text += b"\0"
            info = b"INFO" + b"ICMT" + struct.pack("<I", len(text)) + text
            fh.write(b"LIST" + struct.pack("<I", len(info)) + info)
            fh.seek(4)
            fh.write(struct.pack("<I", fh.seek(0, 2) - 8))


def read_wav_comment(path: str | Path) -> str:
    """The ICMT comment written by write_wav, or ""."""
    data = Path(path).read_bytes()
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"LIST" and body[:4] == b"INFO":
            i = 4
            while i + 8 <= len(body):
                sub, n = body[i:i + 4], struct.unpack("<I", body[i + 4:i + 8])[0]
                if sub == b"ICMT":
                    return body[i + 8:i + 8 + n].rstrip(b"\0").decode("utf-8", "replace")
                i += 8 + n + (n & 1)
        pos += 8 + size + (size & 1)
    return ""
