"""The clip store: content-addressed WAV files with an SQLite index.

A clip is trusted only if the index has it and its file still matches: a WAV is
written under a temporary name, renamed, checked (decodes, right length, not silent),
and only then entered in the index. A kill at any point leaves at worst a stray file
that no lookup returns and `prune` removes. A corrupt index is moved aside and rebuilt
from the WAV files (each names its key and carries its engine and voice); the store never
fills its disk past a reserve.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loa.audio.wav import parse_wav, read_wav, read_wav_comment, write_wav
from loa.clock import Clock, SystemClock

if TYPE_CHECKING:  # numpy loads where samples are handled, not to look a clip up
    import numpy as np

log = logging.getLogger(__name__)

RESERVE_MB = 100.0  # free space clips never take: the play log and the system need it

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
CREATE TABLE IF NOT EXISTS readings (
    key         TEXT PRIMARY KEY,     -- hash of the reading rules' fingerprint and the text
    spoken      TEXT NOT NULL         -- what the normalizer made of it
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
    """Why these samples are not a usable clip (Vietnamese, for the officer), or None."""
    import numpy as np

    if len(samples) != frames:
        return f"dài {len(samples)} mẫu, lẽ ra {frames} mẫu"
    if frames < rate * 0.2:
        return "ngắn hơn 0,2 giây"
    x = samples.astype(np.float32) / np.float32(32768.0)
    rms = float(np.sqrt(np.dot(x, x) / len(x)))  # no float64 copy: clips are long
    if rms < 10 ** (-50 / 20):
        return "im lặng, không có tiếng"
    return None


_SQLITE_VI = (("locked", "chỉ mục đang bị chương trình khác khóa"),
              ("full", "ổ đĩa đã đầy"), ("readonly", "ổ đĩa chỉ cho đọc"),
              ("unable to open", "không mở được tệp chỉ mục"),
              ("disk i/o", "lỗi đọc ghi trên đĩa"), ("malformed", "dữ liệu hỏng"),
              ("not a database", "không phải tệp cơ sở dữ liệu"))


def reason_vi(exc: BaseException) -> str:
    """Why a file or index operation failed, in words for the officer; the system's own
    (English) words only when loa does not know them, after "lỗi hệ thống"."""
    from loa.fsio import os_error_vi

    if isinstance(exc, OSError) and (said := os_error_vi(exc)):
        return said
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        for key, vi in _SQLITE_VI:
            if key in text.lower():
                return vi
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    return f"lỗi hệ thống: {detail}"


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    """A damaged index file, as opposed to a busy, full or read-only disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    return type(exc) is sqlite3.DatabaseError  # not a misuse, busy, full or I/O error


_KEY_NAME = re.compile(r"[0-9a-f]{32}")
_COMMENT = re.compile(r"loa engine=(?P<engine>\S*) voice=(?P<voice>.*?)(?: preferred=(?P<pref>\S*))?")
_COLUMNS = ("key", "file", "engine", "voice", "preferred", "frames", "rate", "bytes", "lufs",
            "true_peak", "text", "created_at", "used_at", "sha256")


def reserve_bytes(reserve_mb: float | None = None) -> int:
    """The free space the clip store leaves alone: the argument, LOA_CLIP_RESERVE_MB, or
    RESERVE_MB."""
    if reserve_mb is None:
        try:
            reserve_mb = float(os.environ.get("LOA_CLIP_RESERVE_MB", RESERVE_MB))
        except ValueError:
            log.warning("LOA_CLIP_RESERVE_MB is not a number; using %s MB", RESERVE_MB)
            reserve_mb = RESERVE_MB
    return max(0, int(reserve_mb * 1_000_000))


class ClipStore:
    """reserve_mb: free space its file system keeps (default LOA_CLIP_RESERVE_MB or
    RESERVE_MB). A corrupt index is moved aside and rebuilt from the WAV files; `notes`
    then holds a Vietnamese line for the officer (take_notes)."""

    def __init__(self, folder: str | Path, reserve_mb: float | None = None,
                 clock: Clock | None = None):
        from loa.errors import LoaError

        self.clock = clock or SystemClock()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index_path = self.folder / "index.sqlite3"
        self.reserve = reserve_bytes(reserve_mb)
        self.notes: list[str] = []
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._ino: int | None = None
        try:
            with self._lock:
                self._open()
        except sqlite3.Error as exc:  # a read-only or full disk: the officer must act
            raise LoaError(f"không mở được chỉ mục đoạn âm thanh ({reason_vi(exc)}).",
                           self.index_path) from None

    # --- the index, and its repair ------------------------------------------------------

    @contextlib.contextmanager
    def _index_lock(self):
        """One process at a time looks at, moves aside or rebuilds the index."""
        with open(self.folder / "index.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            columns = {r[1] for r in db.execute("PRAGMA table_info(clips)")}
            if "sha256" not in columns:  # stores made before the column existed
                db.execute("ALTER TABLE clips ADD COLUMN sha256 TEXT")
        except BaseException:
            db.close()
            raise
        return db

    def _health(self, db: sqlite3.Connection) -> str | None:
        """Why this index cannot be trusted (Vietnamese), or None."""
        result = [r[0] for r in db.execute("PRAGMA integrity_check")]
        if result != ["ok"]:
            log.warning("clip index %s fails integrity_check: %s", self.index_path, result[:5])
            return "kiểm tra toàn vẹn không đạt"
        columns = {r[1] for r in db.execute("PRAGMA table_info(clips)")}
        if not set(_COLUMNS) <= columns:
            return "bảng đoạn âm thanh thiếu cột"
        return None

    def _open(self) -> None:
        """Connect; if the index is corrupt (or lost while clips remain), rebuild it."""
        with self._index_lock():
            wal = Path(f"{self.index_path}-wal")
            lost = None
            if not self.index_path.exists() or (
                    self.index_path.stat().st_size == 0
                    and (not wal.exists() or wal.stat().st_size == 0)):
                if any(_KEY_NAME.fullmatch(p.stem) for p in self.folder.glob("*.wav")):
                    lost = "tệp chỉ mục mất hoặc rỗng"
            problem, db = lost, None
            if problem is None:
                try:
                    db = self._connect()
                    problem = self._health(db)
                except sqlite3.DatabaseError as exc:
                    if not _is_corruption(exc):
                        raise
                    log.warning("clip index %s is corrupt: %s", self.index_path, exc)
                    problem = ("không phải tệp cơ sở dữ liệu" if "not a database" in str(exc)
                               else "dữ liệu hỏng")
                if problem and db is not None:
                    db.close()
                    db = None
            if db is None:
                db = self._rebuild(problem or "hỏng")
            self._db = db
            self._ino = os.stat(self.index_path).st_ino

    def _rebuild(self, problem: str) -> sqlite3.Connection:
        stamp = self.clock.now().strftime("%Y%m%d-%H%M%S")
        aside = self.folder / f"index.sqlite3.corrupt-{stamp}"
        n = 1
        while aside.exists():
            n += 1
            aside = self.folder / f"index.sqlite3.corrupt-{stamp}-{n}"
        kept = None
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.index_path}{suffix}")
            if not src.exists():
                continue
            if suffix == "" and src.stat().st_size > 0:
                kept = aside
            if suffix == "-shm" or src.stat().st_size == 0:
                src.unlink()  # nothing a technician could read in it
            else:
                os.replace(src, Path(f"{aside}{suffix}"))
        db = self._connect()
        count = self._index_files(db)
        where = f" Bản hỏng được giữ lại ở {kept.name}." if kept else ""
        note = (f"Chỉ mục đoạn âm thanh {self.index_path} bị hỏng ({problem}): đã dựng lại từ "
                f"{count} tệp âm thanh có sẵn, không phải đọc lại.{where}")
        log.warning("clip index %s rebuilt from %d files (%s)", self.index_path, count, problem)
        self.notes.append(note)
        return db

    def _index_files(self, db: sqlite3.Connection) -> int:
        """Index every WAV in the folder that decodes and is not silent; its name is its key.
        The text it reads is not in the file: stored as ''."""
        count = 0
        for path in sorted(self.folder.glob("*.wav")):
            if not _KEY_NAME.fullmatch(path.stem):
                continue
            try:
                data = path.read_bytes()
                samples, rate, _ = parse_wav(data)
                meta = _COMMENT.fullmatch(read_wav_comment(path))
                mtime = path.stat().st_mtime
            except (OSError, ValueError):
                continue
            if meta is None or validate_samples(samples[:, 0], rate, len(samples)):
                continue  # not one of ours, or broken: rendered again when needed
            when = datetime.fromtimestamp(mtime).astimezone().isoformat(timespec="seconds")
            db.execute("INSERT OR IGNORE INTO clips VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (path.stem, path.name, meta["engine"], meta["voice"],
                        meta["pref"] or meta["engine"], len(samples), rate, len(data), None,
                        None, "", when, when, hashlib.sha256(data).hexdigest()))
            count += 1
        return count

    def _sql(self, fn):
        """Run fn(db) under the lock; a corrupt index is rebuilt and fn tried once more,
        and an index another process replaced is reopened."""
        with self._lock:
            try:
                if os.stat(self.index_path).st_ino != self._ino:
                    raise FileNotFoundError
            except FileNotFoundError:
                self._reopen()
            try:
                return fn(self._db)
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc):
                    raise
                log.warning("clip index %s is corrupt in use: %s", self.index_path, exc)
                self._reopen()
                return fn(self._db)

    def _reopen(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        self._open()

    def take_notes(self) -> list[str]:
        """Vietnamese lines for the officer (the index was rebuilt), each given once."""
        with self._lock:
            notes, self.notes = self.notes, []
        return notes

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- readings: the normalizer's output, so a cached render need not load it ----------

    def reading(self, key: str) -> str | None:
        row = self._sql(lambda db: db.execute("SELECT spoken FROM readings WHERE key=?",
                                              (key,)).fetchone())
        return None if row is None else row[0]

    def remember_reading(self, key: str, spoken: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # a full disk: read it again
            self._sql(lambda db: db.execute(
                "INSERT OR REPLACE INTO readings (key, spoken) VALUES (?, ?)", (key, spoken)))

    # --- clips ----------------------------------------------------------------------------

    def _row_to_clip(self, row) -> Clip:
        key, file, engine, voice, preferred, frames, rate, _, lufs, tp = row
        return Clip(self.folder / file, key, engine, voice, round(frames / rate, 4),
                    engine != preferred, lufs, tp)

    _COLS = "key, file, engine, voice, preferred, frames, rate, bytes, lufs, true_peak"

    def get(self, key: str, touch: bool = True) -> Clip | None:
        """The clip, if indexed and its file is intact (size as recorded)."""
        row = self._sql(lambda db: db.execute(f"SELECT {self._COLS} FROM clips WHERE key=?",
                                              (key,)).fetchone())
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
            now = self.clock.now().isoformat(timespec="seconds")
            with contextlib.suppress(sqlite3.OperationalError):
                self._sql(lambda db: db.execute("UPDATE clips SET used_at=? WHERE key=?",
                                                (now, key)))
        return self._row_to_clip(row)

    def verify(self, clip: Clip, full: bool = False) -> str | None:
        """Why this clip must not go on air (Vietnamese), or None. Always: the file is the
        one indexed (size, sha256). full, or no sha256 recorded: a file that is not the
        one indexed is decoded to say why, and one with no sha256 must decode, have the
        length and rate indexed, and not be silent (a file whose sha256 matches was
        checked so before it was indexed)."""
        row = self._sql(lambda db: db.execute(
            "SELECT frames, rate, bytes, sha256 FROM clips WHERE key=?",
            (clip.hash,)).fetchone())
        if row is None:
            return "không còn trong chỉ mục"
        frames, rate, size, digest = row
        try:
            data = clip.path.read_bytes()
        except FileNotFoundError:
            return "mất tệp"
        except OSError as exc:
            return f"không đọc được tệp ({reason_vi(exc)})"
        if len(data) != size:
            return "kích thước tệp khác lúc tạo"
        changed = bool(digest) and hashlib.sha256(data).hexdigest() != digest
        if changed and not full:
            return "nội dung tệp khác lúc tạo"
        if digest and not changed:
            return None  # the very bytes that passed the full check when they were indexed
        try:
            samples, got_rate, _ = parse_wav(data)
            problem = (f"tần số lấy mẫu {got_rate} Hz, lẽ ra {rate} Hz" if got_rate != rate
                       else validate_samples(samples[:, 0], rate, frames))
        except ValueError:
            problem = "không còn là tệp WAV đọc được"
        if changed:
            return "nội dung tệp khác lúc tạo" + (f": {problem}" if problem else "")
        return problem

    def discard(self, key: str, why: str = "") -> None:
        """Forget a bad clip and remove its files, so it is made again."""
        log.warning("clip %s is bad (%s); removed, to be rendered again", key, why)
        row = self._sql(lambda db: db.execute("SELECT file FROM clips WHERE key=?",
                                              (key,)).fetchone())
        self._sql(lambda db: db.execute("DELETE FROM clips WHERE key=?", (key,)))
        if row is not None:
            for path in (self.folder / row[0], (self.folder / row[0]).with_suffix(".mp3")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def put(self, key: str, samples: np.ndarray, rate: int, *, engine: str, voice: str,
            preferred: str, text: str, lufs: float | None, true_peak: float | None,
            mp3: bool = False) -> Clip:
        """Write, check, then index. Raises ClipError (Vietnamese) if the clip would eat
        into the reserve, cannot be written, or does not check."""
        path = self.folder / f"{key}.wav"
        need = len(samples) * 2 * (1.2 if mp3 else 1) + 64 * 1024  # WAV, MP3, index growth
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError as exc:
            raise ClipError(f"không xem được chỗ trống của {self.folder}: "
                            f"{reason_vi(exc)}") from None
        if free - need < self.reserve:
            raise ClipError(
                f"không lưu đoạn âm thanh: ổ đĩa chứa {self.folder} còn {free / 1e6:.0f} MB "
                f"trống, phải chừa {self.reserve / 1e6:.0f} MB cho nhật ký phát và hệ thống")
        try:
            write_wav(path, samples, rate,
                      comment=f"loa engine={engine} voice={voice} preferred={preferred}")
            back, back_rate = read_wav(path)
        except OSError as exc:
            raise ClipError(f"không ghi được đoạn âm thanh {path}: "
                            f"{reason_vi(exc)}") from None
        problem = validate_samples(back, rate, len(samples)) or (
            None if back_rate == rate else f"tần số lấy mẫu {back_rate} Hz")
        if problem:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise ClipError(f"đoạn âm thanh vừa đọc không đạt kiểm tra: {problem}")
        try:
            if mp3:
                self._archive_mp3(path)
            now = self.clock.now().isoformat(timespec="seconds")
            row = (key, path.name, engine, voice, preferred, len(samples), rate,
                   path.stat().st_size, lufs, true_peak, text, now, now, file_sha256(path))
            self._sql(lambda db: db.execute(
                "INSERT OR REPLACE INTO clips VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row))
        except (OSError, sqlite3.OperationalError) as exc:  # e.g. the disk filled meanwhile
            raise ClipError(f"không ghi được đoạn âm thanh {path}: {reason_vi(exc)}") from None
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
        rows = self._sql(lambda db: db.execute(
            f"SELECT {self._COLS}, text, used_at FROM clips ORDER BY used_at DESC").fetchall())
        return [(self._row_to_clip(r[:10]), r[10], r[11]) for r in rows]

    def check(self) -> list[tuple[str, str]]:
        """Full check of every clip (content hash, decode, length, not silent):
        (key, problem in Vietnamese) for the broken ones."""
        return [(clip.hash, problem) for clip, _, _ in self.all()
                if (problem := self.verify(clip, full=True))]

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Remove clips not in `keep`, and stray files; returns (clips, bytes) removed."""
        removed = freed = 0
        rows = self._sql(lambda db: db.execute("SELECT key, file FROM clips").fetchall())
        known = set()
        for key, file in rows:
            if key in keep:
                known.add(file)
                continue
            self._sql(lambda db, key=key: db.execute("DELETE FROM clips WHERE key=?", (key,)))
            for path in (self.folder / file, (self.folder / file).with_suffix(".mp3")):
                with contextlib.suppress(FileNotFoundError):
                    freed += path.stat().st_size
                    path.unlink()
            removed += 1
        for path in self.folder.iterdir():  # strays: temp files, unindexed WAVs
            if path.name.startswith("index."):
                continue
            stem_file = path.with_suffix(".wav").name
            if path.suffix in (".wav", ".mp3", ".part", ".json") and stem_file not in known:
                with contextlib.suppress(FileNotFoundError):
                    freed += path.stat().st_size
                    path.unlink()
        return removed, freed
