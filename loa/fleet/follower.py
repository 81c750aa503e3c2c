"""The loop beside the daemon that keeps a player in step with its server.

Bundles are pulled (every minute, and when a heartbeat names another one), final play rows
are uploaded in batches and marked sent only once the server accepted them, a heartbeat
goes out every minute, and emergencies arrive over MQTT (or, when the broker cannot be
reached, by polling the server) and are handed to the daemon in this process, then
acknowledged: received, started, finished or failed.

Nothing here can stop a play: without a network the player plays its last good bundle for
as long as it must; a revoked token stops syncing and nothing else."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import random
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from loa.errors import LoaError
from loa.fleet.bundle import BundleClips, BundleRefused, BundleStore, load_bundled, only_zones
from loa.fleet.client import Client, Offline, RateLimited, Refused, Revoked, ServerError
from loa.fsio import atomic_open

log = logging.getLogger(__name__)

DEVICE_FILE = "device.json"
BATCH = 500
PULL_S = 60.0
BEAT_S = 60.0
UPLOAD_S = 15.0
POLL_S = 15.0  # emergencies by HTTP while the broker is unreachable
BACKOFF_MAX_S = 900.0
FINAL_OK = ("played", "late")
INTERRUPTED_VI = ("bị ngắt giữa chừng ({why}), có thể đã phát một phần; không tự phát lại "
                  "để tránh phát hai lần, hãy gửi lại tin nếu vẫn cần")
NOT_AIRED_VI = ("chưa phát: loa run trên cụm loa dừng đột ngột ngay khi nhận tin; không tự "
                "phát lại, hãy gửi lại tin nếu vẫn cần")


def server_dir(data: Path) -> Path:
    return Path(data) / "server"


# --- device.json ------------------------------------------------------------------------

@dataclass
class Device:
    url: str
    device: str
    token: str
    name: str = ""
    station: dict = field(default_factory=dict)
    zones: list[str] = field(default_factory=list)
    mqtt: dict | None = None

    def as_json(self) -> dict:
        return {"url": self.url, "device": self.device, "token": self.token, "name": self.name,
                "station": self.station, "zones": self.zones, "mqtt": self.mqtt}


def save_device(data: Path, device: Device) -> Path:
    """device.json, temp-then-rename, mode 0600: the token is readable only by the user
    loa runs as."""
    path = server_dir(data) / DEVICE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        os.fchmod(fh.fileno(), 0o600)
        json.dump(device.as_json(), fh, ensure_ascii=False, indent=1)
    return path


def load_device(data: Path) -> Device | None:
    path = server_dir(data) / DEVICE_FILE
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LoaError(f"không đọc được tệp đăng ký thiết bị ({exc}).", path) from None
    try:
        return Device(url=raw["url"], device=raw["device"], token=raw["token"],
                      name=raw.get("name") or "", station=raw.get("station") or {},
                      zones=list(raw.get("zones") or []), mqtt=raw.get("mqtt"))
    except (KeyError, TypeError):
        raise LoaError("tệp đăng ký thiết bị thiếu thông tin; hãy chạy lại loa enroll.",
                       path) from None


# --- the outbox: what the server has of the local log ----------------------------------------

class Outbox:
    """<data>/server/outbox.sqlite3: play keys the server accepted, a floor under which every
    row of the log is final and sent, and the emergencies this device took and their acks.
    The log itself is read through a connection of its own (WAL: readers never block)."""

    def __init__(self, path: Path, log_db: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                  timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS sent (play_key TEXT PRIMARY KEY, sent_at TEXT NOT NULL);
            -- rows the server refused one by one (400 bad_row): kept, never resent by
            -- themselves; the log keeps the play itself
            CREATE TABLE IF NOT EXISTS refused (
                play_key TEXT PRIMARY KEY, refused_at TEXT NOT NULL, code TEXT NOT NULL,
                message TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS state (k TEXT PRIMARY KEY, v TEXT);
            CREATE TABLE IF NOT EXISTS emergencies (
                id TEXT PRIMARY KEY, payload TEXT NOT NULL, local TEXT,
                received_at TEXT NOT NULL, closed INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS acks (
                emergency TEXT NOT NULL, stage TEXT NOT NULL, at TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '', sent INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (emergency, stage));
        """)
        self.log_db = Path(log_db)
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _log(self) -> sqlite3.Connection | None:
        if not self.log_db.exists():
            return None
        con = sqlite3.connect(self.log_db, timeout=10)
        con.execute("PRAGMA query_only=1")
        return con

    @property
    def floor(self) -> int:
        row = self.db.execute("SELECT v FROM state WHERE k='floor'").fetchone()
        return int(row[0]) if row else 0

    def _done(self) -> set[str]:
        """Play keys never to send again: accepted, or refused by the server."""
        return {k for (k,) in self.db.execute(
            "SELECT play_key FROM sent UNION ALL SELECT play_key FROM refused")}

    def _unsent(self, con, floor: int, limit: int | None):
        from loa.log.store import COLUMNS

        sent = self._done()
        out, n = [], 0
        cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM plays WHERE id > ? "
                          "AND status != 'playing' ORDER BY id", (floor,))
        for r in cur:
            if r[1] in sent:
                continue
            n += 1
            if limit is None or len(out) < limit:
                out.append(r)
        return out, n

    def pending(self, limit: int = BATCH) -> list[tuple]:
        """Final rows of the log the server has not accepted yet, oldest first."""
        con = self._log()
        if con is None:
            return []
        try:
            return self._unsent(con, self.floor, limit)[0]
        finally:
            con.close()

    def unsent(self) -> int:
        con = self._log()
        if con is None:
            return 0
        try:
            return self._unsent(con, self.floor, 0)[1]
        finally:
            con.close()

    def mark_sent(self, keys: list[str], at: datetime) -> None:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT OR IGNORE INTO sent VALUES (?, ?)",
                                    [(k, at.isoformat()) for k in keys])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        self._raise_floor()

    def _raise_floor(self) -> None:
        """Every row at or under the floor is final and sent: never read again."""
        con = self._log()
        if con is None:
            return
        try:
            floor = self.floor
            sent = self._done()
            new = floor
            for rid, key, status in con.execute(
                    "SELECT id, play_key, status FROM plays WHERE id > ? ORDER BY id", (floor,)):
                if status == "playing" or key not in sent:
                    break
                new = rid
        finally:
            con.close()
        if new != floor:
            self.db.execute("INSERT OR REPLACE INTO state VALUES ('floor', ?)", (str(new),))

    def refuse(self, key: str, at: datetime, code: str, message: str) -> bool:
        """Mark one row refused by the server; True the first time (to log it once)."""
        with self._lock:
            cur = self.db.execute("INSERT OR IGNORE INTO refused VALUES (?, ?, ?, ?)",
                                  (key, at.isoformat(), code, message))
        self._raise_floor()
        return cur.rowcount == 1

    def refused(self) -> int:
        return self.db.execute("SELECT count(*) FROM refused").fetchone()[0]

    # emergencies
    def emergency_known(self, eid: str) -> bool:
        return self.db.execute("SELECT 1 FROM emergencies WHERE id=?", (eid,)).fetchone() \
            is not None

    def take_emergency(self, payload: dict, at: datetime) -> bool:
        """True the first time this id is seen (ever, across restarts)."""
        with self._lock:
            cur = self.db.execute("INSERT OR IGNORE INTO emergencies (id, payload, received_at) "
                                  "VALUES (?, ?, ?)",
                                  (payload["id"], json.dumps(payload, ensure_ascii=False),
                                   at.isoformat()))
            return cur.rowcount == 1

    def set_local(self, eid: str, local: str | None, closed: bool = False) -> None:
        self.db.execute("UPDATE emergencies SET local=?, closed=? WHERE id=?",
                        (local, int(closed), eid))

    def open_emergencies(self) -> list[tuple[str, str | None, dict]]:
        return [(i, loc, json.loads(p)) for i, loc, p in self.db.execute(
            "SELECT id, local, payload FROM emergencies WHERE closed=0")]

    def close_emergency(self, eid: str) -> None:
        self.db.execute("UPDATE emergencies SET closed=1 WHERE id=?", (eid,))

    def add_ack(self, eid: str, stage: str, at: datetime, detail: str = "") -> None:
        self.db.execute("INSERT OR IGNORE INTO acks (emergency, stage, at, detail) "
                        "VALUES (?,?,?,?)", (eid, stage, at.isoformat(), detail))

    def unsent_acks(self) -> list[tuple[str, str, str, str]]:
        return list(self.db.execute("SELECT emergency, stage, at, detail FROM acks "
                                    "WHERE sent=0 ORDER BY at"))

    def ack_sent(self, eid: str, stage: str) -> None:
        self.db.execute("UPDATE acks SET sent=1 WHERE emergency=? AND stage=?", (eid, stage))

    def emergency_rows(self, local: str) -> list[tuple[str, str | None]]:
        """(status, reason) of the log's rows of an emergency the daemon took."""
        con = self._log()
        if con is None:
            return []
        try:
            return list(con.execute("SELECT status, reason FROM plays WHERE bulletin=? "
                                    "AND session='khan-cap'", (local,)))
        finally:
            con.close()


# --- the follower ----------------------------------------------------------------------------

class _Due:
    """When a task next runs: every `every` s; on failure, backoff with jitter."""

    def __init__(self, every: float):
        self.every, self.at, self.fails = every, 0.0, 0

    def due(self, now: float) -> bool:
        return now >= self.at

    def ok(self, now: float) -> None:
        self.fails = 0
        self.at = now + self.every

    def failed(self, now: float, wait: float | None = None) -> None:
        self.fails += 1
        if wait is None:
            wait = min(BACKOFF_MAX_S, self.every * 2 ** min(self.fails - 1, 8))
            wait *= random.uniform(0.5, 1.5)
        self.at = now + wait

    def now(self) -> None:
        self.at = 0.0


def _intervals() -> float:
    """LOA_SYNC_S: one interval for pulls, uploads and heartbeats (tests, field debugging)."""
    try:
        return float(os.environ.get("LOA_SYNC_S", ""))
    except ValueError:
        return 0.0


class Follower:
    """Built before the daemon (it provides the bundle, the clip resolver and the loader),
    attached to it once it runs, then started in a thread of its own."""

    def __init__(self, data: Path, device: Device, url: str | None = None,
                 token: str | None = None, report: Callable[[str], None] = print,
                 clock=None):
        from loa import settings

        self.data = Path(data)
        self.device = device
        self.client = Client(url or device.url, token or device.token)
        self.report = report
        self.clock = clock
        self.store = BundleStore(server_dir(self.data))
        self.clips = BundleClips(self.store)
        self.outbox = Outbox(server_dir(self.data) / "outbox.sqlite3", settings.db_path())
        fast = _intervals()
        self.pull = _Due(fast or PULL_S)
        self.upload = _Due(fast or UPLOAD_S)
        self.beat = _Due(fast or BEAT_S)
        self.poll = _Due(min(fast, POLL_S) if fast else POLL_S)
        self.revoked = False
        self.daemon = None
        self.trust = None
        self.bus = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused: set[str] = set()
        self._offline_told = False
        self._emergency_lock = threading.Lock()
        self._inbox: queue.Queue[tuple[bool, dict]] = queue.Queue()
        self._early: list[tuple[str, datetime, str]] = []
        self._workers: list[threading.Thread] = []
        self._handed_before: set[str] = set()

    # --- what the daemon runs on -----------------------------------------------------

    def zones(self) -> list[str]:
        man = self.store.manifest() or {}
        zones = man.get("zones")
        return list(zones) if isinstance(zones, list) and zones else list(self.device.zones)

    def schedule_path(self) -> Path | None:
        return self.store.schedule_path()

    def load(self):
        """The current bundle's station as this device plays it (its zones only)."""
        for _ in range(3):  # the manifest and the files of one bundle, not across a swap
            etag = self.store.current_etag()
            path = self.store.schedule_path()
            if path is None:
                raise LoaError("chưa có gói lịch nào từ máy chủ.")
            loaded = load_bundled(path, self.store.manifest(etag) or {})
            if self.store.current_etag() == etag:
                break
        loaded = only_zones(loaded, self.zones())
        return loaded.schedule, loaded.bulletins

    def now(self) -> datetime:
        if self.clock is not None:
            return self.clock.now()
        from loa.clock import SystemClock

        return SystemClock().now()

    def first_bundle(self) -> Path:
        """The schedule to start on: the last good bundle on disk, else the first one
        fetched, waiting (with a clear line, once) while the server cannot be reached."""
        told = False
        wait = 2.0
        while True:
            try:
                self.sync_bundle()
            except Revoked as exc:
                self._revoke(exc)
            except ServerError as exc:
                if self.store.schedule_path() is None and not told:
                    self.report(f"Chưa có lịch phát từ máy chủ và chưa tải được: {exc}. loa "
                                "sẽ thử lại cho đến khi tải được.")
                    told = True
            path = self.store.schedule_path()
            if path is not None:
                return path
            if self.revoked:
                raise LoaError("máy chủ đã thu hồi mã của thiết bị này và chưa có lịch phát "
                               "nào trên máy; hãy đăng ký lại bằng loa enroll.")
            if self._stop.wait(wait * random.uniform(0.7, 1.3)):
                raise LoaError("đã dừng trước khi tải được lịch phát từ máy chủ.")
            wait = min(wait * 2, 60.0)

    # --- bundles -------------------------------------------------------------------------

    def sync_bundle(self) -> bool:
        """Pull; True when a new bundle became current."""
        current = self.store.current_etag()
        got = self.client.bundle(current)
        if got is None or got.etag == current:
            return False
        try:
            done = self.store.accept(got.etag, got.manifest, self.client.clip)
        except BundleRefused as exc:
            if got.etag not in self._refused:
                self._refused.add(got.etag)
                keep = ("vẫn phát theo gói lịch trước" if current
                        else "chưa có gói lịch nào để phát")
                self.report(f"Không nhận gói lịch mới từ máy chủ: {exc}; {keep}.")
                self._event("bundle-refused", f"{got.etag}: {exc}; {keep}")
                log.error("bundle %s refused: %s", got.etag, exc)
            return False
        self._refused.discard(got.etag)
        with contextlib.suppress(OSError):
            self.store.prune()
        self._event("bundle", f"{got.etag}: {done.downloaded} đoạn âm thanh mới tải")
        self.report(f"Đã nhận gói lịch mới từ máy chủ ({done.downloaded} đoạn âm thanh mới).")
        if self.daemon is not None:
            self.daemon.request_reload()
        return True

    def _event(self, kind: str, detail: str) -> None:
        store = getattr(self.daemon, "store", None)
        if store is None:  # before the daemon runs: logged once it does
            self._early.append((kind, self.now(), detail))
            return
        try:
            store.event(kind, self.now(), detail)
        except Exception as exc:  # noqa: BLE001 - the log's failure is not the sync's
            log.error("cannot record %s: %s", kind, exc)

    # --- plays ---------------------------------------------------------------------------

    def _names(self):
        from loa.log.labels import Names

        schedule = getattr(self.daemon, "schedule", None)
        if schedule is None:
            return Names()
        try:
            return Names.from_schedule(schedule)
        except Exception:  # noqa: BLE001 - names are a courtesy
            return Names()

    def upload_plays(self) -> int:
        """Send final rows until none is left; returns rows accepted. A batch the server
        refuses for a bad row (400/413 "bad_row") is split in halves until the row is
        alone: that row is marked refused (kept, not resent), the others flow on."""
        names = self._names()
        total = 0
        while not self._stop.is_set():
            rows = self.outbox.pending(BATCH)
            if not rows:
                break
            sent, whole = self._send_rows(rows, names)
            total += sent
            if not whole:
                break
        return total

    def _send_rows(self, rows: list[tuple], names) -> tuple[int, bool]:
        """(rows accepted, every row settled: accepted or refused)."""
        from loa.report.export import upward_record

        body = [{**upward_record(r, names), "play_key": r[1]} for r in rows]
        try:
            answer = self.client.plays(body)
        except Refused as exc:
            if exc.code != "bad_row" or exc.status not in (400, 413):
                raise  # not about a row: try the same batch again later
            if len(rows) == 1:
                self._refuse_row(rows[0], exc)
                return 0, True
            half = len(rows) // 2
            first, whole = self._send_rows(rows[:half], names)
            if not whole:
                return first, False
            second, whole = self._send_rows(rows[half:], names)
            return first + second, whole
        accepted = [k for k in answer.get("accepted") or [] if isinstance(k, str)]
        mine = {r[1] for r in rows}
        accepted = [k for k in accepted if k in mine]
        self.outbox.mark_sent(accepted, self.now())
        if len(accepted) < len(rows):
            log.warning("server accepted %d of %d rows", len(accepted), len(rows))
            return len(accepted), False
        return len(accepted), True

    def _refuse_row(self, row: tuple, exc: Refused) -> None:
        from loa.log.store import COLUMNS

        r = dict(zip(COLUMNS, row, strict=False))
        key = str(r["play_key"])
        if not self.outbox.refuse(key, self.now(), exc.code, str(exc)):
            return
        log.error("server refused play %s: %s", key, exc)
        title = str(r.get("title") or r.get("bulletin") or "")[:80]
        at = str(r.get("started_at") or r.get("scheduled_at") or "")[:19].replace("T", " ")
        zone = self._names().zone(r.get("zone")) if r.get("zone") else ""
        where = f", vùng {zone}" if zone else ""
        self._event("play-refused",
                    f"máy chủ không nhận lượt phát «{title}» lúc {at}{where}: {exc} "
                    f"(mã lượt phát {key}). Lượt phát vẫn giữ trong sổ nhật ký của máy này, "
                    "không gửi lại; các lượt phát sau vẫn gửi bình thường.")

    # --- heartbeat ----------------------------------------------------------------------

    def heartbeat_body(self) -> dict:
        from loa import __version__

        problem = None
        if self.trust is not None:
            try:
                problem = self.trust.problem()
            except Exception:  # noqa: BLE001
                problem = "không đọc được sổ nhật ký"
        try:
            free = shutil.disk_usage(self.data).free / 1e6
        except OSError:
            free = 0.0
        last_play, audio = self._last_play()
        return {"at": self.now().isoformat(), "clock_trusted": problem is None,
                "disk_free_mb": round(free, 1), "version": __version__, "audio": audio,
                "last_play": last_play, "unsent": self.outbox.unsent(),
                "refused": self.outbox.refused(),
                "signal_dbm": modem_signal_dbm(), "bundle": self.store.current_etag()}

    def _last_play(self) -> tuple[str | None, str]:
        con = self.outbox._log()
        if con is None:
            return None, "ok"
        try:
            played = con.execute("SELECT max(started_at) FROM plays WHERE status IN "
                                 "('played','late')").fetchone()[0]
            last = con.execute("SELECT status, reason FROM plays WHERE status != 'playing' "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        except sqlite3.Error:
            return None, "ok"
        finally:
            con.close()
        audio = "ok"
        if last and last[0] == "failed" and last[1]:
            audio = str(last[1])[:200]
        return played, audio

    def send_heartbeat(self) -> None:
        answer = self.client.heartbeat(self.heartbeat_body())
        etag = answer.get("bundle")
        if etag and etag != self.store.current_etag() and etag not in self._refused:
            self.pull.now()
        if answer.get("emergencies") and not (self.bus and self.bus.connected):
            self.poll.now()

    # --- emergencies ----------------------------------------------------------------------

    def on_emergency(self, payload: dict) -> None:
        """From MQTT (its network thread: queue and return, the PUBACK waits on us) or
        the HTTP poll; played once per id, ever."""
        if isinstance(payload, dict):
            self._inbox.put((False, payload))

    def _emergencies(self) -> None:
        while not self._stop.is_set():
            try:
                resume, payload = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                if resume:
                    self._start(payload["id"], payload)
                else:
                    self._take(payload)
            except Exception:  # noqa: BLE001 - the next one must still be heard
                log.exception("emergency %s not handled", payload.get("id"))

    def _take(self, payload: dict) -> None:
        eid = payload.get("id")
        if not isinstance(eid, str) or not eid:
            return
        now = self.now()
        with self._emergency_lock:
            if not self.outbox.take_emergency(payload, now):
                return
        self._ack(eid, "received", now)
        if self.daemon is None:
            return  # started once the daemon runs (open emergencies)
        self._start(eid, payload)

    def _start(self, eid: str, payload: dict) -> None:
        """Write-ahead: the daemon's local id is recorded (durably) before a sound plays,
        so a restart can tell "never handed over" (start it) from "on air or done" (never
        again: see _progress)."""
        mine = set(self.daemon.schedule.zones)
        asked = [z for z in payload.get("zones") or [] if isinstance(z, str)]
        zones = [z for z in asked if z in mine] if asked else None
        if asked and not zones:
            self.outbox.set_local(eid, None, closed=True)
            self._ack(eid, "failed", self.now(), "cụm loa này không phát vùng nào trong tin")
            return
        req = {"title": str(payload.get("title") or ""), "text": str(payload.get("text") or ""),
               "zones": zones}
        try:
            occ = self.daemon.emergency_from(req, start=False)
        except LoaError as exc:
            self.outbox.set_local(eid, None, closed=True)
            self._ack(eid, "failed", self.now(), str(exc))
            return
        local = occ.items[0].bulletin.key
        self.outbox.set_local(eid, local)  # synchronous=FULL: on disk before it airs
        self.daemon._start_emergency(occ)
        self.report(f"Tin khẩn cấp từ máy chủ: «{req['title'] or req['text'][:60]}» — đang "
                    "phát.")
        self._ack(eid, "started", self.now())

    def _progress(self) -> None:
        """Finished once every row of the emergency is played; failed (with what happened)
        once all are final and one is not. An emergency an earlier run handed to its
        daemon is never aired again: cut by a crash its rows were made 'interrupted' by
        the daemon's recovery (failed: aired in part); with no row at all it never
        started (failed: not aired). The officer sends it again if it is still needed."""
        for eid, local, _ in self.outbox.open_emergencies():
            if local is None:
                continue  # being started by the emergencies thread
            rows = self.outbox.emergency_rows(local)
            if not rows and eid in self._handed_before:
                self._ack(eid, "failed", self.now(), NOT_AIRED_VI)
                self.outbox.close_emergency(eid)
                continue
            if not rows or any(s == "playing" for s, _ in rows):
                continue
            if all(s in FINAL_OK for s, _ in rows):
                self._ack(eid, "finished", self.now())
            else:
                self._ack(eid, "failed", self.now(), _failed_detail(rows))
            self.outbox.close_emergency(eid)

    def _ack(self, eid: str, stage: str, at: datetime, detail: str = "") -> None:
        self.outbox.add_ack(eid, stage, at, detail)
        self._send_acks()

    def _send_acks(self) -> None:
        for eid, stage, at, detail in self.outbox.unsent_acks():
            sent = False
            if self.bus is not None and self.bus.connected:
                with contextlib.suppress(Exception):
                    sent = bool(self.bus.ack(eid, stage, datetime.fromisoformat(at), detail))
            if not sent and not self.revoked:
                try:
                    self.client.ack(eid, stage, at, detail)
                    sent = True
                except Revoked as exc:
                    self._revoke(exc)
                except ServerError as exc:
                    log.info("ack %s/%s waits: %s", eid, stage, exc)
            if sent:
                self.outbox.ack_sent(eid, stage)
            else:
                return  # in order: the rest wait too

    def poll_emergencies(self) -> None:
        for payload in self.client.emergencies():
            self.on_emergency(payload)

    def start_bus(self) -> None:
        mqtt = self.device.mqtt
        if not mqtt or not mqtt.get("host"):
            return
        try:
            from loa.fleet.mqtt import DeviceBus
        except ImportError:
            log.warning("no MQTT client in this build: emergencies by polling only")
            return
        self.bus = DeviceBus(mqtt["host"], int(mqtt.get("port") or 1883), self.device.device,
                             self.client.token, self.on_emergency, tls=bool(mqtt.get("tls")),
                             ca=mqtt.get("ca"))
        try:
            self.bus.start()
        except Exception as exc:  # noqa: BLE001 - polling covers it
            log.warning("MQTT not started: %s", exc)

    # --- the loop ---------------------------------------------------------------------------

    def attach(self, daemon, trust=None) -> None:
        self.daemon, self.trust = daemon, trust
        for kind, at, detail in self._early:
            try:
                daemon.store.event(kind, at, detail)
            except Exception as exc:  # noqa: BLE001 - the log's failure is not the sync's
                log.error("cannot record %s: %s", kind, exc)
        self._early.clear()

    def start(self) -> None:
        if not self.revoked:
            self.start_bus()
        self._thread = threading.Thread(target=self._loop, name="follower", daemon=True)
        self._thread.start()
        # taken by an earlier run that stopped before handing them to its daemon: one
        # thread starts emergencies, so none starts twice
        for eid, local, payload in self.outbox.open_emergencies():
            if local is None:
                self._inbox.put((True, {**payload, "id": eid}))
            else:  # handed to the daemon of an earlier run: never aired again
                self._handed_before.add(eid)
        worker = threading.Thread(target=self._emergencies, name="follower-emergencies",
                                  daemon=True)
        worker.start()
        self._workers.append(worker)

    def cancel(self) -> None:
        """Stop waiting for the first bundle (a signal handler: nothing else)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self.bus is not None:
            with contextlib.suppress(Exception):
                self.bus.stop()
        if self._thread is not None:
            self._thread.join(30)
        for worker in self._workers:
            worker.join(10)
        self.outbox.close()

    def _revoke(self, exc: Exception) -> None:
        if self.revoked:
            return
        self.revoked = True
        line = ("Máy chủ đã thu hồi mã của thiết bị này: ngừng đồng bộ với máy chủ, vẫn phát "
                "theo gói lịch đã có trên máy. Hãy đăng ký lại bằng loa enroll.")
        self.report(line)
        self._event("server-revoked", line)
        if self.bus is not None:
            with contextlib.suppress(Exception):
                self.bus.stop()

    def _step(self, due: _Due, fn: Callable[[], object], t: float) -> None:
        if self.revoked or not due.due(t):
            return
        try:
            fn()
        except Revoked as exc:
            self._revoke(exc)
        except RateLimited as exc:
            due.failed(t, exc.retry_after)
        except Refused as exc:
            log.error("server refused %s: %s", getattr(fn, "__name__", fn), exc)
            due.failed(t)
        except Offline as exc:
            if not self._offline_told:
                log.warning("server unreachable, playing from disk: %s", exc)
                self._offline_told = True
            due.failed(t)
        except Exception:  # noqa: BLE001 - the loop never dies
            log.exception("sync step failed")
            due.failed(t)
        else:
            if due.fails or self._offline_told:
                self._offline_told = False
            due.ok(t)

    def tick(self) -> None:
        t = time.monotonic()
        self._step(self.pull, self.sync_bundle, t)
        self._step(self.upload, self.upload_plays, t)
        self._step(self.beat, self.send_heartbeat, t)
        if self.bus is None or not self.bus.connected:
            self._step(self.poll, self.poll_emergencies, t)
        try:
            self._progress()
            if not self.revoked:
                self._send_acks()
        except Exception:  # noqa: BLE001
            log.exception("emergency progress failed")

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(0.5)
        with contextlib.suppress(Exception):  # last rows out on a clean stop
            if not self.revoked:
                self.upload_plays()


def _failed_detail(rows: list[tuple[str, str | None]]) -> str:
    """What happened to an emergency not played everywhere, in Vietnamese."""
    cut = [r for s, r in rows if s == "interrupted"]
    if cut:
        played = sum(s in FINAL_OK for s, _ in rows)
        done = f"; đã phát xong ở {played}/{len(rows)} vùng" if played else ""
        return INTERRUPTED_VI.format(why=cut[0] or "loa run dừng") + done
    return next((r for s, r in rows if r and s not in FINAL_OK), "") or "không phát được"


def modem_signal_dbm() -> int | None:
    """The 4G modem's signal (dBm) if ModemManager reports one, else None."""
    if not shutil.which("mmcli"):
        return None
    try:
        out = subprocess.run(["mmcli", "-m", "any", "--signal-get", "--output-keyvalue"],
                             capture_output=True, text=True, timeout=3, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip().endswith((".rssi", ".rsrp")):
            try:
                return int(float(value.strip()))
            except ValueError:
                continue
    return None
