"""The as-played log: one SQLite row per play, written before the play starts.

A row is inserted when a play is claimed ('playing', or straight away 'missed' /
'skipped' / 'failed') and moves once to its final status. The database itself keeps
the history: a trigger copies the old state of every update into `play_history`, the
facts of a play (what, where, when scheduled) cannot change, a final status cannot be
rewritten, and nothing can be deleted. WAL + synchronous=FULL: a committed row survives
a power cut."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from loa.errors import LoaError
from loa.languages import LANGUAGES
from loa.log.disk import disk_state
from loa.log.labels import (  # noqa: F401 - old path
    ENGINE_VI,
    EVENT_VI,
    KIND_VI,
    STATUS_VI,
    Names,
    kind_of,
)
from loa.log.migrations import MIGRATIONS, SCHEMA_VERSION, statements

_log = logging.getLogger(__name__)


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
    language: str = "vi"  # ISO 639 code of the version that aired (loa.languages)


COLUMNS = tuple(PlayRow.__dataclass_fields__)


_FIELDS = COLUMNS[1:]  # all but id
_INSERT = (f"INSERT INTO plays ({', '.join(_FIELDS)}) "
           f"VALUES ({', '.join('?' * len(_FIELDS))})")


def play_fields(*, play_key: str, station: str, zone: str, program: str, session: str,
                bulletin: str, title: str, field: int | None, priority: int | None,
                scheduled_at: datetime, now: datetime, status: str = "playing",
                reason: str | None = None, engine: str | None = None,
                clip_hash: str | None = None, clip_s: float | None = None,
                summary: str | None = None, volume: int | None = None,
                language: str = "vi") -> dict:
    """A claimed play's row, column by column (all but id), as stored."""
    at = now.isoformat(timespec="milliseconds")
    return {"play_key": play_key, "station": station, "zone": zone, "program": program,
            "session": session, "bulletin": bulletin, "title": title, "field": field,
            "priority": priority, "scheduled_at": scheduled_at.isoformat(),
            "started_at": at if status == "playing" else None, "ended_at": None,
            "duration_s": None, "status": status, "reason": reason, "engine": engine,
            "clip_hash": clip_hash, "recorded_at": at, "kind": kind_of(session),
            "clip_s": None if clip_s is None else round(clip_s, 3), "summary": summary,
            "volume": volume, "language": language}


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
                for statement in statements(MIGRATIONS[v]):
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
        row["language"] = row["language"] or "vi"  # journalled before languages existed
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
              until: datetime | None = None, where: LogFilter | None = None,
              offset: int = 0) -> list[PlayRow]:
        """Newest first; `offset` rows skipped (a page of the console's log)."""
        if where is None:
            where = LogFilter(since=since, until=until)
        clause, args = where.where()
        sql = f"SELECT {', '.join(COLUMNS)} FROM plays{clause} ORDER BY scheduled_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
            if offset:
                sql += " OFFSET ?"
                args.append(offset)
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

    def iter_csv(self, where: LogFilter = ALL, names: Names | None = None,
                 batch: int = 20000, workers: int = 2, cache: bool = True):
        """Lists of CSV lines (UTF-8 bytes, see loa.report.export.CSV_HEADERS), oldest
        first. Built here, in SQL, with today's labels and names passed as parameters
        (formatting a million rows in Python took ~17 s), by `workers` threads, each on
        its own connection, over consecutive slices of the log: SQLite formats without
        the GIL, so a year exports in about half the time on two cores.

        A final play never changes, so its line is kept in `export_lines` with the form
        (labels, names, format) it was built with and read back as stored next time (a
        year re-exported each quarter): 21 us a row of SQL formatting saved. Keeping it
        is best effort: a locked, full or read-only log still exports. `cache=False`:
        every line built, none kept.

        Lines read as kept are read by one thread: two threads only fight over the GIL
        (2x slower); the period's oldest play tells whether they are kept."""
        line, params = _csv_line(names or Names())
        form = _form(line, params) if cache else None
        clause, args = where.where()
        # a line of today's form as stored; else built, with the id to keep it under
        join = f"FROM plays LEFT JOIN export_lines e ON e.play_id = id{clause}"
        select = (f"SELECT CASE WHEN e.form = ? THEN e.line ELSE CAST({line} AS BLOB) END, "
                  f"CASE WHEN e.form IS NOT ? AND status != 'playing' THEN id END {join}")
        params = [form, *params, form]
        keeper = _LineKeeper(self.path, form) if cache else None
        if workers > 1 and cache:
            kept = self._query(f"SELECT e.form = ? {join} ORDER BY scheduled_at, id LIMIT 1",
                               [form, *args])
            if kept and kept[0][0]:
                workers = 1
        try:
            if workers <= 1:
                # as UTF-8 bytes: decoding 400 MB to str and encoding it back cost 2 s a year
                for rows in self._stream(f"{select} ORDER BY scheduled_at, id",
                                         params + args, batch):
                    yield [r[0] for r in rows]
                    if keeper:
                        keeper.keep(rows)
                return
            starts = self._slices(where, batch)
            joiner = " AND " if clause else " WHERE "

            def read(k: int) -> list[tuple]:
                sql, more = select + joiner + "(scheduled_at, id) >= (?, ?)", list(starts[k])
                if k + 1 < len(starts):
                    sql += " AND (scheduled_at, id) < (?, ?)"
                    more += list(starts[k + 1])
                db = sqlite3.connect(self.path, isolation_level=None)
                try:
                    db.execute("PRAGMA query_only=1")
                    return db.execute(f"{sql} ORDER BY scheduled_at, id",
                                      params + args + more).fetchall()
                finally:
                    db.close()

            with ThreadPoolExecutor(workers, thread_name_prefix="loa-csv") as pool:
                pending: deque = deque()
                k = 0
                while k < len(starts) or pending:
                    while k < len(starts) and len(pending) <= workers:
                        pending.append(pool.submit(read, k))  # a few slices, never the year
                        k += 1
                    rows = pending.popleft().result()
                    yield [r[0] for r in rows]
                    if keeper:
                        keeper.keep(rows)
        finally:
            if keeper:
                keeper.close()

    def _slices(self, where: LogFilter, size: int) -> list[tuple[str, int]]:
        """(scheduled_at, id) where each slice of about `size` plays of the period
        starts, from the index alone (zone/status/bulletin filters apply later)."""
        clause, args = LogFilter(since=where.since, until=where.until).where()
        joiner = " AND " if clause else " WHERE "
        key = f"SELECT scheduled_at, id FROM plays{clause}"
        order = " ORDER BY scheduled_at, id LIMIT 1"
        with self._lock:
            found = self._db.execute(key + order, args).fetchone()
            starts = []
            while found:
                starts.append(found)
                found = self._db.execute(
                    key + joiner + "(scheduled_at, id) >= (?, ?)" + order + " OFFSET ?",
                    [*args, *found, size]).fetchone()
        return starts

    def count(self, where: LogFilter = ALL) -> int:
        """How many plays match."""
        clause, args = where.where()
        return self._query(f"SELECT COUNT(*) FROM plays{clause}", args)[0][0]

    def tallies(self, where: LogFilter = ALL) -> list[tuple]:
        """Plays grouped by bulletin, zone, month (station time), status, reason, kind:
        (bulletin, zone, 'YYYY-MM', status, reason or '', kind, plays, airtime_s, asked_s,
        title). Whole months are read from the per-month totals the triggers keep."""
        if where.whole_months:  # no sort of a million plays
            clause, args = where.where(months=True)
            return self._query(
                "SELECT bulletin, zone, month, status, reason, kind, SUM(plays), "
                "SUM(airtime_ms) / 1000.0, SUM(asked_ms) / 1000.0, MAX(title) "
                f"FROM play_totals{clause} GROUP BY 1, 2, 3, 4, 5, 6", args)
        clause, args = where.where()
        return self._query(
            "SELECT bulletin, zone, substr(scheduled_at, 1, 7), status, COALESCE(reason, ''), "
            "kind, COUNT(*), COALESCE(SUM(duration_s), 0), COALESCE(SUM(clip_s), 0), "
            f"MAX(title) FROM plays{clause} GROUP BY 1, 2, 3, 4, 5, 6", args)

    def languages(self, where: LogFilter = ALL) -> list[tuple]:
        """Plays per language, status and kind: (language, status, kind, plays,
        airtime_s, asked_s). Whole months (and no bulletin filter) are read from the
        per-month totals the triggers keep."""
        if where.whole_months and not where.bulletins:
            clause, args = where.where(months=True)
            return self._query(
                "SELECT language, status, kind, SUM(plays), SUM(airtime_ms) / 1000.0, "
                f"SUM(asked_ms) / 1000.0 FROM language_totals{clause} GROUP BY 1, 2, 3", args)
        clause, args = where.where()
        return self._query(
            "SELECT language, status, kind, COUNT(*), COALESCE(SUM(duration_s), 0), "
            f"COALESCE(SUM(clip_s), 0) FROM plays{clause} GROUP BY 1, 2, 3", args)

    def voices(self, where: LogFilter = ALL) -> list[tuple[str, int]]:
        """Aired plays (played, late) per voice: (engine code, plays); 'ghi-am' is the
        officer's recording. Read from the plays: a period's rows, on the date index."""
        clause, args = where.where()
        joiner = " AND " if clause else " WHERE "
        return self._query(
            f"SELECT COALESCE(engine, ''), COUNT(*) FROM plays{clause}{joiner}"
            "status IN ('played', 'late') GROUP BY 1 ORDER BY 2 DESC, 1", args)

    def bulletin_logged(self, bulletin_id: str) -> bool:
        """Has a play of this bulletin been logged, under its id or as <plan>/<id>?"""
        like = bulletin_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return bool(self._query(
            "SELECT 1 FROM plays WHERE bulletin=? OR bulletin LIKE ? ESCAPE '\\' LIMIT 1",
            (bulletin_id, "%/" + like)))

    def _query(self, sql: str, args: list | tuple = ()) -> list[tuple]:
        """Reads for this package only: callers outside loa.log use the methods above."""
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


# Bump when a line changes in a way the text of its SQL does not show.
CSV_FORMAT = 1


def _form(line: str, params: list) -> str:
    """What a cached line was built with: the format, the SQLite that ran its SQL, the
    SQL and the labels and names passed to it. Any change and every line is built again."""
    text = json.dumps([CSV_FORMAT, sqlite3.sqlite_version, line, params], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class _LineKeeper:
    """Stores the lines an export built, for the next export. Its own connection, no
    waiting on a lock (the daemon's writes come first), short transactions, no fsync
    (a cache lost in a power cut is built again), never into the room the daemon's log
    keeps free (loa.log.disk). The first sqlite error ends keeping for this export,
    silently: the export itself must not fail for a cache."""

    SQL = "INSERT OR REPLACE INTO export_lines (play_id, form, line) VALUES (?, ?, ?)"
    CHUNK = 5000  # rows a transaction: a daemon's write waits a few ms at most

    def __init__(self, path: Path, form: str):
        self.path, self.form, self._db = path, form, None
        self.on = True

    def keep(self, rows: list[tuple]) -> None:
        """rows: (line, id to keep it under or None)."""
        if not self.on:
            return
        todo = [(i, self.form, line) for line, i in rows if i is not None]
        if not todo:
            return
        try:
            disk = disk_state(self.path.parent)
            # the room the daemon's log needs comes first (twice: WAL, then the file)
            if disk.free - 2 * sum(len(t[2]) for t in todo) < disk.threshold:
                _log.debug("export lines not kept (%s): disk low", self.path)
                self.on = False
                self.close()
                return
        except OSError:
            pass
        try:
            if self._db is None:
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=0)
                self._db.execute("PRAGMA synchronous=NORMAL")
            for k in range(0, len(todo), self.CHUNK):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(self.SQL, todo[k:k + self.CHUNK])
                    self._db.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            _log.debug("export lines not kept (%s): %s", self.path, exc)
            self.on = False
            self.close()

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


def _case(expr: str, mapping: dict[str, str], default: str) -> tuple[str, list]:
    """SQL mapping `expr` through `mapping`, values passed as parameters."""
    if not mapping:
        return default, []
    params = [x for k, v in mapping.items() if k for x in (k, v)]
    return f"CASE {expr} {'WHEN ? THEN ? ' * (len(params) // 2)}ELSE {default} END", params


def _csv_line(names: Names) -> tuple[str, list]:
    """SQL for a play's CSV line, in CSV_HEADERS order, and its parameters (labels and
    names of the day). Times are the station's, as stored, plus UTC.

    One printf per row: `%w` quotes CSV text in C, and the line is built in one pass
    (chained `||` copied the growing line ~80 times a row: 3x slower). printf stops at a
    NUL character, so a row whose text holds one is built the slow way, whole."""
    fmt, fast, slow, params = [], [], [], []
    texts = []  # stored text columns, searched for NUL

    def field(spec, arg, expr):
        fmt.append(spec)
        fast.append(arg)
        slow.append(expr)

    def text(sql, column=True):
        value = f"COALESCE({sql}, '')"
        if column:
            texts.append(sql)
        field('"%w"', value, f"""'"' || replace({value}, '"', '""') || '"'""")

    def local(c):
        # 2026-03-01T06:30:00+07:00 -> 01/03/2026 06:30:00, as stored (station time)
        parts = f"substr({c},9), substr({c},6), {c}, substr({c},12)"
        sql = f"CASE WHEN {c} IS NULL THEN '' ELSE printf('%.2s/%.2s/%.4s %.8s', {parts}) END"
        if c == "scheduled_at":  # never NULL: straight into the line's format
            field("%.2s/%.2s/%.4s %.8s", parts, sql)
        else:
            field("%s", sql, sql)

    def number(spec, c):
        field(spec, c, f"printf('{spec}', {c})")

    def plain(sql):
        field("%s", sql, f"COALESCE({sql}, '')")

    def mapped(expr, mapping, default):
        sql, more = _case(expr, mapping, default)
        params.extend(more)
        return sql

    number("%d", "id")
    for c in ("station", "zone", "program", "session", "bulletin", "title"):
        text(c)
    number("%d", "field")
    number("%d", "priority")
    for c in ("scheduled_at", "started_at", "ended_at"):
        local(c)
    number("%.1f", "duration_s")
    plain(mapped("status", STATUS_VI, "status"))
    text("reason")
    texts.append("engine")
    text(mapped("engine", ENGINE_VI, "engine"), column=False)
    text("clip_hash")
    for c in ("scheduled_at", "started_at"):  # UTC; datetime() is 2x faster than strftime()
        plain(f"replace(datetime({c}), ' ', 'T') || 'Z'")
    plain(mapped("kind", KIND_VI, "kind"))
    number("%.1f", "clip_s")
    plan = "substr(bulletin, 1, instr(bulletin, '/') - 1)"
    for kind, column in (("station", "station"), ("zone", "zone"), ("program", "program"),
                         ("session", "session"), ("plan", plan)):
        text(mapped(column, names.maps[kind], "''"), column=False)
    text("language")
    text(mapped("language", LANGUAGES, "language"), column=False)
    slow_line = " || ',' || ".join(f"({e})" for e in slow)
    if any("\0" in v for m in names.maps.values() for v in m.values()):
        return slow_line, params
    fast_line = f"printf('{','.join(fmt)}', {', '.join(fast)})"
    nul = " OR ".join(f"instr({c}, char(0))" for c in texts)
    # parameters in the order they appear: the slow line's, then the fast line's
    return f"CASE WHEN {nul} THEN {slow_line} ELSE {fast_line} END", params + params
