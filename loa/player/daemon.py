"""The unattended player, composed: the planner (APScheduler jobs over the horizon),
the playout (one thread per output device) and the control channel (`loa now`, the
heartbeat). The Player claims each play in the log before it starts, so nothing plays
twice across restarts. A watcher job notices clock jumps, edited schedule files, SIGHUP
and emergency requests, and re-plans; between sessions it has clips the backup engine
read made again by the preferred one (the upgrade), in the background.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from loa.clock import Clock
from loa.errors import LoaError
from loa.fsio import os_error_vi
from loa.log.journal import why_vi
from loa.log.store import LogStore
from loa.player import control
from loa.player.planner import HORIZON, JUMP, REFRESH, ClockWatch, Planner, occurrence_id
from loa.player.playout import LATE_WINDOW, ON_TIME, OPEN_AHEAD_S, Played, Player
from loa.player.trust import ClockTrust
from loa.schedule.expand import Item, Occurrence, expand
from loa.schedule.model import Schedule
from loa.script.bulletin import Bulletin

log = logging.getLogger(__name__)

WATCH_S = 1.0  # how often the watcher looks at clock, files and requests
EMERGENCY = "khan-cap"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PLAN_ID = re.compile(r"[\w.-]{0,80}")
UPGRADE_EVERY = timedelta(minutes=10)  # how often backup-voice clips are tried again
UPGRADE_MARGIN = timedelta(minutes=10)  # no upgrade starts this close to a session
UPGRADED = "clip-upgraded"  # the event of a clip read again by a better engine

# upgrade(bulletins, quiet, done): re-read the bulletins' backup-engine clips with a better
# engine while quiet() holds; done(bulletin, old clip, new clip) after each one
Upgrade = Callable[[list[Bulletin], Callable[[], bool], Callable[..., None]], object]

__all__ = ["Daemon", "EMERGENCY", "HORIZON", "JUMP", "LATE_WINDOW", "ON_TIME", "OPEN_AHEAD_S",
           "Played", "Player", "REFRESH", "UPGRADED", "UPGRADE_EVERY", "UPGRADE_MARGIN", "WATCH_S"]


class Daemon:
    """Keeps the next HORIZON of occurrences as APScheduler jobs, rebuilt from the YAML at
    start, on SIGHUP or a file change, and after a clock jump. Observers: `on_play` hears
    each bulletin's final status as it is logged, `on_next` the earliest play still to
    come whenever it changes."""

    def __init__(self, load: Callable[[], tuple[Schedule, dict[str, list[Bulletin]]]],
                 player: Player, clock: Clock, store: LogStore,
                 prepare: Callable[[list[Bulletin]], object] | None = None,
                 control_dir: Path | None = None, trust: ClockTrust | None = None,
                 on_play: Callable[[Played], None] | None = None,
                 on_next: Callable[[Occurrence | None], None] | None = None,
                 upgrade: Upgrade | None = None, upgrade_every: timedelta = UPGRADE_EVERY,
                 upgrade_margin: timedelta = UPGRADE_MARGIN):
        self._load = load
        self.schedule, self.bulletins = load()
        self.player, self.clock, self.store = player, clock, store
        if on_play is not None:
            player.on_play = on_play
        # Renders ahead of air time, all missing clips at once.
        self.prepare = prepare or (lambda bulletins: [player.clip_for(b) for b in bulletins])
        self.control_dir = control_dir
        self.trust = trust
        self.planner = Planner(player, clock, store, self.schedule.station.tz,
                               lambda bulletins: self.prepare(bulletins), on_next)
        self.planner.use(self.schedule, self.bulletins)
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._mtimes = self._file_times()
        self._clock_watch = ClockWatch(clock)
        self._watch_lock = threading.Lock()
        self._emergency_ids: set[str] = set()
        self._beat_failing = False
        self.upgrade = upgrade  # None: backup-voice clips wait for `loa render --upgrade`
        self.upgrade_every, self.upgrade_margin = upgrade_every, upgrade_margin
        self._upgrade_tried: datetime | None = None
        self._upgrader: threading.Thread | None = None

    # --- planning (the planner's) ------------------------------------------------------

    @property
    def scheduler(self):
        return self.planner.scheduler

    @property
    def _planned(self) -> bool:
        return self.planner.planned

    def occurrence_id(self, occ: Occurrence) -> str:
        return occurrence_id(occ)

    def plan_jobs(self) -> list[Occurrence]:
        return self.planner.plan()

    def replan(self, why: str) -> None:
        self.planner.replan(why)

    def pending(self) -> list[Occurrence]:
        """Scheduled occurrences that have not finished (or been logged missed) yet,
        earliest first."""
        return self.planner.pending()

    def next_play(self) -> Occurrence | None:
        """The earliest occurrence still to play."""
        return self.planner.next_play()

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
        self.planner.use(schedule, bulletins)
        self.store.event("reload", self.clock.now(), str(schedule.path))
        self._tell_refused()
        self.replan("reload")
        return True

    def _tell_refused(self) -> None:
        """One event per bulletin whose approval no longer holds, per (re)load: an officer
        reading the log learns why it stopped airing."""
        for refused in getattr(self.bulletins, "refused", ()):
            try:
                self.store.event("not-approved", self.clock.now(), refused.detail_vi)
            except Exception as exc:  # noqa: BLE001 - the log's failure must not stop playing
                log.error("cannot record not-approved: %s", exc)

    def watch(self) -> None:
        """Clock jumps, trust, file changes, SIGHUP, emergency requests, heartbeat."""
        if not self._watch_lock.acquire(blocking=False):
            return  # a watch is already under way
        try:
            self._watch()
        finally:
            self._watch_lock.release()

    def _watch(self) -> None:
        now = self.clock.now()
        drift = self._clock_watch.drift(now)
        if abs(drift) > JUMP.total_seconds():
            self.store.event("clock-jump", now, f"đồng hồ máy nhảy {drift:+.0f} giây")
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
        self._maybe_upgrade(now)
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
        """Emergency requests from `loa now` (the control channel's daemon side)."""
        if self.control_dir is None:
            return
        control.serve_requests(self.control_dir, self.clock, accept=self._accept,
                               keep=self._keep, start=self._start_emergency, drop=self._drop)

    def _accept(self, body: dict) -> tuple[control.Answer, Occurrence]:
        occ = self.emergency_from(body, start=False)  # LoaError: refused
        return control.Answer(True, id=occ.items[0].bulletin.id, zones=occ.zones), occ

    def _keep(self, occ: Occurrence) -> None:
        bulletin = occ.items[0].bulletin
        with contextlib.suppress(OSError):  # the event is durable already; this helps a restart
            control.keep_accepted(self.control_dir, {
                "id": bulletin.id, "station": occ.station, "title": bulletin.title,
                "text": bulletin.text,
                "plan": bulletin.plan, "at": occ.at.isoformat(), "zones": list(occ.zones)})

    def _drop(self, occ: Occurrence, why: str) -> None:
        with contextlib.suppress(Exception):
            self.store.event("emergency-dropped", self.clock.now(),
                             f"{occ.items[0].bulletin.id}: {why}; tin không được phát")

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
            log.error("cannot record emergency %s: %s: %s", bulletin.id, type(exc).__name__, exc)
            why = str(exc) if isinstance(exc, LoaError) else why_vi(exc)
            raise LoaError(f"không ghi được tin khẩn cấp vào sổ nhật ký phát ({why}), nên "
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

    # --- the backup voice, read again -----------------------------------------------------

    def quiet(self) -> bool:
        """Nothing on air and no session due within upgrade_margin: the time to re-render."""
        if self._stop.is_set() or self.player.on_air:
            return False
        soon = self.clock.now() + self.player.lead + self.upgrade_margin
        try:
            pending = self.pending()
        except RuntimeError:  # a re-plan changed the plan while we looked: not now
            return False
        return all(occ.at > soon for occ in pending)

    def upgrading(self) -> bool:
        return self._upgrader is not None and self._upgrader.is_alive()

    def _maybe_upgrade(self, now: datetime) -> None:
        """At most every upgrade_every (a clock set back starts afresh), between sessions,
        one round at a time, in a thread of its own: the watcher must keep watching."""
        if self.upgrade is None or not self._planned or self.upgrading():
            return
        tried = self._upgrade_tried
        if tried is not None and tried <= now < tried + self.upgrade_every:
            return
        if not self.quiet():
            return
        self._upgrade_tried = now
        today = now.astimezone(self.schedule.station.tz).date()
        bulletins = [b for pid, pool in self.bulletins.items()
                     if (prog := self.schedule.programs.get(pid)) is None
                     or prog.end is None or prog.end >= today
                     for b in pool]
        # and what is planned, one-off announcements too
        bulletins += [item.bulletin for occ in self.pending() for item in occ.items]
        bulletins = list({b.key: b for b in bulletins}.values())  # one event per bulletin
        self._upgrader = threading.Thread(target=self._upgrade_round, args=[bulletins],
                                          name="upgrade", daemon=True)
        self._upgrader.start()

    def _upgrade_round(self, bulletins: list[Bulletin]) -> None:
        try:
            self.upgrade(bulletins, self.quiet, self._upgraded)
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.error("upgrading backup-voice clips failed: %s: %s", type(exc).__name__, exc)

    def _upgraded(self, bulletin: Bulletin, old, new) -> None:
        from loa.voice.engine import engine_label_vi

        name = "Google" if new.engine == "gtts" else engine_label_vi(new.engine)
        log.info("re-rendered %s with %s (was %s): clip %s replaces %s", bulletin.key,
                 new.engine, old.engine, new.hash[:12], old.hash[:12])
        title = _CONTROL.sub(" ", bulletin.title)
        try:
            self.store.event(UPGRADED, self.clock.now(), f"đã đọc lại bằng {name}: «{title}»")
        except Exception as exc:  # noqa: BLE001 - the log's failure must not stop playing
            log.error("cannot record %s: %s", UPGRADED, exc)

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> list[Occurrence]:
        now = self.clock.now()
        recovered = self.store.recover(now, "máy dừng hoặc mất điện giữa lượt phát")
        self.store.event("start", now, f"{self.schedule.path}; {recovered} lượt phát dở "
                                       "trước đó ghi là bị ngắt")
        self._tell_refused()
        if self.control_dir is not None:
            control.request_dirs(self.control_dir)
            dropped = control.clean_up(self.control_dir, now.timestamp())
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
        # planning just tried the preferred engine for every missing clip: the first
        # upgrade round waits its turn
        self._upgrade_tried = now
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
        self._stop.set()  # an upgrade round stops before its next clip
        self.scheduler.shutdown(wait=True)
        if self._upgrader is not None:  # its clip is whole or not indexed: never half
            self._upgrader.join(10)
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
                FileNotFoundError: "không có tệp này"}.get(type(exc)) or os_error_vi(exc) or (
                    "lỗi đọc tệp")
        return f"không nạp lại được lịch: {where}{what}{keep}"
    return f"không nạp lại được lịch: lỗi trong loa (chi tiết trong nhật ký kỹ thuật){keep}"
