"""The unattended player.

APScheduler (3.11) fires each occurrence; the Player claims each play in the log before
it starts, so nothing plays twice across restarts. A watcher job notices clock jumps,
edited schedule files, SIGHUP and emergency requests, and re-plans.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from loa.audio.cache import Clip
from loa.audio.wav import read_wav
from loa.clock import Clock
from loa.errors import LoaError
from loa.log.store import LogStore
from loa.player import control
from loa.player.relays import NoRelays, Relays
from loa.player.sinks import Sink, SinkError
from loa.player.trust import ClockTrust
from loa.schedule.expand import Item, Occurrence, expand
from loa.schedule.model import Schedule, Zone
from loa.script.bulletin import Bulletin

log = logging.getLogger(__name__)

ON_TIME = timedelta(seconds=30)  # later than this counts as "late"
LATE_WINDOW = timedelta(minutes=10)  # later than this counts as "missed"
HORIZON = timedelta(hours=36)
REFRESH = timedelta(hours=1)
WATCH_S = 1.0  # how often the watcher looks at clock, files and requests
JUMP = timedelta(seconds=30)  # wall clock moving this much more or less than monotonic time
OPEN_AHEAD_S = 0.3  # a sound device stream is opened this early, then fed silence
EMERGENCY = "khan-cap"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PLAN_ID = re.compile(r"[\w.-]{0,80}")


@dataclass
class _Loaded:
    item: Item
    clip: Clip | None
    samples: np.ndarray | None
    rate: int
    problem: str | None


class Player:
    """Plays one occurrence at a time: relays on, pre-roll, each item claimed in the log
    then played (retried if the device is lost or busy), post-roll, relays off.
    An emergency interrupts whatever plays and goes first."""

    def __init__(self, store: LogStore, clock: Clock, sink_for: Callable[[str], Sink],
                 clip_for: Callable[[Bulletin], Clip], zones: dict[str, Zone] | dict[str, str],
                 relays: Relays | None = None, pre_roll: float = 0.0, post_roll: float = 0.0,
                 trust: ClockTrust | None = None, retry_waits: tuple[float, ...] = (2.0, 5.0)):
        self.store, self.clock = store, clock
        self.sink_for, self.clip_for = sink_for, clip_for
        # zone id -> (device, relay line or None); a plain {zone: device} map also works
        self.zones = {z: (v.device, v.relay) if isinstance(v, Zone) else (v, None)
                      for z, v in zones.items()}
        self.volumes = {z: v.volume for z, v in zones.items() if isinstance(v, Zone)}
        self.relays = relays or NoRelays()
        self.pre_roll, self.post_roll = pre_roll, post_roll
        self.trust, self.retry_waits = trust, retry_waits
        self._lock = threading.Lock()  # one player at a time
        self._urgent: list[Occurrence] = []
        self._urgent_lock = threading.Lock()
        self._active: list[Sink] = []
        self._interrupted = threading.Event()
        self._emergency_on_air = False

    @property
    def lead(self) -> timedelta:
        """How early a job must wake: load clips, switch relays, open the stream."""
        return timedelta(seconds=max(2.0, self.pre_roll + 1.0))

    # --- logging helpers -------------------------------------------------------------

    def _claim(self, occ: Occurrence, item: Item, zone: str, clip: Clip | None,
               status: str = "playing", reason: str | None = None) -> int | str | None:
        """The row for the play (its id, or its play_key while only the journal holds it:
        see loa.log.journal); None if it was recorded before: never play it again."""
        b = item.bulletin
        return self.store.claim(
            play_key=occ.play_key(zone, item), station=occ.station, zone=zone,
            program=item.program, session=occ.session, bulletin=b.key, title=b.title,
            field=b.field, priority=b.priority, scheduled_at=occ.at, now=self.clock.now(),
            status=status, reason=reason, engine=clip.engine if clip else None,
            clip_hash=clip.hash if clip else None, clip_s=clip.seconds if clip else None,
            summary=b.summary(), volume=self.volumes.get(zone),
        )

    def log_unplayed(self, occ: Occurrence, status: str, reason: str) -> int:
        n = 0
        for zone in occ.zones:
            for item in occ.items:
                if self._claim(occ, item, zone, None, status=status, reason=reason):
                    n += 1
        return n

    def log_missed(self, occ: Occurrence, reason: str) -> int:
        return self.log_unplayed(occ, "missed", reason)

    # --- emergencies -------------------------------------------------------------------

    def emergency(self, occ: Occurrence) -> None:
        """Play `occ` now, cutting short whatever is playing; an emergency on air is not
        cut: the new one plays right after it."""
        with self._urgent_lock:
            self._urgent.append(occ)
        if self._lock.acquire(blocking=False):
            try:
                self._drain_urgent()
            finally:
                self._release()
            return
        with self._urgent_lock:
            # Under the queue's lock: the holder cannot have taken this emergency (and
            # started it on the same sink) between the check and the stop.
            if occ in self._urgent and not self._emergency_on_air:
                self._interrupted.set()
                for sink in list(self._active):
                    sink.stop()

    def _release(self) -> None:
        """Release the player; an emergency queued just as it let go is not left waiting."""
        while True:
            self._lock.release()
            with self._urgent_lock:
                if not self._urgent:
                    return
            if not self._lock.acquire(blocking=False):
                return  # the new holder drains the queue
            try:
                self._drain_urgent()
            except BaseException:
                self._lock.release()  # a failed play must not keep the player locked
                raise

    def _drain_urgent(self) -> None:
        while True:
            with self._urgent_lock:
                if not self._urgent:
                    return
                occ = self._urgent.pop(0)
                self._emergency_on_air = True
                self._interrupted.clear()
            try:
                self._play(occ, emergency=True)
            finally:
                self._emergency_on_air = False

    # --- playing -----------------------------------------------------------------------

    def play(self, occ: Occurrence) -> None:
        self._lock.acquire()
        try:
            self._drain_urgent()
            self._play(occ)
            self._drain_urgent()
        finally:
            self._release()

    def _load(self, occ: Occurrence) -> list[_Loaded]:
        loaded = []
        for item in occ.items:
            try:
                clip = self.clip_for(item.bulletin)
                samples, rate = read_wav(clip.path)
                loaded.append(_Loaded(item, clip, samples, rate, None))
            except Exception as exc:  # a broken clip must not stop the session
                log.error("no clip for %s: %s", item.bulletin.key, exc)
                loaded.append(_Loaded(item, None, None, 0, f"không có tệp âm thanh: {exc}"))
        return loaded

    def _wait_until(self, moment: datetime) -> None:
        wait = (moment - self.clock.now()).total_seconds()
        if wait > 0:
            self.clock.sleep(wait)

    def _play(self, occ: Occurrence, emergency: bool = False) -> None:
        now = self.clock.now()
        if not emergency:
            if now - occ.at > LATE_WINDOW:
                self.log_missed(occ, f"quá {LATE_WINDOW.seconds // 60} phút sau giờ phát")
                return
            problem = self.trust.problem() if self.trust else None
            if problem:
                self.log_unplayed(occ, "skipped", f"không phát vì {problem}")
                self.store.event("clock-untrusted", now, problem)
                return
        loaded = self._load(occ)
        groups: dict[str, list[str]] = {}
        for zone in occ.zones:
            groups.setdefault(self.zones.get(zone, ("default", None))[0], []).append(zone)
        sinks = {device: self.sink_for(device) for device in groups}
        lines = {self.zones[z][1] for z in occ.zones if self.zones.get(z, (0, None))[1] is not None}
        if lines:
            self._wait_until(occ.at - timedelta(seconds=self.pre_roll))
            self.relays.switch(lines, True)
        try:
            self._wait_until(occ.at - timedelta(seconds=OPEN_AHEAD_S))
            for device, zones in groups.items():
                self._play_group(occ, sinks[device], zones, loaded, emergency)
        finally:
            if lines:
                self.clock.sleep(self.post_roll)
                self.relays.switch(lines, False)

    def _play_group(self, occ: Occurrence, sink: Sink, zones: list[str],
                    loaded: list[_Loaded], emergency: bool) -> None:
        first = True
        for entry in loaded:
            if not emergency and self._urgent:
                self._drain_urgent_inside(occ)
            rows = {z: self._claim(occ, entry.item, z, entry.clip) for z in zones}
            rows = {z: r for z, r in rows.items() if r is not None}
            if not rows:
                log.info("already recorded, not replaying: %s", entry.item.bulletin.key)
                continue
            at = occ.at.timestamp() if first and occ.at > self.clock.now() else None
            first = False
            if at is not None and not getattr(sink, "timed", False):
                self._wait_until(occ.at)  # this sink starts as soon as it is called
                at = None
            started = max(self.clock.now(), occ.at) if at else self.clock.now()
            status = "played" if started - occ.at <= ON_TIME else "late"
            reason = None
            if entry.problem or entry.samples is None:
                status, reason = "failed", entry.problem
            else:
                label = f"{started:%Y%m%d-%H%M%S}_{'+'.join(rows)}_{entry.item.bulletin.key}"
                status, reason, started = self._play_with_retries(
                    sink, entry, label, at, started, status, occ)
            ended = self.clock.now()
            for row in rows.values():
                self.store.finish(row, status=status, started_at=started, ended_at=ended,
                                  reason=reason)
            log.info("%s %s -> %s (%s)", status, entry.item.bulletin.key, ",".join(rows),
                     sink.name)

    def _drain_urgent_inside(self, occ: Occurrence) -> None:
        # The session yields to the emergency, then carries on with its next items.
        self.store.event("emergency", self.clock.now(),
                         f"tin khẩn cấp chen vào buổi phát '{occ.session}', phát xong buổi "
                         "phát tiếp tục")
        self._drain_urgent()

    def _play_with_retries(self, sink: Sink, entry: _Loaded, label: str, at: float | None,
                           started: datetime, status: str, occ: Occurrence):
        waits = list(self.retry_waits)
        self._active.append(sink)
        try:
            while True:
                try:
                    whole = sink.play(entry.samples, entry.rate, label, at=at)
                except SinkError as exc:
                    self.store.event("device-error", self.clock.now(), f"{sink.name}: {exc}")
                    if not waits:
                        return "failed", f"lỗi thiết bị phát: {exc}", started
                    self.clock.sleep(waits.pop(0))
                    at = None
                    started = self.clock.now()
                    status = "played" if started - occ.at <= ON_TIME else "late"
                    continue
                if getattr(sink, "underflows", 0):
                    self.store.event("underflow", self.clock.now(),
                                     f"{sink.name}: {sink.underflows} gaps in {label}")
                if not whole or self._interrupted.is_set():
                    return "interrupted", "bị ngắt để phát tin khẩn cấp", started
                return status, None, started
        finally:
            self._active.remove(sink)


class Daemon:
    """Keeps the next HORIZON of occurrences as APScheduler jobs, rebuilt from the YAML at
    start, on SIGHUP or a file change, and after a clock jump."""

    def __init__(self, load: Callable[[], tuple[Schedule, dict[str, list[Bulletin]]]],
                 player: Player, clock: Clock, store: LogStore,
                 prepare: Callable[[list[Bulletin]], object] | None = None,
                 control_dir: Path | None = None, trust: ClockTrust | None = None):
        self._load = load
        self.schedule, self.bulletins = load()
        self.player, self.clock, self.store = player, clock, store
        # Renders ahead of air time, all missing clips at once.
        self.prepare = prepare or (lambda bulletins: [player.clip_for(b) for b in bulletins])
        self.control_dir = control_dir
        self.trust = trust
        self.scheduler = BackgroundScheduler(
            timezone=self.schedule.station.tz,
            executors={"default": ThreadPoolExecutor(max_workers=1),  # the player
                       "watch": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "misfire_grace_time": int(LATE_WINDOW.total_seconds()),
                "coalesce": True,
                "max_instances": 1,
            },
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self._occurrences: dict[str, Occurrence] = {}
        self._scheduled: set[str] = set()
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._planned = False
        self._mtimes = self._file_times()
        self._last_wall = self.clock.now()
        self._last_mono = time.monotonic()
        self._state_lock = threading.Lock()
        self._watch_lock = threading.Lock()
        self._emergency_ids: set[str] = set()
        self._beat_failing = False

    # --- planning ------------------------------------------------------------------------

    def occurrence_id(self, occ: Occurrence) -> str:
        return f"{occ.session}@{occ.at.isoformat()}"

    def plan_jobs(self) -> list[Occurrence]:
        with self._state_lock:
            return self._plan_jobs()

    def _plan_jobs(self) -> list[Occurrence]:
        now = self.clock.now()
        upcoming = expand(self.schedule, self.bulletins, now - LATE_WINDOW, now + HORIZON)
        new = [o for o in upcoming if self.occurrence_id(o) not in self._occurrences]
        try:  # render ahead of air time, never at it
            self.prepare([item.bulletin for o in new for item in o.items])
        except Exception as exc:  # noqa: BLE001 - air time must not depend on it
            log.error("cannot render ahead of time (%s: %s); will read offline at air time",
                      type(exc).__name__, exc)
        for occ in new:
            oid = self.occurrence_id(occ)
            self._occurrences[oid] = occ
            self._scheduled.add(oid)
            self.scheduler.add_job(self._run_job, DateTrigger(max(occ.at - self.player.lead, now)),
                                   args=[oid], id=oid, name=oid, replace_existing=True)
        self._planned = True
        return upcoming

    def replan(self, why: str) -> None:
        """Drop every pending occurrence job and plan again from the (new) now."""
        with self._state_lock:
            now = self.clock.now()
            for oid in self._scheduled - self._done:
                try:
                    self.scheduler.remove_job(oid)
                except Exception:  # already running or gone
                    pass
                occ = self._occurrences[oid]
                if now - occ.at > LATE_WINDOW:
                    # Jumped past it: say so here, whatever APScheduler gets round to.
                    self.player.log_missed(occ, "đồng hồ máy nhảy qua giờ phát")
                    self._done.add(oid)
            self._occurrences = {k: v for k, v in self._occurrences.items() if k in self._done}
            self._scheduled = set(self._done)
            self._plan_jobs()
        log.info("re-planned: %s", why)

    def _run_job(self, oid: str) -> None:
        try:
            self.player.play(self._occurrences[oid])
        finally:
            self._done.add(oid)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        occ = self._occurrences.get(event.job_id)
        if occ is not None:
            self.player.log_missed(occ, "bộ lập lịch không kịp chạy (máy bận hoặc đồng hồ nhảy)")
            self._done.add(event.job_id)

    def pending(self) -> list[Occurrence]:
        """Scheduled occurrences that have not finished (or been logged missed) yet."""
        return [self._occurrences[oid] for oid in sorted(self._scheduled - self._done)]

    # --- watching --------------------------------------------------------------------------

    def _file_times(self) -> dict[Path, float]:
        files = {self.schedule.path} | {p.bulletins_file for p in self.schedule.programs.values()}
        out = {}
        for f in files:
            try:
                out[f] = f.stat().st_mtime
            except OSError:
                out[f] = -1.0
        return out

    def request_reload(self) -> None:
        self._reload.set()

    def reload(self) -> bool:
        """Load the schedule again; whatever goes wrong, the old one keeps playing."""
        now = self.clock.now()
        try:
            schedule, bulletins = self._load()
            expand(schedule, bulletins, now, now + HORIZON)  # one that cannot plan is refused
        except Exception as exc:  # noqa: BLE001 - any failure: keep playing the old schedule
            detail = _reload_problem(exc)
            log.error("reload failed, keeping the old schedule: %s: %s",
                      type(exc).__name__, exc)
            try:
                self.store.event("reload-failed", now, detail)
            except Exception as exc2:  # noqa: BLE001 - the log's own failure is not ours here
                log.error("cannot record reload-failed: %s", exc2)
            return False
        self.schedule, self.bulletins = schedule, bulletins
        self.store.event("reload", self.clock.now(), str(schedule.path))
        self.replan("reload")
        return True

    def watch(self) -> None:
        """Clock jumps, trust, file changes, SIGHUP, emergency requests, heartbeat."""
        if not self._watch_lock.acquire(blocking=False):
            return  # a watch is already under way
        try:
            self._watch()
        finally:
            self._watch_lock.release()

    def _watch(self) -> None:
        now, mono = self.clock.now(), time.monotonic()
        drift = (now - self._last_wall).total_seconds() - (mono - self._last_mono)
        self._last_wall, self._last_mono = now, mono
        if abs(drift) > JUMP.total_seconds():
            self.store.event("clock-jump", now, f"{drift:+.0f} s")
            log.warning("clock jumped %+.0f s", drift)
            if self._planned:
                self.replan("clock jump")
        if not self._planned:
            problem = self.trust.problem() if self.trust else None
            if problem is None:
                self.store.event("clock-trusted", now, "")
                self.plan_jobs()
        self._take_requests()  # emergencies first: a reload may render for a while
        times = self._file_times()
        if times != self._mtimes or self._reload.is_set():
            self._mtimes = times
            self._reload.clear()
            self.reload()
        self._heartbeat(now)

    def _heartbeat(self, now: datetime) -> None:
        health = self.store.tick(now)  # the log retries its journal, watches the disk
        if self.control_dir is None:
            return
        extra = {"clock_problem": None if self._planned or self.trust is None
                 else self.trust.problem(), **health}
        try:
            control.write_heartbeat(
                self.control_dir, now, self.schedule.path,
                {z: zone.name for z, zone in self.schedule.zones.items()}, len(self.pending()),
                extra)
            self._beat_failing = False
        except OSError as exc:
            if not self._beat_failing:  # once per episode, not every second
                log.error("cannot write the heartbeat: %s", exc)
            self._beat_failing = True

    def _take_requests(self) -> None:
        """Emergency requests from `loa now`: each answered, accepted only once its event
        row is committed to the log."""
        if self.control_dir is None:
            return
        for req in control.claim_requests(self.control_dir):
            occ = None
            try:
                result, occ = self._take(req)
            except Exception as exc:  # noqa: BLE001 - a bug: refuse, say so, keep watching
                log.error("emergency request %s failed: %s: %s", req.rid, type(exc).__name__,
                          exc)
                result = control.Answer(False, reason=f"lỗi trong loa ({type(exc).__name__}: "
                                                      f"{exc}); tin không được phát.")
            try:
                control.answer(self.control_dir, req, result)
            except OSError as exc:
                # `loa now` hears nothing and says so: the emergency must not play unheard of
                log.error("cannot answer request %s: %s", req.rid, exc)
                if occ is not None:
                    self._drop(occ, "không trả lời được loa now")
                continue
            if occ is not None:  # answered first: what `loa now` says is what happens
                self._start_emergency(occ)

    def _drop(self, occ: Occurrence, why: str) -> None:
        with contextlib.suppress(Exception):
            self.store.event("emergency-dropped", self.clock.now(),
                             f"{occ.items[0].bulletin.id}: {why}; tin không được phát")

    def _take(self, req: control.Claimed) -> tuple[control.Answer, Occurrence | None]:
        """The answer to a request, and the emergency to start once it is answered."""
        if req.body is None or req.deadline is None:
            return control.Answer(False, reason="yêu cầu không đọc được hoặc không hợp lệ."), None
        if time.time() > req.deadline:
            return control.Answer(False, reason="yêu cầu đã quá thời gian chờ, không phát."), None
        try:
            occ = self.emergency_from(req.body, start=False)
        except LoaError as exc:
            log.error("emergency request %s refused: %s", req.rid, exc)
            return control.Answer(False, reason=str(exc)), None
        if time.time() > req.deadline + control.GRACE_S:
            # `loa now` has given up and said so: this must not play by surprise later
            self._drop(occ, "ghi nhật ký quá lâu, loa now đã thôi chờ")
            return control.Answer(False, reason="ghi nhật ký quá lâu; tin không được phát."), None
        bulletin = occ.items[0].bulletin
        with contextlib.suppress(OSError):  # the event is durable already; this helps a restart
            control.keep_accepted(self.control_dir, {
                "id": bulletin.id, "station": occ.station, "title": bulletin.title,
                "text": bulletin.text,
                "plan": bulletin.plan, "at": occ.at.isoformat(), "zones": list(occ.zones)})
        return control.Answer(True, id=bulletin.id, zones=occ.zones), occ

    def _emergency_id(self, now: datetime) -> str:
        """khan-cap-YYYYMMDD-HHMMSS, with -2, -3 ... for more in the same second."""
        base = f"{EMERGENCY}-{now:%Y%m%d-%H%M%S}"
        n = 1
        while True:
            bid = base if n == 1 else f"{base}-{n}"
            if bid not in self._emergency_ids and not self._logged(bid):
                self._emergency_ids.add(bid)
                return bid
            n += 1

    def _logged(self, bulletin_id: str) -> bool:
        """An id used before a restart (same second) is in the log."""
        try:
            # a bulletin sent by `loa now --bulletins` is logged as <plan>/<id>
            return self.store.bulletin_logged(bulletin_id)
        except Exception:  # noqa: BLE001 - unreadable log: the in-memory ids still hold
            return False

    def emergency_from(self, req: dict, start: bool = True) -> Occurrence:
        """Validate a request (never trusted: zones checked like the schedule's), record
        it in the log and, with `start`, play it. LoaError if refused or not recorded."""
        title, text, plan = req.get("title"), req.get("text"), req.get("plan", "")
        # control characters are not words: a message of nothing else is no message
        text = _CONTROL.sub("", text) if isinstance(text, str) else ""
        title = _CONTROL.sub("", title) if isinstance(title, str) else ""
        if not any(ch.isalnum() for ch in text):
            raise LoaError("tin khẩn cấp không có lời.")
        if not title.strip():
            title = text[:60]
        if not isinstance(plan, str) or not _PLAN_ID.fullmatch(plan):
            plan = ""  # a plan id names a file's plan; anything else is not one
        zones = control.resolve_zones(
            req.get("zones"), {z: zone.name for z, zone in self.schedule.zones.items()},
            self.schedule.path)
        now = self.clock.now()
        bulletin = Bulletin(id=self._emergency_id(now), title=title.strip()[:200], text=text,
                            plan=plan, status="approved", priority=1, field=2)
        occ = Occurrence(self.schedule.station.id, EMERGENCY, now, zones,
                         (Item(EMERGENCY, bulletin),))
        try:
            self.store.event("emergency", now,
                             f"{bulletin.id}: {bulletin.title} -> {', '.join(zones)}",
                             durable=True)
        except Exception as exc:  # noqa: BLE001 - not recorded means not accepted
            log.error("cannot record emergency %s: %s", bulletin.id, exc)
            raise LoaError(f"không ghi được tin khẩn cấp vào sổ nhật ký phát ({exc}), nên "
                           "loa run chưa nhận tin. Hãy kiểm tra ổ đĩa rồi gửi lại.") from None
        if start:
            self._start_emergency(occ)
        return occ

    def _start_emergency(self, occ: Occurrence) -> None:
        threading.Thread(target=self.player.emergency, args=[occ], name="emergency",
                         daemon=True).start()

    def _settle_accepted(self) -> None:
        """Emergencies an earlier run accepted: each play that never started is logged
        missed (claims of plays already logged are no-ops), so none is left unexplained."""
        for path, e in control.take_accepted(self.control_dir):
            try:
                bulletin = Bulletin(id=e["id"], title=e["title"], text=e["text"],
                                    plan=e.get("plan", ""), status="approved", priority=1,
                                    field=2)
                occ = Occurrence(e.get("station") or self.schedule.station.id, EMERGENCY,
                                 datetime.fromisoformat(e["at"]), tuple(e["zones"]),
                                 (Item(EMERGENCY, bulletin),))
            except (KeyError, TypeError, ValueError) as exc:
                log.error("unreadable accepted emergency %s: %s", path.name, exc)
            else:
                n = self.player.log_missed(occ, "loa run dừng trước khi kịp phát tin khẩn cấp")
                if n:
                    log.warning("emergency %s never aired: %d plays logged missed", e["id"], n)
            with contextlib.suppress(OSError):
                path.unlink()

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> list[Occurrence]:
        now = self.clock.now()
        recovered = self.store.recover(now, "máy dừng hoặc mất điện giữa lượt phát")
        self.store.event("start", now, f"{self.schedule.path}; {recovered} lượt phát dở "
                                       "trước đó ghi là bị ngắt")
        if self.control_dir is not None:
            control.request_dirs(self.control_dir)
            dropped = control.clean_up(self.control_dir)
            self._settle_accepted()
            if dropped:
                log.warning("dropped %d emergency requests a stopped daemon had claimed",
                            dropped)
        problem = self.trust.problem() if self.trust else None
        upcoming: list[Occurrence] = []
        if problem:
            self.store.event("clock-untrusted", now, problem)
            log.warning("not playing yet: %s", problem)
        else:
            upcoming = self.plan_jobs()
        self.scheduler.add_job(self.plan_jobs, IntervalTrigger(seconds=REFRESH.total_seconds()),
                               id="refresh", name="refresh", executor="watch")
        self.scheduler.add_job(self.watch, IntervalTrigger(seconds=WATCH_S), id="watch",
                               name="watch", executor="watch", misfire_grace_time=None)
        self.scheduler.start()
        self._heartbeat(now)
        return upcoming

    def stop(self) -> None:
        self._stop.set()

    def wait(self, until: datetime | None = None, until_idle: bool = False) -> None:
        """Block until stop(), `until`, or (until_idle) nothing is left to play."""
        while not self._stop.is_set():
            if until is not None and self.clock.now() >= until:
                break
            if until_idle and self._planned and not self.pending():
                break
            self._stop.wait(0.2)

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.store.event("stop", self.clock.now(), "")
        if self.control_dir is not None:
            (self.control_dir / control.HEARTBEAT).unlink(missing_ok=True)


def _reload_problem(exc: Exception) -> str:
    """The reload-failed event's detail, in Vietnamese for the officer reading the log."""
    keep = "; vẫn phát theo lịch cũ."
    if isinstance(exc, LoaError):
        return f"{exc}{keep}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        what = {IsADirectoryError: "là một thư mục, không phải tệp",
                PermissionError: "không có quyền đọc",
                FileNotFoundError: "không có tệp này"}.get(type(exc), "lỗi đọc tệp")
        return f"không nạp lại được lịch: {where}{what} ({exc.strerror or exc}){keep}"
    return f"không nạp lại được lịch: lỗi trong loa ({type(exc).__name__}: {exc}){keep}"
