"""Is `loa run` running and healthy: heartbeat, clock, disk, journal, recent errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.errors import Problem
    from loa.log.disk import DiskState
    from loa.station.calendar import PlannedSession
    from loa.station.core import LoadedStation
    from loa.station.logs import PlayView

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


@dataclass(frozen=True)
class BackupVoiced:
    """An approved bulletin that airs, for now, in a backup engine's voice."""

    title: str
    engine: str  # the engine's label, Vietnamese: "espeak-ng (ngoại tuyến)"


def backup_voiced(station: LoadedStation, clock: Clock | None = None) -> list[BackupVoiced]:
    """Approved bulletins the schedule still needs whose clip (the one they would air as
    now) a backup engine read. Looks only: no clip is touched, made or removed, and no
    clip store is created."""
    from loa import settings

    if not (settings.data_dir() / "clips").exists():  # clips_dir() would create it
        return []
    from loa.station.audio import Voicing, needed_bulletins
    from loa.station.core import clock_for
    from loa.station.wiring import voice_of
    from loa.voice import engine_label_vi

    today = clock_for(station, clock).now().date()
    out: list[BackupVoiced] = []
    with Voicing(station.path) as v:
        for b in needed_bulletins(station.schedule, station.bulletins, today):
            if b.audio:
                continue  # a recording is the officer's own voice
            renderer = v.renderer(voice_of(b))
            spoken = renderer.spoken(b.text)
            for engine in renderer.chain.engines:  # the order lookups (and the air) use
                clip = renderer.store.get(renderer.key(spoken, engine), touch=False)
                if clip is not None:
                    if clip.fallback:
                        out.append(BackupVoiced(b.title, engine_label_vi(clip.engine)))
                    break
    return out


def backup_voiced_of(schedule_path: str | Path | None = None, clock: Clock | None = None
                     ) -> tuple[str | None, list[BackupVoiced]]:
    """(the schedule looked at, its bulletins still in the backup voice): the one given,
    else the one `loa run` runs (its heartbeat), else (None, [])."""
    from loa import settings
    from loa.player import control as ctl
    from loa.station.core import load_station

    path = str(schedule_path) if schedule_path else (
        ctl.daemon_state(settings.data_dir(), clock).heartbeat or {}).get("schedule")
    if not path:
        return None, []
    return path, backup_voiced(load_station(path), clock)


def backup_line_vi(voiced: list[BackupVoiced]) -> str:
    """'2 bản tin đã duyệt vẫn đọc bằng giọng dự phòng espeak-ng (ngoại tuyến)'."""
    engines = ", ".join(dict.fromkeys(v.engine for v in voiced))
    return f"{len(voiced)} bản tin đã duyệt vẫn đọc bằng giọng dự phòng {engines}"


@dataclass
class DaemonStatus:
    running: bool
    pid: int | None  # from the heartbeat
    heartbeat_age_s: float | None  # None: no heartbeat at all
    lock_pid: int | None  # the process holding daemon.lock, if any
    schedule_path: str | None  # asked for, else the one the daemon runs
    schedule_error: str | None = None
    schedule_problems: list[Problem] = field(default_factory=list)  # each with file and line
    station_name: str | None = None
    clock_problem: str | None = None  # only while running
    log_error: str | None = None  # the daemon cannot write the log (only while running)
    log_unwritable: bool = False
    upcoming: list[PlannedSession] = field(default_factory=list)
    disk: DiskState | None = None
    journal_waiting: int = 0
    log_open_error: str | None = None
    errors: list[Event] = field(default_factory=list)
    backup_voiced: list[BackupVoiced] = field(default_factory=list)  # still in the backup voice

    @property
    def healthy(self) -> bool:
        return (self.running and self.schedule_error is None and not self.clock_problem
                and not self.log_unwritable and not (self.disk and self.disk.low)
                and not self.journal_waiting and self.log_open_error is None)


def daemon_status(schedule_path: str | Path | None = None, clock: Clock | None = None,
                  sessions: int = 5, *, station: LoadedStation | None = None) -> DaemonStatus:
    """What `loa run` on this machine is doing; never starts or changes anything.
    `station`: the schedule already loaded (the console keeps it), not read again."""
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
    if station is not None and not schedule_path:
        schedule_path = station.path
    path = str(schedule_path) if schedule_path else (beat or {}).get("schedule")
    st = DaemonStatus(running, (beat or {}).get("pid"), age, locked, path)
    if running and beat is not None:
        st.clock_problem = beat.get("clock_problem") or None
        if beat.get("log_writable") is False:
            st.log_unwritable, st.log_error = True, str(beat.get("log_error") or "")
    if path:
        try:
            station = station or load_station(path)
        except LoaError as exc:
            st.schedule_error = str(exc)
            st.schedule_problems = list(exc.problems)
        else:
            st.station_name = station.name
            now = clock_for(station, clock).now()
            st.upcoming = preview(station, now, now + timedelta(days=2))[:sessions]
            try:
                st.backup_voiced = backup_voiced(station, clock)
            except LoaError:  # an unreadable clip store: `loa clips check` says why
                pass
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


WEEKDAYS_LONG_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


def when_vi(at: datetime, tz=None, seconds: bool = False) -> str:
    """'06:30 thứ Hai 30/11/2026': a moment as officers say it (in `tz` if given)."""
    if tz is not None:
        at = at.astimezone(tz)
    clock = f"{at:%H:%M:%S}" if seconds else f"{at:%H:%M}"
    return f"{clock} {WEEKDAYS_LONG_VI[at.weekday()]} {at:%d/%m/%Y}"


@dataclass
class Overview:
    """The console's Tổng quan: the daemon's health and what it plays, and what needs doing."""

    status: DaemonStatus
    now_playing: list[PlayView] = field(default_factory=list)
    backup_clips: dict[str, int] = field(default_factory=dict)  # engine label -> clips
    waiting_approval: int = 0  # submitted, or changed since approval
    schedule_warnings: list[str] = field(default_factory=list)  # `loa validate`'s limits


_read: dict[Path, tuple[tuple, object]] = {}


def read_bulletins(path: str | Path):
    """A bulletins file (loa.script.bulletin.BulletinFile) as last read, read again only
    when it changed on disk (a page refreshed every few seconds must not re-parse YAML).
    LoaError as load_bulletins raises it. Treat the result as read-only."""
    from loa.script.bulletin import load_bulletins

    path = Path(path)
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        stamp = None
    hit = _read.get(path)
    if stamp is not None and hit is not None and hit[0] == stamp:
        return hit[1]
    bfile = load_bulletins(path)
    if stamp is not None:
        _read[path] = (stamp, bfile)
    return bfile


def waiting_for_approval(bulletin_files) -> int:
    """Bulletins an approver must look at: submitted ("pending"), or approved but changed
    since (not aired until approved again). Unreadable files count nothing here (their
    problems show on the pages that edit them)."""
    n = 0
    for path in bulletin_files:
        try:
            bfile = read_bulletins(path)
        except LoaError:
            continue
        n += sum(1 for b in bfile.bulletins if b.status == "pending" or b.edited_after_approval)
    return n


def backup_clips() -> dict[str, int]:
    """{engine label: clips} of the clips read by a backup engine (`loa render --upgrade`
    redoes them with the preferred voice when it is reachable again)."""
    from loa import settings
    from loa.voice import engine_label_vi

    if not (settings.data_dir() / "clips").exists():  # looking must not create the store
        return {}
    from loa.station.audio import list_clips

    out: dict[str, int] = {}
    rows, _ = list_clips()
    for r in rows:
        if r.clip.fallback:
            label = engine_label_vi(r.clip.engine)
            out[label] = out.get(label, 0) + 1
    return out


def overview(schedule_path: str | Path, clock: Clock | None = None, *,
             station: LoadedStation | None = None, bulletin_files=(),
             sessions: int = 5) -> Overview:
    """Everything Tổng quan shows, read without changing anything. `station`: the schedule
    already loaded (None: read here, its problems kept); `bulletin_files`: the files whose
    bulletins may wait for approval."""
    from loa import settings
    from loa.log import LogFilter
    from loa.station.logs import Names, names_of, query_plays

    st = daemon_status(schedule_path, clock, sessions, station=station)
    ov = Overview(st)
    if st.running and settings.db_path().exists():
        from loa.clock import DEFAULT_TZ

        names = names_of(station) if station is not None else Names(DEFAULT_TZ)
        try:
            ov.now_playing = query_plays(LogFilter(statuses=("playing",)), names, limit=20)
        except LoaError as exc:
            st.log_open_error = st.log_open_error or str(exc)
    if station is not None and st.schedule_error is None:
        from loa.schedule import check_limits
        from loa.station.core import clock_for

        now = clock_for(station, clock).now()
        ov.schedule_warnings = check_limits(station.schedule, station.bulletins, now=now)
    ov.backup_clips = backup_clips()
    ov.waiting_approval = waiting_for_approval(bulletin_files)
    return ov
