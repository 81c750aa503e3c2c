"""Expand a schedule into the concrete occurrences that will play, in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from loa.errors import LoaError, excerpt
from loa.schedule.model import Program, Schedule
from loa.script.bulletin import Bulletin, BulletinFile, load_bulletins


@dataclass(frozen=True)
class Item:
    program: str
    bulletin: Bulletin


@dataclass(frozen=True)
class Occurrence:
    """One session on one day: the items play back to back into its zones."""

    station: str
    session: str
    at: datetime  # aware, station zone
    zones: tuple[str, ...]
    items: tuple[Item, ...]

    def play_key(self, zone: str, item: Item, language: str = "vi") -> str:
        """Recorded before a play starts, so a restart never plays it twice; a version in
        another language is a play of its own (the Vietnamese one keeps the old key)."""
        key = "|".join(
            [self.station, zone, item.program, self.at.isoformat(), item.bulletin.key]
        )
        return key if language == "vi" else f"{key}|{language}"

    def estimated_seconds(self) -> float:
        return sum(i.bulletin.estimated_seconds() for i in self.items)


def program_bulletin_files(schedule: Schedule) -> list[BulletinFile]:
    """Each bulletin file the programs use, once, in program order (for reports)."""
    files: dict[Path, BulletinFile] = {}
    for prog in schedule.programs.values():
        if prog.bulletins_file not in files:
            files[prog.bulletins_file] = load_bulletins(prog.bulletins_file)
    return list(files.values())


@dataclass(frozen=True)
class Refused:
    """A bulletin approved once that a program would play, whose approval no longer holds."""

    bulletin: Bulletin
    path: Path  # its bulletins file

    @property
    def detail_vi(self) -> str:
        """The log event's words: the bulletin by title, its file, why."""
        return (f"không phát bản tin “{self.bulletin.title}” (tệp {self.path.name}, mục "
                f"{self.bulletin.id}): {self.bulletin.why_not_airable()}.")


class ProgramBulletins(dict):
    """{program id: bulletins that may air}; `refused`: the ones approved once whose
    approval no longer holds (the daemon logs each once per load, `loa render` prints)."""

    def __init__(self, *args, refused: list[Refused] | None = None, **kw):
        super().__init__(*args, **kw)
        self.refused: list[Refused] = refused or []


def load_program_bulletins(schedule: Schedule) -> ProgramBulletins:
    """Approved bulletins of each program, in file order, filtered by `only`."""
    files: dict[Path, BulletinFile] = {}
    out = ProgramBulletins()
    refused: dict[tuple[Path, str], Refused] = {}
    for prog in schedule.programs.values():
        bfile = files.get(prog.bulletins_file)
        if bfile is None:
            bfile = files[prog.bulletins_file] = load_bulletins(prog.bulletins_file)
        chosen = [b for b in bfile.bulletins if b.is_approved]
        for b in bfile.bulletins:
            if (b.why_not_airable() and (not prog.only or b.id in prog.only)
                    and (bfile.path, b.id) not in refused):
                refused[(bfile.path, b.id)] = Refused(b, bfile.path)
        if prog.only:
            missing = [i for i in prog.only if not any(b.id == i for b in bfile.bulletins)]
            if missing:
                raise LoaError(
                    f"chương trình '{prog.id}': không có bản tin {excerpt(', '.join(missing))} "
                    f"trong {prog.bulletins_file.name}.",
                    schedule.path,
                    prog.line,
                )
            chosen = [b for b in chosen if b.id in prog.only]
        out[prog.id] = chosen
    out.refused = list(refused.values())
    return out


def _rotation(prog: Program, session_index: int, day: date, pool: list[Bulletin]) -> list[Bulletin]:
    """Slot k of the program plays the next n bulletins of the pool, round-robin.

    Each full pass through the pool shifts the start by one, so when the sessions per
    day times n divides the pool size, the morning does not always get the same ones.
    """
    if not pool:
        return []
    origin = prog.start or date(2020, 1, 1)
    slot = (day - origin).days * max(1, len(prog.sessions)) + session_index
    n = min(prog.per_session, len(pool))
    if prog.minutes_per_session:
        n = len(pool)  # as many as fit, decided below
    start = slot * n + (slot * n) // len(pool)
    picked = [pool[(start + i) % len(pool)] for i in range(n)]
    if prog.minutes_per_session:
        budget, out = prog.minutes_per_session * 60, []
        for b in picked:
            if out and sum(x.estimated_seconds() for x in out) + b.estimated_seconds() > budget:
                break
            out.append(b)
        return out
    return picked


def expand(
    schedule: Schedule,
    bulletins: dict[str, list[Bulletin]],
    start: datetime,
    end: datetime,
) -> list[Occurrence]:
    """Occurrences with start <= at < end."""
    tz = schedule.station.tz
    start, end = start.astimezone(tz), end.astimezone(tz)
    out: list[Occurrence] = []
    day = start.date()
    while day <= end.date():
        if day not in schedule.skip_dates and day not in schedule.holidays:
            for session in schedule.sessions.values():
                at = datetime.combine(day, session.time, tzinfo=tz)
                if day.weekday() not in session.days or not start <= at < end:
                    continue
                items = _session_items(schedule, bulletins, session.id, day)
                if items:
                    out.append(Occurrence(schedule.station.id, session.id, at, session.zones,
                                          items))
        day += timedelta(days=1)
    for a in schedule.announcements:
        if start <= a.at.astimezone(tz) < end:
            bulletin = Bulletin(id=a.id, title=a.title, text=a.text, plan="thong-bao",
                                status="approved", priority=a.priority, field=4)
            out.append(Occurrence(schedule.station.id, f"thong-bao:{a.id}", a.at.astimezone(tz),
                                  a.zones, (Item("thong-bao", bulletin),)))
    out.sort(key=lambda o: (o.at, o.session))
    return out


def _session_items(schedule: Schedule, bulletins: dict[str, list[Bulletin]], session_id: str,
                   day: date) -> tuple[Item, ...]:
    """What every program running that day puts in one session."""
    items: list[Item] = []
    for prog in schedule.programs.values():
        if session_id not in prog.sessions:
            continue
        if (prog.start and day < prog.start) or (prog.end and day > prog.end):
            continue
        idx = prog.sessions.index(session_id)
        items += [Item(prog.id, b) for b in _rotation(prog, idx, day, bulletins.get(prog.id, []))]
    # ưu tiên (2) before thông thường (3) within a session
    return tuple(sorted(items, key=lambda i: i.bulletin.priority))


def check_limits(schedule: Schedule, bulletins: dict[str, list[Bulletin]], days: int = 7,
                 now: datetime | None = None) -> list[str]:
    """Vietnamese warnings for sessions over the station's length limit."""
    now = now or datetime.now(schedule.station.tz)
    problems = []
    limit = schedule.station.max_session_minutes * 60
    seen = set()
    for occ in expand(schedule, bulletins, now, now + timedelta(days=days)):
        secs = occ.estimated_seconds()
        if secs > limit and occ.session not in seen:
            seen.add(occ.session)
            session = schedule.sessions.get(occ.session)  # None: a one-off announcement
            what = (f"buổi phát '{session.name}'" if session
                    else f"thông báo '{occ.items[0].bulletin.title}'")
            problems.append(  # names, not ids: officers read this
                f"{what} ngày {occ.at:%d/%m/%Y} dài khoảng {secs / 60:.0f} phút, quá giới hạn "
                f"{limit / 60:.0f} phút của đài.")
    for pid, pool in bulletins.items():
        if not pool:
            program = schedule.programs.get(pid)
            problems.append(f"chương trình '{program.name if program else pid}' chưa có bản "
                            "tin nào đã duyệt, nên sẽ không phát gì.")
    return problems


def missing_versions(schedule: Schedule, bulletins: dict[str, list[Bulletin]]) -> list[str]:
    """Per zone and language other than Vietnamese: the approved bulletins its programs
    play that have no approved version in it (the zone will hear them in Vietnamese)."""
    from loa.languages import lower_name

    lacking: dict[tuple[str, str], dict[str, None]] = {}
    for prog in schedule.programs.values():
        zones = dict.fromkeys(z for sid in prog.sessions if sid in schedule.sessions
                              for z in schedule.sessions[sid].zones)
        for zid in zones:
            zone = schedule.zones.get(zid)
            for lang in (zone.languages if zone else ()):
                for b in bulletins.get(prog.id, ()):
                    if lang != "vi" and b.for_air(lang) is None:
                        lacking.setdefault((zid, lang), {})[b.id] = None
    out = []
    for (zid, lang), ids in lacking.items():
        shown = ", ".join(list(ids)[:5]) + (", …" if len(ids) > 5 else "")
        out.append(f"vùng {schedule.zones[zid].name} nghe {lower_name(lang)}: {len(ids)} bản tin "
                   f"chưa có bản {lower_name(lang)} đã duyệt ({shown}), sẽ phát bản tiếng Việt; "
                   f"thêm bằng: loa bulletin version TỆP MÃ {lang} --audio TỆP_GHI_ÂM")
    return out
