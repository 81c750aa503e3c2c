"""Planning: the schedule's occurrences over the next HORIZON as APScheduler jobs.

Rebuilt on reload (SIGHUP, an edited file) and after a clock jump; an occurrence jumped
past, or one APScheduler could not run in time, is logged missed, never left unexplained.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from loa.clock import Clock
from loa.log.store import LogStore
from loa.player.playout import LATE_WINDOW, Player
from loa.schedule.expand import Occurrence, expand
from loa.schedule.model import Schedule
from loa.script.bulletin import Bulletin

log = logging.getLogger(__name__)

HORIZON = timedelta(hours=36)
REFRESH = timedelta(hours=1)
JUMP = timedelta(seconds=30)  # wall clock moving this much more or less than monotonic time


def _airing(bulletin: Bulletin) -> list[Bulletin]:
    """The bulletin and its approved versions in other languages: each needs its clip."""
    versions = (bulletin.for_air(lang) for lang in getattr(bulletin, "versions", {}))
    return [bulletin, *(v for v in versions if v is not None)]


def occurrence_id(occ: Occurrence) -> str:
    return f"{occ.session}@{occ.at.isoformat()}"


class ClockWatch:
    """Notices the wall clock jumping (NTP's first sync, a hand-set clock): wall time
    moving more or less than monotonic time between two looks."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._wall, self._mono = clock.now(), clock.monotonic()

    def drift(self, now: datetime) -> float:
        """Seconds the wall clock moved beyond monotonic time since the last look."""
        mono = self.clock.monotonic()
        drift = (now - self._wall).total_seconds() - (mono - self._mono)
        self._wall, self._mono = now, mono
        return drift


class Planner:
    """Keeps the next HORIZON of occurrences as APScheduler jobs that run the Player."""

    def __init__(self, player: Player, clock: Clock, store: LogStore, tz,
                 prepare: Callable[[list[Bulletin]], object],
                 on_next: Callable[[Occurrence | None], None] | None = None):
        self.player, self.clock, self.store = player, clock, store
        self.prepare = prepare
        self.on_next = on_next
        self.scheduler = BackgroundScheduler(
            timezone=tz,
            executors={"default": ThreadPoolExecutor(max_workers=1),  # the player
                       "watch": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "misfire_grace_time": int(LATE_WINDOW.total_seconds()),
                "coalesce": True,
                "max_instances": 1,
            },
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.schedule: Schedule | None = None
        self.bulletins: dict[str, list[Bulletin]] = {}
        self.planned = False
        self._occurrences: dict[str, Occurrence] = {}
        self._scheduled: set[str] = set()
        self._done: set[str] = set()
        self._lock = threading.Lock()
        self._told: object = ()  # the next play last told to on_next

    def use(self, schedule: Schedule, bulletins: dict[str, list[Bulletin]]) -> None:
        """The schedule to plan from (the next plan or replan takes it)."""
        self.schedule, self.bulletins = schedule, bulletins

    def plan(self) -> list[Occurrence]:
        """Add jobs for occurrences not planned yet; returns every occurrence in range."""
        with self._lock:
            upcoming = self._plan()
        self._tell_next()
        return upcoming

    def _plan(self) -> list[Occurrence]:
        now = self.clock.now()
        upcoming = expand(self.schedule, self.bulletins, now - LATE_WINDOW, now + HORIZON)
        new = [o for o in upcoming if occurrence_id(o) not in self._occurrences]
        # known (pending, missed-able) before the slow rendering below: a job of the
        # previous plan running meanwhile, or APScheduler's missed event, finds it
        for occ in new:
            oid = occurrence_id(occ)
            self._occurrences[oid] = occ
            self._scheduled.add(oid)
        try:  # render ahead of air time, never at it
            self.prepare([b for o in new for item in o.items for b in _airing(item.bulletin)])
        except Exception as exc:  # noqa: BLE001 - air time must not depend on it
            log.error("cannot render ahead of time (%s: %s); will read offline at air time",
                      type(exc).__name__, exc)
        for occ in new:
            oid = occurrence_id(occ)
            # the job carries its occurrence: it never looks it up while a re-plan
            # rebuilds the map
            self.scheduler.add_job(self._run_job, DateTrigger(max(occ.at - self.player.lead, now)),
                                   args=[oid, occ], id=oid, name=oid, replace_existing=True)
        self.planned = True
        return upcoming

    def replan(self, why: str) -> None:
        """Drop every pending occurrence job and plan again from the (new) now."""
        with self._lock:
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
            self._plan()
        log.info("re-planned: %s", why)
        self._tell_next()

    def _run_job(self, oid: str, occ: Occurrence) -> None:
        try:
            self.player.play(occ)
        finally:
            self._done.add(oid)
            self._tell_next()

    def _on_missed(self, event: JobExecutionEvent) -> None:
        occ = self._occurrences.get(event.job_id)
        if occ is not None:
            self.player.log_missed(occ, "bộ lập lịch không kịp chạy (máy bận hoặc đồng hồ nhảy)")
            self._done.add(event.job_id)
            self._tell_next()

    def pending(self) -> list[Occurrence]:
        """Scheduled occurrences that have not finished (or been logged missed) yet,
        earliest first."""
        occs = [self._occurrences[oid] for oid in self._scheduled - self._done]
        return sorted(occs, key=lambda o: (o.at, o.session))

    def next_play(self) -> Occurrence | None:
        """The earliest occurrence still to play (not the day's first session)."""
        pending = self.pending()
        return pending[0] if pending else None

    def _tell_next(self) -> None:
        if self.on_next is None:
            return
        nxt = self.next_play()
        key = occurrence_id(nxt) if nxt else None
        if key == self._told:
            return
        self._told = key
        try:
            self.on_next(nxt)
        except Exception:  # an observer's bug must not stop planning
            log.exception("on_next observer failed")
