"""Read and validate a schedule YAML: every problem at once, each with its line.

Each key is declared once in loa/schedule/schema.py (type, range, label) and defaulted
once in defaults.yaml; what is left here are the rules between keys (ids that must exist,
quiet hours, shared relays) and building the model.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path
from typing import Any

from loa.errors import LoaError, Problem, excerpt
from loa.schedule.model import (
    Announcement,
    Program,
    Schedule,
    Session,
    Station,
    Zone,
)
from loa.schedule.schema import (
    ANNOUNCEMENT,
    HOLIDAY,
    PROGRAM,
    SESSION,
    STATION,
    TOP_KEYS,
    ZONE,
)
from loa.schema import ID, Context, Read, Schema, parse_date, parse_datetime, parse_time
from loa.yamlio import Checker, LineDict, LineList, load_yaml

__all__ = ["ScheduleConfig", "load_schedule", "parse_date", "parse_datetime", "parse_time",
           "read_schedule"]


class ScheduleConfig:
    """A schedule file as read, key by key, before it becomes a Schedule: what
    `loa config` prints (with which values are defaults). A plain class: a dataclass
    costs milliseconds at import on every command's path."""

    def __init__(self, path: Path, station: Read):
        self.path, self.station = path, station
        self.zones: dict[str, Read] = {}
        self.sessions: dict[str, Read] = {}
        self.programs: dict[str, Read] = {}
        self.announcements: dict[str, Read] = {}
        self.skip_dates: list[date] = []
        self.holidays: dict[date, str] = {}


def load_schedule(path: str | Path) -> Schedule:
    config, problems = read_schedule(path)
    if problems:
        raise LoaError.many(sorted(problems, key=lambda p: p.line or 0))
    return build(config)


def read_schedule(path: str | Path) -> tuple[ScheduleConfig, list[Problem]]:
    """The file read key by key, and every problem in it; LoaError only when the file
    cannot be read as YAML at all."""
    path = Path(path)
    top = load_yaml(path)
    if not isinstance(top, LineDict):
        raise LoaError("tệp lịch phát phải là một bảng 'khóa: giá trị' (station, zones, …).",
                       path, 1)
    chk = Checker(path)
    chk.keys(top, TOP_KEYS, "tệp lịch phát")
    config = ScheduleConfig(path, _station(top, chk, path))
    ctx = Context(path, config.station["timezone"])
    config.zones = _zones(top, chk, ctx)
    ctx.known["zones"] = config.zones
    config.sessions = _items(top, "sessions", SESSION, chk, ctx, required=True)
    ctx.known["sessions"] = config.sessions
    config.programs = _items(top, "programs", PROGRAM, chk, ctx, required=True)
    config.announcements = _announcements(top, chk, ctx)
    for read in (*config.sessions.values(), *config.announcements.values()):
        if read["zones"] is None:  # not written: every zone
            read.values["zones"] = tuple(config.zones)
    config.skip_dates = _skip_dates(top, chk)
    config.holidays = _holidays(top, chk)
    _cross_checks(config, chk)
    return config, chk.problems


def _empty() -> LineDict:
    raw = LineDict()
    raw.key_lines, raw.key_columns, raw.value_columns = {}, {}, {}
    return raw


def _station(top: LineDict, chk: Checker, path: Path) -> Read:
    raw = top.get("station")
    if not isinstance(raw, LineDict):
        if raw is None:
            chk.add("thiếu mục 'station:' (tên đài, múi giờ…).", top)
        else:
            chk.add("'station' phải là một bảng 'khóa: giá trị' (name, timezone, …).", top,
                    "station")
        raw = _empty()
    read = STATION.read(raw, chk, Context(path))
    if read["id"] is None:  # not written (or not valid): named after the file
        read.values["id"] = re.sub(r"\W+", "-", path.stem).strip("-")[:64] or "station"
    if read["name"] is None:
        read.values["name"] = "Đài truyền thanh"
    return read


def _list(top: LineDict, key: str, chk: Checker, required: bool) -> list[LineDict]:
    value = top.get(key)
    if value is None:
        if required:
            chk.add(f"thiếu mục '{key}:' (một danh sách).", top)
        return []
    if not isinstance(value, LineList):
        chk.add(f"'{key}' phải là một danh sách (mỗi mục bắt đầu bằng '- ').", top, key)
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, LineDict):
            chk.add(f"mỗi mục của '{key}' phải có dạng 'khóa: giá trị'.", value, i)
        else:
            out.append(item)
    return out


def _unique(items: list[LineDict], schema: Schema, chk: Checker) -> dict[str, LineDict]:
    out: dict[str, LineDict] = {}
    for item in items:
        iid = item.get("id")
        if iid is None:
            chk.add(f"{schema.where_vi} thiếu 'id'.", item)
            continue
        if isinstance(iid, bool) or not isinstance(iid, str | int) or not ID.fullmatch(str(iid)):
            chk.add(f"mã '{excerpt(iid)}' chỉ được gồm chữ, số, '-', '_' và '.' (tối đa 64 ký "
                    "tự).", item, "id")
            continue
        iid = str(iid)
        if iid in out:
            chk.add(f"mã {schema.where_vi} '{iid}' bị trùng.", item, "id")
        out[iid] = item
    return out


def _items(top: LineDict, key: str, schema: Schema, chk: Checker, ctx: Context,
           required: bool = False) -> dict[str, Read]:
    out = {}
    for iid, raw in _unique(_list(top, key, chk, required), schema, chk).items():
        ctx.owner = iid
        read = schema.read(raw, chk, ctx, f"{schema.where_vi} '{iid}'")
        read.values["id"] = iid
        if not read["name"]:
            read.values["name"] = iid
        out[iid] = read
    return out


def _zones(top: LineDict, chk: Checker, ctx: Context) -> dict[str, Read]:
    if isinstance(top.get("zones"), LineList) and not top["zones"]:
        chk.add("'zones' rỗng: cần ít nhất một vùng loa.", top, "zones")
    zones = _items(top, "zones", ZONE, chk, ctx, required=True)
    used: dict[int, str] = {}
    for zid, zone in zones.items():
        relay = zone["relay"]
        if relay is not None:
            if relay in used:
                chk.add(f"vùng '{zid}' và '{used[relay]}' dùng chung rơ-le {relay}.",
                        zone.raw, "relay")
            used[relay] = zid
    return zones


def _announcements(top: LineDict, chk: Checker, ctx: Context) -> dict[str, Read]:
    out: dict[str, Read] = {}
    for raw in _list(top, "announcements", chk, required=False):
        given = raw.get("id")
        named = isinstance(given, str | int) and not isinstance(given, bool)
        read = ANNOUNCEMENT.read(raw, chk, ctx, f"thông báo '{excerpt(given)}'" if named
                                 else "thông báo")
        aid = read["id"] or f"thong-bao-{raw.line}"  # the id is optional
        if aid in out:
            chk.add(f"mã thông báo '{aid}' bị trùng.", raw, "id")
        read.values["id"] = aid
        if not read["title"] and read["text"]:
            read.values["title"] = read["text"].strip()[:60]
        out[aid] = read
    return out


def _skip_dates(top: LineDict, chk: Checker) -> list[date]:
    raw = top.get("skip_dates")
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    out = []
    for i, d in enumerate(items):
        parsed = parse_date(d)
        if parsed is None:
            where = (raw, i) if isinstance(raw, list) else (top, "skip_dates")
            chk.add(f"ngày nghỉ '{excerpt(d)}' không hợp lệ (dạng 2026-09-02).", *where)
        else:
            out.append(parsed)
    return out


def _holidays(top: LineDict, chk: Checker) -> dict[date, str]:
    raw = top.get("holidays")
    items = [] if raw is None else raw if isinstance(raw, list) else [raw]
    out: dict[date, str] = {}
    for i, h in enumerate(items):
        where = (raw, i) if isinstance(raw, list) else (top, "holidays")
        day = parse_date(h.get("date")) if isinstance(h, LineDict) else parse_date(h)
        if day is None:
            chk.add("mỗi ngày lễ cần 'date' (ví dụ 2026-09-02) và có thể có 'name'.", *where)
            continue
        out[day] = HOLIDAY.read(h, chk).get("name") or "" if isinstance(h, LineDict) else ""
    return out


def _cross_checks(config: ScheduleConfig, chk: Checker) -> None:
    """The rules between keys: each names the line of the key at fault."""
    station = config.station
    if "piper" in (station["engines"] or ()) and station["piper_model"] is None:
        chk.add("bộ đọc piper cần tệp giọng đọc: chép một lần (ví dụ vi_VN-….onnx và "
                ".onnx.json), cài bằng loa voices add rồi ghi tên giọng vào 'piper_model' "
                "(hoặc ghi đường dẫn tệp .onnx).", station.raw, "engines")
    quiet = station["quiet_hours"]
    for sid, s in config.sessions.items():
        t = s["time"]
        if t is not None and quiet and quiet.contains(t):
            chk.add(f"buổi phát '{sid}' lúc {t:%H:%M} rơi vào giờ yên tĩnh ({quiet}); chỉ tin "
                    "khẩn cấp được phát giờ này.", s.raw, "time")
    for p in config.programs.values():
        if p["from"] and p["until"] and p["until"] < p["from"]:
            chk.add("'until' phải sau 'from'.", p.raw, "until")
    for aid, a in config.announcements.items():
        when = a["at"]
        if when is not None and a["priority"] != 1 and quiet and quiet.contains(when.time()):
            chk.add(f"thông báo '{aid}' lúc {when:%H:%M} rơi vào giờ yên tĩnh ({quiet}); chỉ "
                    "tin khẩn cấp (priority: 1) được phát.", a.raw, "at")


def build(config: ScheduleConfig) -> Schedule:
    """The model from a file read without problems."""
    st = config.station.values
    station = Station(**{k: st[k] for k in (
        "id", "name", "quiet_hours", "voice", "engines", "intro", "outro", "day_prefix",
        "lexicon", "preset", "chime", "piper_model", "template", "relays", "owner", "place",
        "signer", "signer_title")}, tz=st["timezone"],
        **{k: float(st[k]) for k in ("max_session_minutes", "speed", "loudness", "pre_roll",
                                     "post_roll")})
    zones = {zid: Zone(zid, z["name"], z["device"], z["relay"], z["volume"],
                       z["languages"] or ("vi",))
             for zid, z in config.zones.items()}
    sessions = {sid: Session(sid, s["name"], s["time"] or time(0), s["days"], s["zones"],
                             s.raw.line)
                for sid, s in config.sessions.items()}
    programs = {pid: Program(
        id=pid, name=p["name"], bulletins_file=p["bulletins"], sessions=p["sessions"],
        start=p["from"], end=p["until"], per_session=p["per_session"],
        minutes_per_session=_float(p["minutes_per_session"]), only=p["only"] or (),
        line=p.raw.line) for pid, p in config.programs.items()}
    announcements = tuple(
        Announcement(aid, a["at"], a["title"], a["text"].strip(), a["zones"], a["priority"],
                     a.raw.line)
        for aid, a in config.announcements.items())
    return Schedule(config.path, station, zones, sessions, programs,
                    frozenset(config.skip_dates), announcements, dict(config.holidays))


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None
