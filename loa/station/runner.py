"""The daemon started and run until stopped: shared by `loa run` and `loa demo`."""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loa.clock import Clock

# logged operator text reaches a terminal: no escape sequences
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def run_daemon(schedule_path, sink_kind: str, wav_dir: Path | None,
               until: datetime | None, until_idle: bool,
               report: Callable[[str], None] = print, trust_sync: bool = True,
               clock: Clock | None = None, fast: bool = False, follower=None):
    """Start the daemon and block until `until`, idle, or a signal; `report` gets the
    Vietnamese lines an officer reads (which sink, each play as it happens, the next play).
    The clock defaults to the wall clock in the station's zone. fast: the WAV sink does not
    keep real time (tests only). follower (loa.fleet.follower.Follower): play a server's
    bundle (schedule_path None: its current one, fetched first if there is none yet) and
    keep in step with the server beside the daemon."""
    from loa import settings
    from loa.player.control import DaemonLock

    # One daemon per data folder, held for its whole life: taken before anything opens the
    # log, so a second one refuses without touching it (no recovery, no event).
    with DaemonLock(settings.data_dir(), clock):
        if follower is not None and schedule_path is None:
            # a stop while waiting for the first bundle ends the wait, not the process
            waiting = {s: signal.signal(s, lambda *_: follower.cancel())
                       for s in (signal.SIGTERM, signal.SIGINT)}
            try:
                schedule_path = follower.first_bundle()
            finally:
                for s, h in waiting.items():
                    signal.signal(s, h)
        return _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report,
                           trust_sync, clock, fast, follower)


def _next_line(schedule, occ) -> str:
    if occ is None:
        return "Không còn buổi phát nào trong 36 giờ tới."
    from loa.schedule.model import WEEKDAYS_VI

    zones = ", ".join(schedule.zones[z].name if z in schedule.zones else z for z in occ.zones)
    # a one-off announcement is an occurrence of no session ("thong-bao:<id>")
    session = schedule.sessions.get(occ.session)
    name = session.name if session else "Thông báo"
    return (f"Buổi phát tiếp theo: {WEEKDAYS_VI[occ.at.weekday()]} {occ.at:%d/%m/%Y %H:%M}  "
            f"{name} — {zones}.")


def _played_line(schedule, played) -> str:
    """'10:29:00  Thôn Đoài, Thôn Đông — «Tiêm phòng» — đã phát': names, never ids."""
    from loa.log import STATUS_VI

    at = played.at.astimezone(schedule.station.tz)
    status = STATUS_VI.get(played.status, played.status)
    why = f" ({played.reason})" if played.reason else ""
    title = _CONTROL.sub(" ", played.bulletin.title)
    return f"{at:%H:%M:%S}  {', '.join(played.zone_names)} — «{title}» — {status}{why}"


def _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report, trust_sync,
                clock, fast, follower=None):
    from loa import settings
    from loa.clock import SystemClock
    from loa.log.journal import JournaledLogStore
    from loa.player import Daemon, Player
    from loa.player.trust import ClockTrust, system_time_synced
    from loa.station.core import load_station
    from loa.station.wiring import ChildRendering, relays_for, sink_factory

    def load():
        if follower is not None:  # the bundle's station, this device's zones only
            return follower.load()
        loaded = load_station(schedule_path)
        return loaded.schedule, loaded.bulletins

    schedule, _ = load()
    station = schedule.station
    clock = clock or SystemClock(station.tz)
    store = JournaledLogStore(settings.db_path(), clock=clock)  # a failed write never stops a play
    sink_for, note = sink_factory(sink_kind, wav_dir, clock, fast)
    report(note)
    # a follower plays the server's verified clips and never renders
    clips = follower.clips if follower is not None else ChildRendering(schedule_path, station)
    if follower is not None:
        clips.emergency = ChildRendering(schedule_path, station).at_air
    trust = ClockTrust(store, clock, system_time_synced if trust_sync else (lambda: None))
    player = Player(store, clock, sink_for, clips.at_air, schedule.zones, relays_for(station, clock),
                    station.pre_roll, station.post_roll, trust)
    started = threading.Event()  # the next play is told once the start lines are out

    def on_next(occ):
        if started.is_set():
            report(_next_line(daemon.schedule, occ))

    daemon = Daemon(load, player, clock, store, prepare=clips.ahead,
                    control_dir=settings.control_dir(), trust=trust,
                    upgrade=None if follower is not None else clips.upgrade,
                    on_play=lambda p: report(_played_line(daemon.schedule, p)), on_next=on_next)

    def on_signal(signum, frame):
        daemon.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda s, f: daemon.request_reload())
    try:
        upcoming = daemon.start()
        if follower is not None:
            follower.attach(daemon, trust)
            follower.start()
        pending = daemon.pending()
        problem = trust.problem()
        if problem:
            report(f"Chưa phát: {problem}. loa sẽ tự phát khi đồng hồ đúng.")
        report(f"Đang chạy lịch {schedule.path.name}: {len(pending)} buổi phát trong 36 giờ tới.")
        if pending:
            report(_next_line(daemon.schedule, daemon.next_play()))
        started.set()
        daemon.wait(until=until, until_idle=until_idle)
    finally:
        if follower is not None:
            follower.stop()
        daemon.shutdown()
        for s, h in previous.items():
            signal.signal(s, h)
        store.close()
    return upcoming
