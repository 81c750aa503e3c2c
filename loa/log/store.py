"""The as-played log: one SQLite row per play, written before the play starts.

A row is inserted when a play is claimed ('playing', or straight away 'missed' /
'skipped' / 'failed') and moves once to its final status. The database itself keeps
the history: a trigger copies the old state of every update into `play_history`, the
facts of a play (what, where, when scheduled) cannot change, a final status cannot be
rewritten, and nothing can be deleted. WAL + synchronous=FULL: a committed row survives
a power cut."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from loa.errors import LoaError

STATUS_VI = {
    "playing": "đang phát",
    "played": "đã phát",
    "late": "phát muộn",
    "failed": "lỗi",
    "missed": "bị lỡ",
    "interrupted": "bị ngắt",
    "skipped": "bỏ qua",
}
KIND_VI = {"lich": "theo lịch", "khan-cap": "khẩn cấp", "thong-bao": "thông báo"}


def _csv_line(r: str) -> str:
    """SQL for a play's CSV line (see loa.report.export.CSV_HEADERS), from row alias `r`.

    Kept in the database beside each play, written by trigger when the play is written:
    exporting a year of plays is then one read per row (Python formatting 19 fields of a
    million rows took ~17 s). Times are the station's, as stored, plus UTC."""
    def text(c):
        return f"""'"' || replace(COALESCE({r}{c}, ''), '"', '""') || '"'"""

    def local(c):
        t = f"{r}{c}"
        return (f"COALESCE(substr({t},9,2)||'/'||substr({t},6,2)||'/'||substr({t},1,4)||' '||"
                f"substr({t},12,8), '')")

    def utc(c):
        return f"COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', {r}{c}), '')"

    def number(c, fmt="%.1f"):
        return f"COALESCE(printf('{fmt}', {r}{c}), '')"

    def label(c, names):
        whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in names.items())
        return f"CASE {r}{c} {whens} ELSE {r}{c} END"

    fields = [f"{r}id", text("station"), text("zone"), text("program"), text("session"),
              text("bulletin"), text("title"), number("field", "%d"), number("priority", "%d"),
              local("scheduled_at"), local("started_at"), local("ended_at"),
              number("duration_s"), label("status", STATUS_VI), text("reason"), text("engine"),
              text("clip_hash"), utc("scheduled_at"), utc("started_at"),
              label("kind", KIND_VI), number("clip_s")]
    return " || ',' || ".join(f"({f})" for f in fields)


# Each migration moves the schema up one version, inside one transaction.
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
    2: """
    ALTER TABLE plays ADD COLUMN kind TEXT NOT NULL DEFAULT 'lich';  -- lich, khan-cap, thong-bao
    ALTER TABLE plays ADD COLUMN clip_s REAL;       -- length of the clip: time asked for
    ALTER TABLE plays ADD COLUMN summary TEXT;      -- opening of the text as it aired
    ALTER TABLE plays ADD COLUMN volume INTEGER;    -- zone volume (%), when configured
    UPDATE plays SET kind = CASE WHEN session = 'khan-cap' THEN 'khan-cap'
                                 WHEN session LIKE 'thong-bao:%' THEN 'thong-bao'
                                 ELSE 'lich' END;
    CREATE INDEX plays_zone ON plays(zone, scheduled_at);
    CREATE INDEX plays_bulletin ON plays(bulletin, scheduled_at);
    CREATE TABLE play_history (
        id          INTEGER PRIMARY KEY,
        play_id     INTEGER NOT NULL REFERENCES plays(id),
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  TEXT,
        ended_at    TEXT,
        duration_s  REAL,
        replaced_at TEXT NOT NULL              -- UTC, when this state was superseded
    );
    CREATE TRIGGER plays_keep_history BEFORE UPDATE ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: a final status is never rewritten')
        WHERE OLD.status != 'playing';
        INSERT INTO play_history (play_id, status, reason, started_at, ended_at, duration_s,
                                  replaced_at)
        VALUES (OLD.id, OLD.status, OLD.reason, OLD.started_at, OLD.ended_at, OLD.duration_s,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER plays_facts_fixed BEFORE UPDATE OF play_key, station, zone, program,
        session, bulletin, title, field, priority, scheduled_at, engine, clip_hash,
        recorded_at, kind, clip_s, summary, volume ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: what was scheduled never changes');
    END;
    CREATE TRIGGER plays_no_delete BEFORE DELETE ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: rows are never deleted');
    END;
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: events are never changed');
    END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: events are never deleted');
    END;
    CREATE INDEX events_at ON events(at);
    -- derived: the play as a CSV line, in export order (one sequential read per export)
    CREATE TABLE plays_csv (
        scheduled_at TEXT NOT NULL,
        play_id      INTEGER NOT NULL REFERENCES plays(id),
        line         TEXT NOT NULL,
        PRIMARY KEY (scheduled_at, play_id)
    ) WITHOUT ROWID;
    INSERT INTO plays_csv SELECT scheduled_at, id, @CSV_ROW@ FROM plays;
    CREATE TRIGGER plays_csv_insert AFTER INSERT ON plays
    BEGIN
        INSERT INTO plays_csv VALUES (NEW.scheduled_at, NEW.id, @CSV_NEW@);
    END;
    CREATE TRIGGER plays_csv_update AFTER UPDATE ON plays
    BEGIN
        INSERT OR REPLACE INTO plays_csv VALUES (NEW.scheduled_at, NEW.id, @CSV_NEW@);
    END;
    -- derived: plays per station-local month, bulletin, zone, status, reason, kind; a
    -- yearly report reads these instead of sorting a million plays. Milliseconds as
    -- integers, so adding and taking away a play is exact.
    CREATE TABLE play_totals (
        month     TEXT NOT NULL,            -- YYYY-MM
        bulletin  TEXT NOT NULL,
        zone      TEXT NOT NULL,
        status    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        kind      TEXT NOT NULL,
        title     TEXT,
        plays     INTEGER NOT NULL,
        airtime_ms INTEGER NOT NULL,
        asked_ms  INTEGER NOT NULL,
        PRIMARY KEY (month, bulletin, zone, status, reason, kind)
    ) WITHOUT ROWID;
    INSERT INTO play_totals
        SELECT substr(scheduled_at, 1, 7), bulletin, zone, status, COALESCE(reason, ''),
               kind, MAX(title), COUNT(*),
               SUM(CAST(round(COALESCE(duration_s, 0) * 1000) AS INTEGER)),
               SUM(CAST(round(COALESCE(clip_s, 0) * 1000) AS INTEGER))
        FROM plays GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE TRIGGER play_totals_insert AFTER INSERT ON plays
    BEGIN
        @TOTALS_ADD@
    END;
    CREATE TRIGGER play_totals_update AFTER UPDATE ON plays
    BEGIN
        UPDATE play_totals SET plays = plays - 1,
            airtime_ms = airtime_ms - CAST(round(COALESCE(OLD.duration_s, 0) * 1000) AS INTEGER),
            asked_ms = asked_ms - CAST(round(COALESCE(OLD.clip_s, 0) * 1000) AS INTEGER)
        WHERE month = substr(OLD.scheduled_at, 1, 7) AND bulletin = OLD.bulletin
          AND zone = OLD.zone AND status = OLD.status AND reason = COALESCE(OLD.reason, '')
          AND kind = OLD.kind;
        DELETE FROM play_totals WHERE plays = 0 AND month = substr(OLD.scheduled_at, 1, 7)
          AND bulletin = OLD.bulletin AND zone = OLD.zone AND status = OLD.status
          AND reason = COALESCE(OLD.reason, '') AND kind = OLD.kind;
        @TOTALS_ADD@
    END;
    """.replace("@CSV_ROW@", _csv_line("")).replace("@CSV_NEW@", _csv_line("NEW."))
       .replace("@TOTALS_ADD@", """INSERT INTO play_totals VALUES (substr(NEW.scheduled_at, 1, 7),
            NEW.bulletin, NEW.zone, NEW.status, COALESCE(NEW.reason, ''), NEW.kind, NEW.title,
            1, CAST(round(COALESCE(NEW.duration_s, 0) * 1000) AS INTEGER),
            CAST(round(COALESCE(NEW.clip_s, 0) * 1000) AS INTEGER))
        ON CONFLICT (month, bulletin, zone, status, reason, kind) DO UPDATE SET
            plays = plays + 1, airtime_ms = airtime_ms + excluded.airtime_ms,
            asked_ms = asked_ms + excluded.asked_ms, title = excluded.title;"""),
}
SCHEMA_VERSION = max(_MIGRATIONS)

EVENT_VI = {
    "start": "khởi động", "stop": "dừng", "reload": "nạp lại lịch",
    "reload-failed": "nạp lại lịch lỗi", "clock-jump": "đồng hồ nhảy",
    "clock-trusted": "đồng hồ đã đúng", "clock-untrusted": "đồng hồ chưa tin được",
    "device-error": "lỗi thiết bị", "underflow": "âm thanh bị hụt", "emergency": "tin khẩn cấp",
    "log-write-failed": "không ghi được sổ", "log-reconciled": "đã ghi bù sổ",
    "disk-low": "đĩa sắp đầy", "disk-ok": "đĩa đủ chỗ trở lại",
    "reserve-released": "nhả chỗ dự trữ", "emergency-dropped": "bỏ tin khẩn cấp",
    "reconcile-conflict": "không ghi bù được",
}


def kind_of(session: str) -> str:
    if session == "khan-cap":
        return "khan-cap"
    return "thong-bao" if session.startswith("thong-bao:") else "lich"


def topic_of(bulletin: str) -> str:
    """A bulletin split into parts (IV.1.a-p1, -p2) is one plan topic."""
    head, sep, tail = bulletin.rpartition("-p")
    return head if sep and tail.isdigit() else bulletin


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
    kind: str = "lich"
    clip_s: float | None = None
    summary: str | None = None
    volume: int | None = None


COLUMNS = tuple(PlayRow.__dataclass_fields__)


_FIELDS = COLUMNS[1:]  # all but id
_INSERT = (f"INSERT INTO plays ({', '.join(_FIELDS)}) "
           f"VALUES ({', '.join('?' * len(_FIELDS))})")


def play_fields(*, play_key: str, station: str, zone: str, program: str, session: str,
                bulletin: str, title: str, field: int | None, priority: int | None,
                scheduled_at: datetime, now: datetime, status: str = "playing",
                reason: str | None = None, engine: str | None = None,
                clip_hash: str | None = None, clip_s: float | None = None,
                summary: str | None = None, volume: int | None = None) -> dict:
    """A claimed play's row, column by column (all but id), as stored."""
    at = now.isoformat(timespec="milliseconds")
    return {"play_key": play_key, "station": station, "zone": zone, "program": program,
            "session": session, "bulletin": bulletin, "title": title, "field": field,
            "priority": priority, "scheduled_at": scheduled_at.isoformat(),
            "started_at": at if status == "playing" else None, "ended_at": None,
            "duration_s": None, "status": status, "reason": reason, "engine": engine,
            "clip_hash": clip_hash, "recorded_at": at, "kind": kind_of(session),
            "clip_s": None if clip_s is None else round(clip_s, 3), "summary": summary,
            "volume": volume}


@dataclass(frozen=True)
class LogFilter:
    """Which plays: scheduled in [since, until), and any of the zones/statuses/bulletins.
    A bulletin matches by key, by outline id (IV.1.a) or by topic (its parts too)."""

    since: datetime | None = None
    until: datetime | None = None
    zones: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    bulletins: tuple[str, ...] = ()

    @property
    def whole_months(self) -> bool:
        """Bounds at the start of a month: the per-month totals can answer."""
        return all(t is None or (t.day, t.hour, t.minute, t.second, t.microsecond)
                   == (1, 0, 0, 0, 0) for t in (self.since, self.until))

    def where(self, months: bool = False) -> tuple[str, list]:
        """SQL WHERE for `plays`, or with months=True for `play_totals`."""
        where, args = [], []
        column = "month" if months else "scheduled_at"
        for op, bound in ((">=", self.since), ("<", self.until)):
            if bound is not None:
                where.append(f"{column} {op} ?")
                args.append(f"{bound:%Y-%m}" if months else bound.isoformat())
        for column, values in (("zone", self.zones), ("status", self.statuses)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                args.extend(values)
        if self.bulletins:
            ors = []
            for b in self.bulletins:
                # exact key, plan-less id, or a part of the topic
                ors.append("(bulletin = ? OR bulletin LIKE ? ESCAPE '\\' "
                           "OR bulletin GLOB ? OR bulletin GLOB ?)")
                like = b.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                glob = "".join(f"[{c}]" if c in "*?[" else c for c in b)
                args.extend([b, f"%/{like}", f"{glob}-p[0-9]*", f"*/{glob}-p[0-9]*"])
            where.append("(" + " OR ".join(ors) + ")")
        return (" WHERE " + " AND ".join(where)) if where else "", args


ALL = LogFilter()


class LogStore:
    """Thread-safe; every write is its own committed transaction (WAL, synchronous=FULL)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LoaError(f"không mở được sổ nhật ký phát ({exc}).", self.path) from None

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise LoaError(
                f"sổ nhật ký do phiên bản loa mới hơn tạo (lược đồ {version}); hãy cập nhật loa.",
                self.path,
            )

    def _migrate(self) -> None:
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("BEGIN IMMEDIATE")  # two processes opening at once migrate once
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(version)
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[v]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={v}")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @property
    def version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, **play) -> int | None:
        """Insert the row for a play (see play_fields); None if its play_key was already
        recorded."""
        row = play_fields(**play)
        with self._lock:
            cur = self._db.execute(_INSERT.replace("INSERT", "INSERT OR IGNORE", 1),
                                   tuple(row[c] for c in _FIELDS))
            return cur.lastrowid if cur.rowcount else None

    def record(self, play: dict) -> int:
        """Write the truth about a play kept aside while the log could not be written:
        insert it with its final status, or move its 'playing' row to that status. A row
        already final stays as it is (the history triggers allow nothing else)."""
        row = {c: play.get(c) for c in _FIELDS}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                found = self._db.execute("SELECT id, status FROM plays WHERE play_key=?",
                                         (row["play_key"],)).fetchone()
                if found is None:
                    row_id = self._db.execute(_INSERT, tuple(row[c] for c in _FIELDS)).lastrowid
                else:
                    row_id = found[0]
                    if found[1] == "playing" and row["status"] != "playing":
                        self._db.execute(
                            """UPDATE plays SET status=?, reason=?,
                               started_at=COALESCE(?, started_at), ended_at=?, duration_s=?
                               WHERE id=?""",
                            (row["status"], row["reason"], row["started_at"], row["ended_at"],
                             row["duration_s"], row_id))
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
        return row_id

    def tick(self, now: datetime) -> dict:
        """The daemon's periodic look at the log's health; every write here is direct."""
        return {}

    def finish(self, row_id: int, *, status: str, started_at: datetime | None,
               ended_at: datetime, reason: str | None = None) -> None:
        """'playing' -> final status; the trigger keeps the 'playing' state in history."""
        # milliseconds, as the per-month totals count them: reports reconcile to the row
        duration = round((ended_at - started_at).total_seconds(), 3) if started_at else None
        with self._lock:
            self._db.execute(
                """UPDATE plays SET status=?, reason=?, started_at=COALESCE(?, started_at),
                   ended_at=?, duration_s=? WHERE id=?""",
                (status, reason,
                 started_at.isoformat(timespec="milliseconds") if started_at else None,
                 ended_at.isoformat(timespec="milliseconds"), duration, row_id),
            )

    def event(self, kind: str, at: datetime, detail: str = "", durable: bool = False) -> None:
        """Raises if it cannot be written (`durable` matters to a store that journals)."""
        with self._lock:
            self._db.execute("INSERT INTO events (at, kind, detail) VALUES (?,?,?)",
                             (at.isoformat(timespec="milliseconds"), kind, detail))

    def plays(self, limit: int | None = None, since: datetime | None = None,
              until: datetime | None = None, where: LogFilter | None = None) -> list[PlayRow]:
        """Newest first."""
        if where is None:
            where = LogFilter(since=since, until=until)
        clause, args = where.where()
        sql = f"SELECT {', '.join(COLUMNS)} FROM plays{clause} ORDER BY scheduled_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [PlayRow(*r) for r in rows]

    def _stream(self, sql: str, args: list, batch: int):
        """Batches of rows, fetched under the lock: a year must not sit in memory."""
        cur = self._db.cursor()
        with self._lock:
            cur.execute(sql, args)
        while True:
            with self._lock:
                rows = cur.fetchmany(batch)
            if not rows:
                return
            yield rows

    def iter_raw(self, where: LogFilter = ALL, batch: int = 20000):
        """Tuples in COLUMNS order, oldest first."""
        clause, args = where.where()
        for rows in self._stream(f"SELECT {', '.join(COLUMNS)} FROM plays{clause} "
                                 "ORDER BY scheduled_at, id", args, batch):
            yield from rows

    def iter_csv(self, where: LogFilter = ALL, batch: int = 50000):
        """Lists of ready CSV lines (UTF-8 bytes), oldest first."""
        period = LogFilter(since=where.since, until=where.until)
        clause, args = period.where()
        if where != period:  # zone, status or bulletin: pick the plays first
            rest, more = where.where()
            clause += (" AND " if clause else " WHERE ") + f"play_id IN (SELECT id FROM plays{rest})"
            args += more
        # as UTF-8 bytes: decoding 400 MB to str and encoding it back cost 2 s a year
        for rows in self._stream(f"SELECT CAST(line AS BLOB) FROM plays_csv{clause} "
                                 "ORDER BY scheduled_at, play_id", args, batch):
            yield [r[0] for r in rows]

    def iter_plays(self, where: LogFilter = ALL, batch: int = 20000):
        for r in self.iter_raw(where, batch):
            yield PlayRow(*r)

    def query(self, sql: str, args: list | tuple = ()) -> list[tuple]:
        """Read-only aggregate queries for reports."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def history(self, play_id: int) -> list[tuple]:
        """Earlier states of a play, oldest first: (status, reason, started_at, replaced_at)."""
        with self._lock:
            return self._db.execute(
                "SELECT status, reason, started_at, replaced_at FROM play_history "
                "WHERE play_id=? ORDER BY id", (play_id,)).fetchall()

    def last_start(self) -> datetime | None:
        """When the most recent play started: the clock must never be before it."""
        with self._lock:
            row = self._db.execute(
                "SELECT started_at FROM plays WHERE started_at IS NOT NULL "
                "ORDER BY started_at DESC LIMIT 1").fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def recover(self, now: datetime, reason: str, keep: tuple[str, ...] = ()) -> int:
        """Plays left 'playing' by a crash or power cut become 'interrupted' (never replayed);
        `keep`: play_keys whose truth is known elsewhere (the journal), left as they are."""
        sql = "UPDATE plays SET status='interrupted', reason=?, ended_at=? WHERE status='playing'"
        args = [reason, now.isoformat(timespec="milliseconds")]
        if keep:
            sql += f" AND play_key NOT IN ({','.join('?' * len(keep))})"
            args.extend(keep)
        with self._lock:
            return self._db.execute(sql, args).rowcount

    def events(self, limit: int | None = 50, since: datetime | None = None,
               until: datetime | None = None) -> list[tuple[str, str, str]]:
        """(at, kind, detail), newest first."""
        sql, args = "SELECT at, kind, detail FROM events", []
        where = []
        if since is not None:
            where.append("at >= ?")
            args.append(since.isoformat())
        if until is not None:
            where.append("at < ?")
            args.append(until.isoformat())
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock:
            return self._db.execute(sql, args).fetchall()


def _statements(script: str) -> list[str]:
    """Split a migration into statements (triggers hold ';' inside BEGIN ... END)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
