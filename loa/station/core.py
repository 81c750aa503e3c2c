"""Load and check a station: its schedule file, with the approved bulletins it plays."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import Problem

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.schedule.model import Schedule
    from loa.script.bulletin import Bulletin


@dataclass(frozen=True)
class LoadedStation:
    """A schedule and, per program id, the bulletins that may air (approved, unedited)."""

    schedule: Schedule
    bulletins: dict[str, list[Bulletin]]

    @property
    def path(self) -> Path:
        return self.schedule.path

    @property
    def name(self) -> str:
        return self.schedule.station.name

    def zone_names(self) -> dict[str, str]:
        return {z.id: z.name for z in self.schedule.zones.values()}

    def zone_name(self, zone_id: str) -> str:
        zone = self.schedule.zones.get(zone_id)
        return zone.name if zone else zone_id

    def session_name(self, session_id: str) -> str:
        session = self.schedule.sessions.get(session_id)
        # a one-off announcement is an occurrence of no session ("thong-bao:<id>")
        return session.name if session else "Thông báo"

    def program_name(self, program_id: str) -> str:
        prog = self.schedule.programs.get(program_id)
        if prog is not None:
            return prog.name or prog.id
        return "Thông báo" if program_id == "thong-bao" else program_id


def load_station(path: str | Path) -> LoadedStation:
    """Read the schedule and its bulletin files; raises LoaError (Vietnamese, file, line)."""
    # the one call into schedule loading: the declarative-schema loader lands here
    from loa.schedule import load_program_bulletins, load_schedule

    schedule = load_schedule(path)
    return LoadedStation(schedule, load_program_bulletins(schedule))


@dataclass
class Validation:
    """What `validate` found: problems make the schedule unusable; warnings do not."""

    station: LoadedStation
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def approved(self) -> int:
        return sum(len(v) for v in self.station.bulletins.values())


def edited_after_approval(schedule: Schedule) -> list[Problem]:
    """One warning per bulletin a program uses whose approval no longer holds: what airs
    changed since ("chờ duyệt lại"), or its recording is missing."""
    from loa.schedule.expand import program_bulletin_files

    out = []
    for bfile in program_bulletin_files(schedule):
        for b in bfile.bulletins:
            why = b.why_not_airable()
            if why:
                out.append(Problem(f"bản tin “{b.title}” [{b.id}] {why}; chưa duyệt lại thì "
                                   "không được phát.", bfile.path, b.line))
    return out


def clock_for(station: LoadedStation | None, clock: Clock | None) -> Clock:
    """The clock a face passed in, else the wall clock in the station's zone."""
    if clock is not None:
        return clock
    from loa.clock import DEFAULT_TZ, SystemClock

    return SystemClock(station.schedule.station.tz if station else DEFAULT_TZ)


def validate(path: str | Path, clock: Clock | None = None) -> Validation:
    from loa.schedule import check_limits

    station = load_station(path)
    now = clock_for(station, clock).now()
    problems = [Problem(p, station.path)
                for p in check_limits(station.schedule, station.bulletins, now=now)]
    from loa.schedule.expand import missing_versions

    languages = [Problem(w, station.path)
                 for w in missing_versions(station.schedule, station.bulletins)]
    return Validation(station, problems, edited_after_approval(station.schedule) + languages)


def effective_config(path: str | Path) -> str:
    """The configuration the station really runs with, as YAML, defaults marked
    ("# mặc định"); every error of the file at once as one LoaError."""
    from loa.errors import LoaError
    from loa.schedule.config import effective_yaml
    from loa.schedule.load import read_schedule

    config, problems = read_schedule(path)
    if problems:
        raise LoaError.many(sorted(problems, key=lambda p: p.line or 0))
    return effective_yaml(config)
