"""Is `loa run` running and healthy: heartbeat, clock, disk, journal, recent errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.log.disk import DiskState
    from loa.station.calendar import PlannedSession

# events that make `loa status` say "look again"
STATUS_EVENTS = ("device-error", "reload-failed", "log-write-failed", "disk-low",
                 "clock-untrusted", "underflow", "reserve-released", "emergency-dropped",
                 "reconcile-conflict")


@dataclass(frozen=True)
class Event:
    at: datetime  # aware
    kind: str
    label: str  # Vietnamese
    detail: str


@dataclass
class DaemonStatus:
    running: bool
    pid: int | None  # from the heartbeat
    heartbeat_age_s: float | None  # None: no heartbeat at all
    lock_pid: int | None  # the process holding daemon.lock, if any
    schedule_path: str | None  # asked for, else the one the daemon runs
    schedule_error: str | None = None
    station_name: str | None = None
    clock_problem: str | None = None  # only while running
    log_error: str | None = None  # the daemon cannot write the log (only while running)
    log_unwritable: bool = False
    upcoming: list[PlannedSession] = field(default_factory=list)
    disk: DiskState | None = None
    journal_waiting: int = 0
    log_open_error: str | None = None
    errors: list[Event] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return (self.running and self.schedule_error is None and not self.clock_problem
                and not self.log_unwritable and not (self.disk and self.disk.low)
                and not self.journal_waiting and self.log_open_error is None)


def daemon_status(schedule_path: str | Path | None = None, clock: Clock | None = None,
                  sessions: int = 5) -> DaemonStatus:
    """What `loa run` on this machine is doing; never starts or changes anything."""
    from loa import settings
    from loa.clock import DEFAULT_TZ
    from loa.log import EVENT_VI, LogStore
    from loa.log.disk import disk_state
    from loa.log.journal import pending_in
    from loa.player import control as ctl
    from loa.station.calendar import preview
    from loa.station.core import clock_for, load_station

    data = settings.data_dir()
    # one staleness rule, the control channel's: the lock says it lives (the OS frees it
    # the moment the daemon dies, even on kill -9), a fresh heartbeat that it is not stuck
    state = ctl.daemon_state(data, clock)
    beat, age, locked, running = state.heartbeat, state.age, state.locked_by, state.running
    path = str(schedule_path) if schedule_path else (beat or {}).get("schedule")
    st = DaemonStatus(running, (beat or {}).get("pid"), age, locked, path)
    if running and beat is not None:
        st.clock_problem = beat.get("clock_problem") or None
        if beat.get("log_writable") is False:
            st.log_unwritable, st.log_error = True, str(beat.get("log_error") or "")
    if path:
        try:
            station = load_station(path)
        except LoaError as exc:
            st.schedule_error = str(exc)
        else:
            st.station_name = station.name
            now = clock_for(station, clock).now()
            st.upcoming = preview(station, now, now + timedelta(days=2))[:sessions]
    st.disk = disk_state(data)
    journal = pending_in(data)
    st.journal_waiting = len(journal.get("plays", {}))
    errors = [tuple(e) for e in journal.get("events", []) if e[1] in STATUS_EVENTS]
    try:
        if settings.db_path().exists():  # looking must not create the log
            store = LogStore(settings.db_path())
            try:
                errors += [e for e in store.events(limit=200) if e[1] in STATUS_EVENTS]
            finally:
                store.close()
    except LoaError as exc:
        st.log_open_error = str(exc)
    for at, kind, detail in sorted(errors, key=lambda e: e[0], reverse=True)[:5]:
        st.errors.append(Event(datetime.fromisoformat(at).astimezone(DEFAULT_TZ), kind,
                               EVENT_VI.get(kind, kind), detail))
    return st
