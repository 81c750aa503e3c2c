"""What the console's views use to reach this station: its schedule, clock and files.

No path is ever taken from a request: a bulletins file is named in URLs by a key (its
file name without .yaml) looked up among the files the station really has."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import Http404

if TYPE_CHECKING:
    from loa.clock import Clock
    from loa.station import LoadedStation


class NoSchedule(RuntimeError):
    """A province or commune server (`loa serve --database` with no schedule) has no
    station schedule of its own: the pages that need one say so (loa.console.nocache)."""


def has_schedule() -> bool:
    return bool(settings.LOA_SCHEDULE)


def schedule_path() -> Path:
    if not settings.LOA_SCHEDULE:
        raise NoSchedule("LOA_SCHEDULE is not set (start the console with `loa serve`)")
    return Path(settings.LOA_SCHEDULE)


def schedule_dir() -> Path:
    return schedule_path().parent


def bulletins_dir() -> Path:
    """Where drafts from uploaded plans go: schedules/bulletins beside the schedule."""
    return schedule_dir() / "bulletins"


def plans_dir() -> Path:
    """Where uploaded plans are kept (under names the console chooses)."""
    return schedule_dir() / "plans"


SERVER_TITLE = "Máy chủ truyền thanh"  # header of a server with no schedule of its own

_loaded: dict[Path, tuple[tuple, LoadedStation, list[Path]]] = {}


def _stamp(paths: list[Path]) -> tuple:
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


def load() -> LoadedStation:
    """The station as the daemon would load it; raises LoaError (Vietnamese, file, line).

    Kept while the schedule and its bulletin files are unchanged on disk: a page view
    should not re-parse every file (the files stay the truth; a change is seen at once)."""
    from loa.station import load_station

    path = schedule_path()
    hit = _loaded.get(path)
    if hit is not None and hit[0] == _stamp(hit[2]):
        return hit[1]
    files = [path]
    stamp = _stamp(files)
    station = load_station(path)
    files += [p.bulletins_file for p in station.schedule.programs.values()]
    # the schedule's stamp from before reading: a save racing this load is seen next time
    _loaded[path] = (stamp + _stamp(files[1:]), station, files)
    return station


def context(request) -> dict:
    """Template context: the station's name for the header."""
    return {"station_title": station_name()} if getattr(request, "user", None) else {}


def station_name() -> str:
    """The station's name for the page header, even when the schedule has errors."""
    if not settings.LOA_SCHEDULE:
        return SERVER_TITLE
    try:
        return load().name
    except Exception:  # a broken schedule must not hide the console that can fix it
        return schedule_path().stem


def clock() -> Clock:
    if settings.LOA_CLOCK is not None:
        return settings.LOA_CLOCK
    from loa.clock import DEFAULT_TZ, SystemClock

    try:
        tz = load().schedule.station.tz
    except Exception:
        tz = DEFAULT_TZ
    return SystemClock(tz)


def bulletin_files() -> dict[str, Path]:
    """{key: path} of every bulletins file of the station: those its programs name and
    those in schedules/bulletins/ (drafts not yet on a program)."""
    files: dict[str, Path] = {}
    folder = bulletins_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.yaml")):
            files.setdefault(p.stem, p.resolve())
    try:
        programs = load().schedule.programs.values()
    except Exception:
        programs = []
    for prog in programs:
        p = Path(prog.bulletins_file).resolve()
        if p not in files.values():
            key = p.stem
            while key in files:
                key += "-"
            files[key] = p
    return files


def bulletin_file(key: str) -> Path:
    """The bulletins file named by `key`; 404 for anything the station does not have."""
    path = bulletin_files().get(key)
    if path is None:
        raise Http404("không có tệp bản tin này")
    return path
