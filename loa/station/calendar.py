"""What will play: the schedule expanded over some days, told with names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.schedule.expand import Occurrence
    from loa.station.core import LoadedStation


@dataclass(frozen=True)
class PlannedItem:
    bulletin_id: str
    title: str
    program_id: str
    program_name: str
    seconds: float


@dataclass(frozen=True)
class PlannedSession:
    """One session on one day, with the names an officer knows it by."""

    at: datetime  # aware, the station's zone
    session_id: str
    session_name: str
    zone_ids: tuple[str, ...]
    zone_names: tuple[str, ...]
    items: tuple[PlannedItem, ...]
    occurrence: Occurrence

    @property
    def seconds(self) -> float:
        return sum(i.seconds for i in self.items)


def named(station: LoadedStation, occ: Occurrence) -> PlannedSession:
    items = tuple(PlannedItem(i.bulletin.id, i.bulletin.title, i.program,
                              station.program_name(i.program), i.bulletin.estimated_seconds())
                  for i in occ.items)
    return PlannedSession(occ.at, occ.session, station.session_name(occ.session), occ.zones,
                          tuple(station.zone_name(z) for z in occ.zones), items, occ)


def preview(station: LoadedStation, start: datetime, end: datetime) -> list[PlannedSession]:
    """Sessions with start <= at < end, in time order."""
    from loa.schedule import expand

    return [named(station, occ) for occ in
            expand(station.schedule, station.bulletins, start, end)]


def upcoming(schedule_path: str | Path, days: float, clock: Clock | None = None
             ) -> tuple[LoadedStation, list[PlannedSession]]:
    """The station and what it plays from now for `days` days."""
    from loa.station.core import clock_for, load_station

    station = load_station(schedule_path)
    now = clock_for(station, clock).now()
    return station, preview(station, now, now + timedelta(days=days))


def export_ics(schedule_path: str | Path, output: str | Path, days: float,
               clock: Clock | None = None) -> int:
    """Write the coming days as an .ics calendar; returns the sessions written."""
    from loa.fsio import check_target
    from loa.schedule.ics import write_ics

    check_target(output)
    station, sessions = upcoming(schedule_path, days, clock)
    write_ics(output, station.schedule, [s.occurrence for s in sessions])
    return len(sessions)
