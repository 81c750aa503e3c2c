"""Plays the log could not record, kept aside until it can.

Residents matter more than the bookkeeping: when SQLite cannot write (disk full, I/O
error, read-only), a play still airs. What the log should have said is kept in memory
and in `journal.bin`, a small file allocated once at full size and then overwritten in
place, so writing it needs no free space. When the log is writable again each kept play
becomes exactly one final row (inserted, or its 'playing' row moved to the final
status), and the failure and the recovery become events. At start the journal is read
before 'playing' rows are judged interrupted: a play that finished in full while the
log was unwritable is logged as played."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import sqlite3
import struct
import threading
import zlib
from datetime import datetime
from pathlib import Path

from loa.clock import Clock, SystemClock
from loa.errors import LoaError
from loa.log.disk import RESERVE_NAME, Reserve, disk_state
from loa.log.store import COLUMNS, LogStore, play_fields

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.bin"
# What a failed write raises. IntegrityError (a final status rewritten) is a bug or a
# second writer, not a disk problem: it is never journaled.
WRITE_ERRORS = (sqlite3.OperationalError, sqlite3.DatabaseError, OSError)


class JournalFull(Exception):
    pass


def why_vi(exc: BaseException) -> str:
    """Why the log could not be written, for the officer (events, loa status)."""
    from loa.fsio import os_error_vi

    text = str(exc).lower()
    if isinstance(exc, OSError):
        reason = os_error_vi(exc)
        if reason:
            return reason
    for needle, reason in (("full", "đĩa đã đầy"), ("i/o", "lỗi đọc ghi đĩa (thẻ nhớ hỏng?)"),
                           ("readonly", "ổ đĩa chỉ cho đọc"), ("read-only", "ổ đĩa chỉ cho đọc"),
                           ("locked", "sổ đang bị một chương trình khác khóa"),
                           ("malformed", "tệp sổ bị hỏng"), ("not a database", "tệp sổ bị hỏng")):
        if needle in text:
            return reason
    return f"lỗi ghi sổ ({type(exc).__name__})"


class Journal:
    """Two fixed-size slots written in turn, each with a sequence number and a CRC: a
    write torn by a power cut leaves the other slot, one step older, readable."""

    SLOT = 256 * 1024  # ~300 plays with their summaries
    MAGIC = b"LOAJRNL1"
    HEAD = struct.Struct("<8sQII")  # magic, sequence, payload length, crc32

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._seq = 0

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> dict:
        """Allocate the file if needed (needs free space once), open it, return its state."""
        if not (self.path.exists() and self.path.stat().st_size >= 2 * self.SLOT):
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                try:
                    os.write(fd, bytes(2 * self.SLOT))  # real blocks, not a sparse file
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        self._seq, state = self.read(self.path)
        self._fd = os.open(self.path, os.O_RDWR)
        return state

    @classmethod
    def read(cls, path: str | Path) -> tuple[int, dict]:
        """(sequence, state) of the newest whole slot; (0, empty) when there is none."""
        best = (0, {"plays": {}, "events": []})
        try:
            with open(path, "rb") as fh:
                for slot in range(2):
                    fh.seek(slot * cls.SLOT)
                    head = fh.read(cls.HEAD.size)
                    if len(head) < cls.HEAD.size:
                        continue
                    magic, seq, length, crc = cls.HEAD.unpack(head)
                    if magic != cls.MAGIC or length > cls.SLOT - cls.HEAD.size:
                        continue
                    payload = fh.read(length)
                    if zlib.crc32(payload) != crc or seq <= best[0]:
                        continue
                    try:
                        best = (seq, json.loads(payload))
                    except ValueError:
                        continue
        except FileNotFoundError:
            pass
        return best

    def write(self, state: dict) -> None:
        if self._fd is None:
            raise OSError(errno.EBADF, "journal not open")
        payload = json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode()
        if len(payload) > self.SLOT - self.HEAD.size:
            raise JournalFull(len(payload))
        seq = self._seq + 1
        head = self.HEAD.pack(self.MAGIC, seq, len(payload), zlib.crc32(payload))
        os.pwrite(self._fd, head + payload, (seq % 2) * self.SLOT)
        os.fdatasync(self._fd)
        self._seq = seq

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def pending_in(data_dir: str | Path) -> dict:
    """What a data dir's journal still holds (for `loa status`); empty if none."""
    return Journal.read(Path(data_dir) / JOURNAL_NAME)[1]


def _lack_of_space(exc: BaseException) -> bool:
    return (getattr(exc, "errno", None) == errno.ENOSPC or "full" in str(exc).lower()
            or "no space" in str(exc).lower())


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="milliseconds") if t is not None else None


def _finalize(play: dict, status: str, started_at: datetime | None, ended_at: datetime,
              reason: str | None) -> None:
    play.update(status=status, reason=reason, ended_at=_iso(ended_at))
    if started_at is not None:
        play["started_at"] = _iso(started_at)
    start = play.get("started_at")
    play["duration_s"] = (round((ended_at - datetime.fromisoformat(start)).total_seconds(), 3)
                          if start else None)


class JournaledLogStore(LogStore):
    """The daemon's log: a failed write never raises, never stops a play; see the module.

    A claim returns the row id, or the play_key when the play is only in the journal;
    finish accepts either."""

    def __init__(self, path: str | Path, journal: str | Path | None = None,
                 reserve: Reserve | None = None, clock: Clock | None = None):
        self.clock = clock or SystemClock()
        data = Path(path).parent
        data.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(journal or data / JOURNAL_NAME)
        self.reserve = reserve or Reserve(data / RESERVE_NAME)
        self._jlock = threading.RLock()
        self._pending: dict[str, dict] = {}  # play_key -> row not yet in the log
        self._events: list[list] = []  # [at, kind, detail] not yet in the log
        self._claimed: dict[int, dict] = {}  # rows claimed by this process, until finished
        self._claiming: set[str] = set()  # play keys being claimed right now
        self._journal_retry = 0.0  # monotonic time of the next try to open the journal
        self._failing: str | None = None  # the error of the failure episode under way
        self._failed_at: str | None = None
        self._written = [0, 0]  # plays, events written late in this episode
        self._recover_due: tuple[datetime, str] | None = None
        self._disk_low: bool | None = None
        self._disk = None
        self._journal_warned = False
        self.reserve.ensure()
        self._open_journal()
        try:
            super().__init__(path)
        except LoaError:
            if not self.reserve.release():
                raise
            super().__init__(path)  # the ballast's room may be what opening needs

    # --- the journal file -------------------------------------------------------------

    def _open_journal(self) -> None:
        try:
            state = self.journal.open()
        except OSError as exc:
            if not self._journal_warned:
                log.error("cannot open the journal %s (%s): plays the log cannot take are "
                          "kept in memory only", self.journal.path, exc)
                self._journal_warned = True
            return
        with self._jlock:
            self._pending.update(state.get("plays", {}))
            self._events[:0] = state.get("events", [])
            if (self._pending or self._events) and self._failing is None:
                # left by an earlier run: its failure episode goes on until written
                first = next((e for e in self._events if e[1] == "log-write-failed"),
                             [None, None, "lần chạy trước"])
                self._failed_at, self._failing = first[0], first[2]
                self._written = [0, 0]

    def _save(self) -> bool:
        """The journal on disk says what memory says (called with _jlock held); False
        when it could not be written (memory holds it)."""
        if not self.journal.is_open:
            return False
        state = {"plays": self._pending, "events": self._events}
        try:
            try:
                self.journal.write(state)
            except JournalFull:  # keep every play; summaries and old events can go
                plays = {k: {**v, "summary": None} for k, v in self._pending.items()}
                self.journal.write({"plays": plays, "events": self._events[-20:]})
            self._journal_warned = False
            return True
        except (OSError, JournalFull) as exc:
            if not self._journal_warned:
                log.error("cannot write the journal %s (%s): %d plays kept in memory only",
                          self.journal.path, exc, len(self._pending))
                self._journal_warned = True
            return False

    @property
    def waiting(self) -> int:
        """Plays not yet in the log."""
        with self._jlock:
            return len(self._pending)

    # --- failures and recovery --------------------------------------------------------

    def _failed(self, exc: BaseException, at: datetime) -> None:
        """One write failed: start (or carry on) the failure episode; free room if full."""
        with self._jlock:
            if self._failing is None:
                self._failing, self._failed_at = why_vi(exc), _iso(at)
                self._written = [0, 0]
                self._events.append([_iso(at), "log-write-failed", self._failing])
                # one line per episode, not one per write
                log.error("cannot write the as-played log (%s); plays are kept in %s and "
                          "logged when it can be written", exc, self.journal.path)
            released = _lack_of_space(exc) and self.reserve.release()
            if released:
                self._events.append([_iso(at), "reserve-released",
                                     f"{self.reserve.path.name}: "
                                     f"{self.reserve.size // (1024 * 1024)} MB"])
            self._save()

    def _flush(self, now: datetime) -> bool:
        """Write what the journal holds; True when nothing is left waiting. Called by the
        watcher (tick), at start and at close — never on the air path — and it takes the
        journal's lock one row at a time, so a claim never waits for a whole catch-up."""
        with self._jlock:
            if not (self._pending or self._events or self._recover_due or self._failing):
                return True
        try:
            with self._jlock:
                due, self._recover_due = self._recover_due, None
            if due is not None:
                try:
                    LogStore.recover(self, *due, keep=self._keep())
                except BaseException:
                    self._recover_due = due
                    raise
            while True:
                with self._jlock:
                    # a play still on air is written when it ends
                    key = next((k for k, p in self._pending.items()
                                if p["status"] != "playing"), None)
                    play = dict(self._pending[key]) if key is not None else None
                if key is None:
                    break
                try:
                    LogStore.record(self, play)
                    self._written[0] += 1
                except sqlite3.IntegrityError as exc:  # never expected: say it in the log
                    log.error("play %s not reconciled: %s", key, exc)
                    with self._jlock:
                        self._events.append([_iso(now), "reconcile-conflict",
                                             f"{play.get('title')} ({key}): sổ không nhận "
                                             "trạng thái trong tệp nhật ký chờ"])
                with self._jlock:
                    self._pending.pop(key, None)
            while True:
                with self._jlock:
                    if not self._events:
                        break
                    at, kind, detail = self._events[0]
                LogStore.event(self, kind, datetime.fromisoformat(at), detail)
                with self._jlock:
                    self._events.pop(0)
                    self._written[1] += 1
            with self._jlock:
                if self._failing is not None and not self._pending:
                    plays, events = self._written
                    LogStore.event(self, "log-reconciled", now,
                                   f"ghi bù {plays} lượt phát, {events} sự kiện; sổ không ghi "
                                   f"được từ {self._failed_at} ({self._failing})")
                    log.warning("as-played log writable again: %d plays, %d events written "
                                "from the journal", plays, events)
                    self._failing = None
        except WRITE_ERRORS as exc:
            self._failed(exc, now)
            return False
        finally:
            with self._jlock:
                self._save()
        with self._jlock:
            return not self._pending

    def _keep(self) -> tuple[str, ...]:
        """Plays whose 'playing' row recovery must not touch: the journal knows their
        truth, or this process is claiming or playing them."""
        with self._jlock:
            return (tuple(self._pending) + tuple(self._claiming)
                    + tuple(p["play_key"] for p in self._claimed.values()))

    # --- writes -----------------------------------------------------------------------

    def claim(self, **play) -> int | str | None:
        row = play_fields(**play)
        key, now = row["play_key"], play["now"]
        with self._jlock:
            if key in self._pending:
                return None  # recorded in the journal: never played twice
            self._claiming.add(key)  # before the row exists: recovery must not cut it
        try:
            return self._claim(key, row, play, now)
        finally:
            with self._jlock:
                self._claiming.discard(key)

    def _claim(self, key: str, row: dict, play: dict, now: datetime) -> int | str | None:
        try:
            row_id = super().claim(**play)
        except sqlite3.IntegrityError:
            raise  # a bug or a second writer, not a disk problem
        except WRITE_ERRORS as exc:
            self._failed(exc, now)
            with contextlib.suppress(*WRITE_ERRORS):
                found = self._query("SELECT id, recorded_at FROM plays WHERE play_key=?",
                                   (key,))
                if found and found[0][1] == row["recorded_at"]:  # it went in after all
                    with self._jlock:
                        self._claimed[found[0][0]] = row
                    return found[0][0]
                if found:
                    return None  # recorded before: never played twice
            with self._jlock:
                self._pending[key] = row
                self._save()
            return key
        if row_id is not None:
            with self._jlock:
                self._claimed[row_id] = row
        return row_id

    def finish(self, row_id: int | str, *, status: str, started_at: datetime | None,
               ended_at: datetime, reason: str | None = None) -> None:
        if isinstance(row_id, str):  # known to the journal only
            with self._jlock:
                _finalize(self._pending[row_id], status, started_at, ended_at, reason)
                self._save()
            return
        try:
            super().finish(row_id, status=status, started_at=started_at, ended_at=ended_at,
                           reason=reason)
        except sqlite3.IntegrityError as exc:  # already final: the log keeps its word
            log.error("play %s not finished as %s: %s", row_id, status, exc)
        except WRITE_ERRORS as exc:
            self._failed(exc, ended_at)
            with self._jlock:
                play = dict(self._claimed.pop(row_id, None) or {})
                if not play:  # not claimed here: read its row back
                    with contextlib.suppress(*WRITE_ERRORS):
                        play = self._row_dict(row_id)
                if not play:
                    log.error("play %s ended %s but neither the log nor the journal can "
                              "say so", row_id, status)
                    return
                _finalize(play, status, started_at, ended_at, reason)
                self._pending[play["play_key"]] = play
                self._save()
            return
        with self._jlock:
            self._claimed.pop(row_id, None)

    def _row_dict(self, row_id: int) -> dict:
        found = self._query(f"SELECT {', '.join(COLUMNS)} FROM plays WHERE id=?", (row_id,))
        return dict(zip(COLUMNS[1:], found[0][1:], strict=True)) if found else {}

    def event(self, kind: str, at: datetime, detail: str = "", durable: bool = False) -> None:
        """Never raises for a failed write, unless `durable` and neither the log nor the
        journal file could keep it (an emergency is not accepted on memory alone)."""
        try:
            super().event(kind, at, detail)
        except sqlite3.IntegrityError:
            raise
        except WRITE_ERRORS as exc:
            self._failed(exc, at)
            with self._jlock:
                entry = [_iso(at), kind, detail]
                self._events.append(entry)
                kept = self._save()
                if durable and not kept:  # refused: it must not reach the log later
                    self._events.remove(entry)
            if durable and not kept:
                raise

    def recover(self, now: datetime, reason: str, keep: tuple[str, ...] = ()) -> int:
        """The journal of a previous life first, then the 'playing' rows it does not
        explain become 'interrupted'."""
        with self._jlock:
            cut = [p for p in self._pending.values() if p["status"] == "playing"]
            for play in cut:  # claimed, never finished: the daemon died on air
                _finalize(play, "interrupted", None, now, reason)
                play["duration_s"] = None  # when it stopped is not known
            self._save()
        self._flush(now)
        try:
            return super().recover(now, reason, keep=tuple(keep) + self._keep()) + len(cut)
        except WRITE_ERRORS as exc:
            self._failed(exc, now)
            with self._jlock:
                self._recover_due = (now, reason)
            return len(cut)

    def last_start(self) -> datetime | None:
        """Plays kept in the journal count: the clock must not be before them either."""
        try:
            last = super().last_start()
        except WRITE_ERRORS:
            last = None
        with self._jlock:
            starts = [datetime.fromisoformat(p["started_at"]) for p in self._pending.values()
                      if p.get("started_at")]
        return max([t for t in (last, *starts) if t is not None], default=None)

    # --- the daemon's periodic look ----------------------------------------------------

    def tick(self, now: datetime) -> dict:
        """Retry what waits; watch free space (event once per low-disk episode); keep the
        ballast. Returns the health fields of the daemon's heartbeat."""
        with self._jlock:
            if not self.journal.is_open and self.clock.monotonic() >= self._journal_retry:
                # each try writes up to a whole journal on a full disk: not every second
                self._journal_retry = self.clock.monotonic() + 60.0
                self._open_journal()
            waiting = self._pending or self._events or self._failing or self._recover_due
        if waiting:
            self._flush(now)  # takes the lock row by row: the player is never held up
        with self._jlock:  # one look at a time: one event per episode
            with contextlib.suppress(OSError):
                self._disk = disk_state(self.path.parent)
            if self._disk is not None:
                if self._disk.low and self._disk_low is not True:
                    self.event("disk-low", now, self._disk.describe())
                    log.warning("low disk space in %s: %d MB free", self.path.parent,
                                self._disk.free // (1024 * 1024))
                elif not self._disk.low and self._disk_low is True:
                    self.event("disk-ok", now, self._disk.describe())
                self._disk_low = self._disk.low
            idle = self._failing is None and not self._pending
        if idle:
            self.reserve.ensure()  # room is back (or was never short): ballast again
        return self.health()

    def health(self) -> dict:
        with self._jlock:
            out = {"log_writable": self._failing is None, "log_error": self._failing,
                   "journal": len(self._pending), "journal_events": len(self._events)}
        if self._disk is not None:
            out.update(disk_free=self._disk.free, disk_total=self._disk.total,
                       disk_low=self._disk.low)
        out["reserve"] = self.reserve.present
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._flush(self.clock.now())
        self.journal.close()
        super().close()
