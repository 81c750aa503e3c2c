"""The daemon started and run until stopped: shared by `loa run` and `loa demo`."""

from __future__ import annotations

import signal
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loa.clock import Clock


def run_daemon(schedule_path, sink_kind: str, wav_dir: Path | None,
               until: datetime | None, until_idle: bool,
               report: Callable[[str], None] = print, trust_sync: bool = True,
               clock: Clock | None = None):
    """Start the daemon and block until `until`, idle, or a signal; `report` gets the
    Vietnamese lines an officer reads (which sink, what is pending). The clock defaults to
    the wall clock in the station's zone."""
    from loa import settings
    from loa.player.control import DaemonLock

    # One daemon per data folder, held for its whole life: taken before anything opens the
    # log, so a second one refuses without touching it (no recovery, no event).
    with DaemonLock(settings.data_dir()):
        return _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report,
                           trust_sync, clock)


def _run_daemon(schedule_path, sink_kind, wav_dir, until, until_idle, report, trust_sync,
                clock):
    from loa import settings
    from loa.clock import SystemClock
    from loa.log.journal import JournaledLogStore
    from loa.player import Daemon, Player
    from loa.player.trust import ClockTrust, system_time_synced
    from loa.station.core import load_station
    from loa.station.wiring import ChildRendering, relays_for, sink_factory

    def load():
        loaded = load_station(schedule_path)
        return loaded.schedule, loaded.bulletins

    schedule, _ = load()
    station = schedule.station
    clock = clock or SystemClock(station.tz)
    store = JournaledLogStore(settings.db_path())  # a failed write never stops a play
    sink_for, note = sink_factory(sink_kind, wav_dir)
    report(note)
    clips = ChildRendering(schedule_path, station)
    trust = ClockTrust(store, clock, system_time_synced if trust_sync else (lambda: None))
    player = Player(store, clock, sink_for, clips.at_air, schedule.zones, relays_for(station, clock),
                    station.pre_roll, station.post_roll, trust)
    daemon = Daemon(load, player, clock, store, prepare=clips.ahead,
                    control_dir=settings.control_dir(), trust=trust)

    def on_signal(signum, frame):
        daemon.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda s, f: daemon.request_reload())
    try:
        upcoming = daemon.start()
        pending = daemon.pending()
        problem = trust.problem()
        if problem:
            report(f"Chưa phát: {problem}. loa sẽ tự phát khi đồng hồ đúng.")
        report(f"Đang chạy lịch {schedule.path.name}: {len(pending)} buổi phát trong 36 giờ tới.")
        if pending:
            report(f"Buổi gần nhất: {pending[0].at:%H:%M:%S %d/%m/%Y}.")
        daemon.wait(until=until, until_idle=until_idle)
    finally:
        daemon.shutdown()
        for s, h in previous.items():
            signal.signal(s, h)
        store.close()
    return upcoming
