"""The clip store: content-addressed WAV files with an SQLite index.

A clip is trusted only if the index has it and its file still matches: a WAV is
written under a temporary name, renamed, checked (decodes, right length, not silent),
and only then entered in the index. A kill at any point leaves at worst a stray file
that no lookup returns and `prune` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from loa.audio.wav import read_wav, write_wav

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    key         TEXT PRIMARY KEY,     -- hash of text, engine, voice, speed, audio settings
    file        TEXT NOT NULL,        -- name inside the store folder
    engine      TEXT NOT NULL,
    voice       TEXT NOT NULL,
    preferred   TEXT NOT NULL,        -- the station's first engine when it was made
    frames      INTEGER NOT NULL,
    rate        INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    lufs        REAL,
    true_peak   REAL,
    text        TEXT NOT NULL,        -- what the voice read
    created_at  TEXT NOT NULL,
    used_at     TEXT NOT NULL,
    sha256      TEXT                  -- of the file as written; `check` compares it
);
"""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Clip:
    path: Path
    hash: str  # the cache key
    engine: str
    voice: str
    seconds: float
    fallback: bool = False  # made by a fallback engine; `loa render --upgrade` redoes it
    lufs: float | None = None
    true_peak: float | None = None


class ClipError(Exception):
    pass


def clip_key(text: str, engine: str, voice: str, speed: float, settings_fingerprint: str,
             intro: str = "", outro: str = "") -> str:
    material = "\x1f".join([text, intro, outro, engine, voice, f"{speed:.3f}",
                            settings_fingerprint])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def validate_samples(samples: np.ndarray, rate: int, frames: int) -> str | None:
    """Why these samples are not a usable clip, or None."""
    if len(samples) != frames:
        return f"length {len(samples)} != {frames}"
    if frames < rate * 0.2:
        return "shorter than 0.2 s"
    rms = float(np.sqrt(np.mean((samples.astype(np.float64) / 32768.0) ** 2)))
    if rms < 10 ** (-50 / 20):
        return "silent"
    return None


class ClipStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.folder / "index.sqlite3", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(clips)")}
        if "sha256" not in columns:  # stores made before the column existed
            self._db.execute("ALTER TABLE clips ADD COLUMN sha256 TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row_to_clip(self, row) -> Clip:
        key, file, engine, voice, preferred, frames, rate, _, lufs, tp = row
        return Clip(self.folder / file, key, engine, voice, round(frames / rate, 4),
                    engine != preferred, lufs, tp)

    _COLS = "key, file, engine, voice, preferred, frames, rate, bytes, lufs, true_peak"

    def get(self, key: str, touch: bool = True) -> Clip | None:
        """The clip, if indexed and its file is intact (size as recorded)."""
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLS} FROM clips WHERE key=?",
                                   (key,)).fetchone()
        if row is None:
            return None
        path = self.folder / row[1]
        try:
            if path.stat().st_size != row[7]:
                return None
        except FileNotFoundError:
            return None
        if touch:
            # bookkeeping for prune: a full disk must not keep the clip off the air
            with self._lock, contextlib.suppress(sqlite3.OperationalError):
                self._db.execute("UPDATE clips SET used_at=? WHERE key=?",
                                 (datetime.now().astimezone().isoformat(timespec="seconds"),
                                  key))
        return self._row_to_clip(row)

    def put(self, key: str, samples: np.ndarray, rate: int, *, engine: str, voice: str,
            preferred: str, text: str, lufs: float | None, true_peak: float | None,
            mp3: bool = False) -> Clip:
        """Write, check, then index. Raises ClipError if the written clip does not check."""
        path = self.folder / f"{key}.wav"
        write_wav(path, samples, rate, comment=f"loa engine={engine} voice={voice}")
        back, back_rate = read_wav(path)
        problem = validate_samples(back, rate, len(samples)) or (
            None if back_rate == rate else f"rate {back_rate}")
        if problem:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise ClipError(f"clip {key} failed its check: {problem}")
        if mp3:
            self._archive_mp3(path)
        now = datetime.now().astimezone().isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO clips VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, path.name, engine, voice, preferred, len(samples), rate,
                 path.stat().st_size, lufs, true_peak, text, now, now, file_sha256(path)))
        return Clip(path, key, engine, voice, round(len(samples) / rate, 4),
                    engine != preferred, lufs, true_peak)

    def _archive_mp3(self, wav: Path) -> None:
        """An MP3 beside the WAV, for the archive (ffmpeg through pydub), atomically."""
        from pydub import AudioSegment

        from loa.fsio import temp_path_beside

        target = wav.with_suffix(".mp3")
        tmp = temp_path_beside(target)
        try:
            AudioSegment.from_wav(str(wav)).export(str(tmp), format="mp3", bitrate="64k")
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def all(self) -> list[tuple[Clip, str, str]]:
        """(clip, text, used_at) for every indexed clip, newest use first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS}, text, used_at FROM clips ORDER BY used_at DESC"
            ).fetchall()
        return [(self._row_to_clip(r[:10]), r[10], r[11]) for r in rows]

    def check(self) -> list[tuple[str, str]]:
        """Full check of every clip (content hash, decode, length, not silent):
        (key, problem) for the broken ones."""
        bad = []
        with self._lock:
            rows = self._db.execute("SELECT key, frames, sha256 FROM clips").fetchall()
        frames = {k: f for k, f, _ in rows}
        digests = {k: d for k, _, d in rows}
        for clip, _, _ in self.all():
            try:
                if digests[clip.hash] and file_sha256(clip.path) != digests[clip.hash]:
                    bad.append((clip.hash, "content changed since it was made"))
                    continue
                samples, rate = read_wav(clip.path)
                problem = validate_samples(samples, rate, frames[clip.hash])
            except (OSError, ValueError) as exc:
                problem = str(exc)
            if problem:
                bad.append((clip.hash, problem))
        return bad

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Remove clips not in `keep`, and stray files; returns (clips, bytes) removed."""
        removed = freed = 0
        with self._lock:
            rows = self._db.execute("SELECT key, file FROM clips").fetchall()
        known = set()
        for key, file in rows:
            if key in keep:
                known.add(file)
                continue
            with self._lock:
                self._db.execute("DELETE FROM clips WHERE key=?", (key,))
            for path in (self.folder / file, (self.folder / file).with_suffix(".mp3")):
                with contextlib.suppress(FileNotFoundError):
                    freed += path.stat().st_size
                    path.unlink()
            removed += 1
        for path in self.folder.iterdir():  # strays: temp files, unindexed WAVs
            if path.name.startswith("index.sqlite3"):
                continue
            stem_file = path.with_suffix(".wav").name
            if path.suffix in (".wav", ".mp3", ".part", ".json") and stem_file not in known:
                with contextlib.suppress(FileNotFoundError):
                    freed += path.stat().st_size
                    path.unlink()
        return removed, freed
