"""The unattended player: APScheduler fires each occurrence, the player logs every play."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from loa.audio.cache import Clip
from loa.audio.wav import read_wav
from loa.clock import Clock
from loa.log.store import LogStore
from loa.player.sinks import Sink, SinkError
from loa.schedule.expand import Item, Occurrence, expand
from loa.schedule.model import Schedule
from loa.script.bulletin import Bulletin

log = logging.getLogger(__name__)

LEAD = timedelta(seconds=2)  # wake early to load clips, then start on the dot
ON_TIME = timedelta(seconds=30)  # later than this counts as "late"
LATE_WINDOW = timedelta(minutes=10)  # later than this counts as "missed"
HORIZON = timedelta(hours=36)
REFRESH = timedelta(hours=6)


class Player:
    """Plays one occurrence: claims each play in the log first, then plays, then closes it."""

    def __init__(self, store: LogStore, clock: Clock, sink_for: Callable[[str], Sink],
                 clip_for: Callable[[Bulletin], Clip], zone_devices: dict[str, str]):
        self.store, self.clock = store, clock
        self.sink_for, self.clip_for = sink_for, clip_for
        self.zone_devices = zone_devices
        self._lock = threading.Lock()  # one player at a time

    def _groups(self, occ: Occurrence) -> dict[str, list[str]]:
        by_device: dict[str, list[str]] = {}
        for zone in occ.zones:
            by_device.setdefault(self.zone_devices.get(zone, "default"), []).append(zone)
        return by_device

    def _claim(self, occ: Occurrence, item: Item, zone: str, clip: Clip | None,
               status: str = "playing", reason: str | None = None) -> int | None:
        b = item.bulletin
        return self.store.claim(
            play_key=occ.play_key(zone, item), station=occ.station, zone=zone,
            program=item.program, session=occ.session, bulletin=b.key, title=b.title,
            field=b.field, priority=b.priority, scheduled_at=occ.at, now=self.clock.now(),
            status=status, reason=reason, engine=clip.engine if clip else None,
            clip_hash=clip.hash if clip else None,
        )

    def log_missed(self, occ: Occurrence, reason: str) -> int:
        n = 0
        for zone in occ.zones:
            for item in occ.items:
                if self._claim(occ, item, zone, None, status="missed", reason=reason):
                    n += 1
        return n

    def play(self, occ: Occurrence) -> None:
        with self._lock:
            self._play(occ)

    def _play(self, occ: Occurrence) -> None:
        now = self.clock.now()
        if now - occ.at > LATE_WINDOW:
            self.log_missed(occ, f"quá {LATE_WINDOW.seconds // 60} phút sau giờ phát")
            return
        loaded: list[tuple[Item, Clip | None, np.ndarray | None, int, str | None]] = []
        for item in occ.items:
            try:
                clip = self.clip_for(item.bulletin)
                samples, rate = read_wav(clip.path)
                loaded.append((item, clip, samples, rate, None))
            except Exception as exc:  # a broken clip must not stop the session
                log.exception("no clip for %s", item.bulletin.key)
                loaded.append((item, None, None, 0, f"không có tệp âm thanh: {exc}"))
        sinks = {device: self.sink_for(device) for device in self._groups(occ)}
        wait = (occ.at - self.clock.now()).total_seconds()
        if wait > 0:
            self.clock.sleep(wait)
        for device, zones in self._groups(occ).items():
            sink = sinks[device]
            for item, clip, samples, rate, problem in loaded:
                rows = {z: self._claim(occ, item, z, clip) for z in zones}
                rows = {z: r for z, r in rows.items() if r is not None}
                if not rows:
                    log.info("already recorded, not replaying: %s", item.bulletin.key)
                    continue
                started = self.clock.now()
                status = "played" if started - occ.at <= ON_TIME else "late"
                reason = None
                if problem or samples is None:
                    status, reason = "failed", problem
                else:
                    label = f"{started:%Y%m%d-%H%M%S}_{'+'.join(rows)}_{item.bulletin.key}"
                    try:
                        sink.play(samples, rate, label)
                    except SinkError as exc:
                        status, reason = "failed", f"lỗi thiết bị phát: {exc}"
                        self.store.event("device-error", self.clock.now(), str(exc))
                ended = self.clock.now()
                for row in rows.values():
                    self.store.finish(row, status=status, started_at=started, ended_at=ended,
                                      reason=reason)
                log.info("%s %s -> %s (%s)", status, item.bulletin.key, ",".join(rows), sink.name)


class Daemon:
    """Keeps the next HORIZON of occurrences as APScheduler jobs, rebuilt from the YAML."""

    def __init__(self, schedule: Schedule, bulletins: dict[str, list[Bulletin]],
                 player: Player, clock: Clock, store: LogStore,
                 prepare: Callable[[Bulletin], Clip] | None = None):
        self.schedule, self.bulletins = schedule, bulletins
        self.prepare = prepare or player.clip_for
        self.player, self.clock, self.store = player, clock, store
        self.scheduler = BackgroundScheduler(
            timezone=schedule.station.tz,
            executors={"default": ThreadPoolExecutor(max_workers=1)},
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

    def occurrence_id(self, occ: Occurrence) -> str:
        return f"{occ.session}@{occ.at.isoformat()}"

    def plan_jobs(self) -> list[Occurrence]:
        now = self.clock.now()
        upcoming = expand(self.schedule, self.bulletins, now - LATE_WINDOW, now + HORIZON)
        for occ in upcoming:
            oid = self.occurrence_id(occ)
            if oid in self._occurrences:
                continue
            self._occurrences[oid] = occ
            if occ.at + LATE_WINDOW < now:
                self.player.log_missed(occ, "máy không chạy vào giờ phát")
                continue
            for item in occ.items:  # render ahead of air time, never at it
                try:
                    self.prepare(item.bulletin)
                except Exception:
                    log.exception("cannot render %s ahead of time", item.bulletin.key)
            self._scheduled.add(oid)
            self.scheduler.add_job(self._run_job, DateTrigger(max(occ.at - LEAD, now)),
                                   args=[oid], id=oid, name=oid)
        return upcoming

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

    def start(self) -> list[Occurrence]:
        self.store.event("start", self.clock.now(), str(self.schedule.path))
        upcoming = self.plan_jobs()
        self.scheduler.add_job(self.plan_jobs, IntervalTrigger(seconds=REFRESH.total_seconds()),
                               id="refresh", name="refresh")
        self.scheduler.start()
        return upcoming

    def stop(self) -> None:
        self._stop.set()

    def wait(self, until: datetime | None = None, until_idle: bool = False) -> None:
        """Block until stop(), `until`, or (until_idle) nothing is left to play."""
        while not self._stop.is_set():
            if until is not None and self.clock.now() >= until:
                break
            if until_idle and not self.pending():
                break
            self._stop.wait(0.2)

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.store.event("stop", self.clock.now(), "")
