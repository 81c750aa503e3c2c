"""The as-played log: one SQLite row per play, written before the play starts."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from loa.errors import LoaError

SCHEMA_VERSION = 1
_MIGRATIONS = {
    1: """
    CREATE TABLE plays (
        id            INTEGER PRIMARY KEY,
        play_key      TEXT NOT NULL UNIQUE,   -- station|zone|program|scheduled|bulletin
        station       TEXT NOT NULL,
        zone          TEXT NOT NULL,
        program       TEXT NOT NULL,
        session       TEXT NOT NULL,
        bulletin      TEXT NOT NULL,          -- plan id / outline path
        title         TEXT NOT NULL,
        field         INTEGER,
        priority      INTEGER,
        scheduled_at  TEXT NOT NULL,          -- ISO 8601 with offset
        started_at    TEXT,
        ended_at      TEXT,
        duration_s    REAL,
        status        TEXT NOT NULL,          -- playing, played, late, failed, missed
        reason        TEXT,
        engine        TEXT,
        clip_hash     TEXT,
        recorded_at   TEXT NOT NULL
    );
    CREATE INDEX plays_scheduled ON plays(scheduled_at);
    CREATE TABLE events (
        id     INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        kind   TEXT NOT NULL,                 -- start, stop, reload, clock-jump, device-error
        detail TEXT
    );
    """,
}

STATUS_VI = {
    "playing": "đang phát",
    "played": "đã phát",
    "late": "phát muộn",
    "failed": "lỗi",
    "missed": "bị lỡ",
    "interrupted": "bị ngắt",
    "skipped": "bỏ qua",
}


@dataclass(frozen=True)
class PlayRow:
    id: int
    play_key: str
    station: str
    zone: str
    program: str
    session: str
    bulletin: str
    title: str
    field: int | None
    priority: int | None
    scheduled_at: str
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    status: str
    reason: str | None
    engine: str | None
    clip_hash: str | None
    recorded_at: str


COLUMNS = tuple(PlayRow.__dataclass_fields__)


class LogStore:
    """Thread-safe; every write is its own committed transaction (WAL, synchronous=FULL)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LoaError(f"không mở được sổ nhật ký phát ({exc}).", self.path) from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LoaError(
                f"sổ nhật ký do phiên bản loa mới hơn tạo (lược đồ {version}); hãy cập nhật loa.",
                self.path,
            )
        for v in range(version + 1, SCHEMA_VERSION + 1):
            self._db.executescript(f"BEGIN; {_MIGRATIONS[v]}; PRAGMA user_version={v}; COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, *, play_key: str, station: str, zone: str, program: str, session: str,
              bulletin: str, title: str, field: int | None, priority: int | None,
              scheduled_at: datetime, now: datetime, status: str = "playing",
              reason: str | None = None, engine: str | None = None,
              clip_hash: str | None = None) -> int | None:
        """Insert the row for a play; None if this play_key was already recorded."""
        started = now.isoformat(timespec="milliseconds") if status == "playing" else None
        with self._lock:
            cur = self._db.execute(
                """INSERT OR IGNORE INTO plays (play_key, station, zone, program, session,
                   bulletin, title, field, priority, scheduled_at, started_at, status, reason,
                   engine, clip_hash, recorded_at)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (play_key, station, zone, program, session, bulletin, title, field, priority,
                 scheduled_at.isoformat(), started, status, reason, engine, clip_hash,
                 now.isoformat(timespec="milliseconds")),
            )
            return cur.lastrowid if cur.rowcount else None

    def finish(self, row_id: int, *, status: str, started_at: datetime | None,
               ended_at: datetime, reason: str | None = None) -> None:
        duration = (ended_at - started_at).total_seconds() if started_at else None
        with self._lock:
            self._db.execute(
                """UPDATE plays SET status=?, reason=?, started_at=COALESCE(?, started_at),
                   ended_at=?, duration_s=? WHERE id=?""",
                (status, reason,
                 started_at.isoformat(timespec="milliseconds") if started_at else None,
                 ended_at.isoformat(timespec="milliseconds"), duration, row_id),
            )

    def event(self, kind: str, at: datetime, detail: str = "") -> None:
        with self._lock:
            self._db.execute("INSERT INTO events (at, kind, detail) VALUES (?,?,?)",
                             (at.isoformat(timespec="milliseconds"), kind, detail))

    def plays(self, limit: int | None = None, since: datetime | None = None,
              until: datetime | None = None) -> list[PlayRow]:
        sql = f"SELECT {', '.join(COLUMNS)} FROM plays"
        where, args = [], []
        if since is not None:
            where.append("scheduled_at >= ?")
            args.append(since.isoformat())
        if until is not None:
            where.append("scheduled_at < ?")
            args.append(until.isoformat())
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY scheduled_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [PlayRow(*r) for r in rows]

    def iter_plays(self, batch: int = 5000):
        """All plays in time order, streamed: exports must not load a year into memory."""
        cur = self._db.cursor()
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM plays ORDER BY scheduled_at, id")
        while True:
            with self._lock:
                rows = cur.fetchmany(batch)
            if not rows:
                return
            for r in rows:
                yield PlayRow(*r)

    def last_start(self) -> datetime | None:
        """When the most recent play started: the clock must never be before it."""
        with self._lock:
            row = self._db.execute(
                "SELECT started_at FROM plays WHERE started_at IS NOT NULL "
                "ORDER BY started_at DESC LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def recover(self, now: datetime, reason: str) -> int:
        """Plays left 'playing' by a crash or power cut become 'interrupted' (never replayed)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE plays SET status='interrupted', reason=?, ended_at=? "
                "WHERE status='playing'", (reason, now.isoformat(timespec="milliseconds")))
            return cur.rowcount

    def events(self, limit: int = 50) -> list[tuple[str, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT at, kind, detail FROM events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
