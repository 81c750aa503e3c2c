"""Read and validate a schedule YAML: every problem at once, each with its line."""

from __future__ import annotations

import contextlib
import difflib
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loa.errors import LoaError, excerpt
from loa.schedule.model import (
    WEEKDAYS_VI,
    Announcement,
    Program,
    QuietHours,
    Schedule,
    Session,
    Station,
    Zone,
)
from loa.yamlio import Checker, LineDict, LineList, load_yaml

TOP_KEYS = ("station", "zones", "sessions", "programs", "announcements", "skip_dates",
            "holidays")
STATION_KEYS = (
    "id", "name", "timezone", "quiet_hours", "max_session_minutes", "voice", "speed",
    "engines", "intro", "outro", "day_prefix", "lexicon", "loudness", "preset", "chime",
    "piper_model", "relays", "pre_roll", "post_roll", "template", "owner", "place", "signer",
    "signer_title",
)
ZONE_KEYS = ("id", "name", "device", "relay", "volume")
ANNOUNCEMENT_KEYS = ("id", "at", "title", "text", "zones", "priority")
SESSION_KEYS = ("id", "name", "time", "days", "zones")
PROGRAM_KEYS = ("id", "name", "bulletins", "sessions", "from", "until", "per_session",
                "minutes_per_session", "only")
_DAY_ALIASES = {
    "t2": 0, "thu 2": 0, "thứ 2": 0, "thứ hai": 0, "mon": 0,
    "t3": 1, "thứ 3": 1, "thứ ba": 1, "tue": 1,
    "t4": 2, "thứ 4": 2, "thứ tư": 2, "wed": 2,
    "t5": 3, "thứ 5": 3, "thứ năm": 3, "thu": 3,
    "t6": 4, "thứ 6": 4, "thứ sáu": 4, "fri": 4,
    "t7": 5, "thứ 7": 5, "thứ bảy": 5, "sat": 5,
    "cn": 6, "chủ nhật": 6, "sun": 6,
}
_ID = re.compile(r"[\w.-]{1,64}")


def _beside(base: Path, name: str) -> Path:
    """A file named in the schedule, relative to it; a name no OS accepts stays as is."""
    try:
        return (base.parent / name).resolve()
    except (OSError, ValueError, RuntimeError):
        return base.parent / name


def _file_beside(chk: Checker, path: Path, raw: LineDict, key: str, what: str) -> Path | None:
    """The file a schedule names under `key`, beside the schedule; an error (it is missing,
    or is not a regular file) goes on the checker's list."""
    name = chk.path_value(raw, key)
    if not name:
        return None
    found = _beside(path, name)
    if not _is_file(found):
        there = False
        with contextlib.suppress(OSError, ValueError):
            there = found.exists()
        chk.add(f"{what} '{excerpt(name)}' không phải một tệp thường." if there
                else f"không tìm thấy {what} '{excerpt(name)}'.", raw, key)
    return found


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a NUL or a name too long is simply not a file
        return False


def parse_time(text: Any) -> time | None:
    # Text only: the loader reads an unquoted 17:00 as text (not YAML 1.1's sexagesimal
    # 1020), so a number here is a mistake, never a time.
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"\s*(\d{1,2})\s*[:hg]\s*(\d{2})?(?::(\d{2}))?\s*", text)
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    if h > 23 or mi > 59 or sec > 59:
        return None
    return time(h, mi, sec)


def parse_datetime(text: Any, tz) -> datetime | None:
    if not isinstance(text, str):
        return None
    m = re.fullmatch(r"\s*(\S+)[ T](\S+)\s*", text)
    if not m:
        return None
    day, clock = parse_date(m.group(1)), parse_time(m.group(2))
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


def parse_date(text: Any) -> date | None:
    if not isinstance(text, str | int) or isinstance(text, bool):
        return None
    s = str(text).strip()
    if len(s) > 10:
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        pass
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", s)
    if m:
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
    return None


def _parse_days(value: Any, chk: Checker, container: LineDict) -> frozenset[int]:
    if value is None or (isinstance(value, str) and value.strip().lower() in (
            "hằng ngày", "hàng ngày", "daily")):
        return frozenset(range(7))
    items = value if isinstance(value, list) else [value]
    if not items:
        chk.add("'days' rỗng nên buổi phát không bao giờ phát; bỏ khóa 'days' để phát hằng "
                "ngày, hoặc ghi ví dụ [T2, T4].", container, "days")
    days: set[int] = set()
    for item in items:
        key = item.strip().lower() if isinstance(item, str) else None
        m = re.fullmatch(r"(t\d|cn)\s*-\s*(t\d|cn)", key or "")
        if m and m.group(1) in _DAY_ALIASES and m.group(2) in _DAY_ALIASES:
            a, b = _DAY_ALIASES[m.group(1)], _DAY_ALIASES[m.group(2)]
            # A range wraps past Sunday like quiet hours wrap past midnight: "T6-T2" is what
            # an officer writes for Friday to Monday (it used to select no day at all).
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif key in _DAY_ALIASES:
            days.add(_DAY_ALIASES[key])
        else:
            chk.add(f"ngày trong tuần '{excerpt(item)}' không hợp lệ (dùng "
                    f"{', '.join(WEEKDAYS_VI)} hoặc 'T2-T6', 'hằng ngày').", container, "days")
    return frozenset(days)


def _id_list(value: Any, known: dict, what: str, chk: Checker, container, key) -> tuple:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not items:
        chk.add(f"'{key}' rỗng; bỏ khóa '{key}' hoặc ghi ít nhất một {what}.", container, key)
    out = []
    for item in items:
        sid = item if isinstance(item, str) else None
        if sid is None and isinstance(item, int) and not isinstance(item, bool):
            sid = str(item)
        if sid not in known:
            hint = difflib.get_close_matches(sid[:100], list(known), n=1) if sid else []
            tip = f" Có phải ý bạn là '{hint[0]}'?" if hint else ""
            chk.add(f"không có {what} '{excerpt(item)}'.{tip}", container, key)
            continue
        if sid in out:
            chk.add(f"{what} '{excerpt(sid)}' ghi hai lần trong '{key}'.", container, key)
            continue
        out.append(sid)
    return tuple(out)


def _station(raw: Any, chk: Checker, path: Path, top: LineDict) -> Station:
    if not isinstance(raw, LineDict):
        if raw is None:
            chk.add("thiếu mục 'station:' (tên đài, múi giờ…).", top)
        else:
            chk.add("'station' phải là một bảng 'khóa: giá trị' (name, timezone, …).", top,
                    "station")
        raw = LineDict()
        raw.key_lines, raw.key_columns, raw.value_columns = {}, {}, {}
    chk.keys(raw, STATION_KEYS, "station")
    chk.required(raw, "name", "station")
    name = chk.text(raw, "name") or "Đài truyền thanh"
    tz_name = raw.get("timezone", "Asia/Ho_Chi_Minh")
    try:
        if not isinstance(tz_name, str):
            raise ValueError
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        chk.add(f"múi giờ '{excerpt(tz_name)}' không tồn tại (ví dụ đúng: Asia/Ho_Chi_Minh).",
                raw, "timezone")
        tz = ZoneInfo("Asia/Ho_Chi_Minh")
    quiet = None
    if raw.get("quiet_hours") is not None:
        m = re.fullmatch(r"\s*(\S+)\s*-\s*(\S+)\s*", raw["quiet_hours"]) \
            if isinstance(raw["quiet_hours"], str) else None
        a, b = (parse_time(m.group(1)), parse_time(m.group(2))) if m else (None, None)
        if a is None or b is None:
            chk.add("'quiet_hours' phải có dạng \"21:00-05:30\" (đang ghi: "
                    f"'{excerpt(raw['quiet_hours'])}').", raw, "quiet_hours")
        else:
            quiet = QuietHours(a, b)
    max_minutes = float(chk.number(raw, "max_session_minutes", 45.0, 0, 24 * 60,
                                   "'max_session_minutes' phải là số phút lớn hơn 0 "
                                   "(tối đa 1440)", above=True))
    voice = str(raw.get("voice", "north"))
    if voice not in ("north", "central", "south"):
        chk.add("'voice' phải là north (giọng Bắc), central (giọng Trung) hoặc south "
                "(giọng Nam).", raw, "voice")
    speed = float(chk.number(raw, "speed", 1.0, 0.5, 2.0,
                             "'speed' (tốc độ đọc) phải từ 0.5 đến 2.0"))
    engines = raw.get("engines", ["gtts", "espeak"])
    engines = engines if isinstance(engines, list) else [engines]
    if not engines:
        chk.add("'engines' rỗng: cần ít nhất một bộ đọc (gtts, espeak, piper).", raw, "engines")
        engines = ["gtts", "espeak"]
    for e in engines:
        if e not in ("gtts", "espeak", "piper"):
            chk.add(f"bộ đọc '{excerpt(e)}' không có (dùng: gtts, espeak, piper).", raw,
                    "engines")
    engines = tuple(e for e in engines if e in ("gtts", "espeak", "piper")) or ("espeak",)
    piper_model = None
    piper_name = chk.path_value(raw, "piper_model")
    if piper_name:
        piper_model = _beside(path, piper_name)
        if not _is_file(piper_model) or not _is_file(Path(str(piper_model) + ".json")):
            chk.add(f"không tìm thấy tệp giọng đọc piper '{excerpt(piper_name)}' (cần cả tệp "
                    ".onnx và tệp .onnx.json bên cạnh).", raw, "piper_model")
    elif "piper" in engines:
        chk.add("bộ đọc piper cần tệp giọng đọc: tải một lần (ví dụ vi_VN-….onnx và "
                ".onnx.json) rồi ghi đường dẫn vào 'piper_model'.", raw, "engines")
    day_prefix = raw.get("day_prefix", "mùng")
    day_prefix = None if day_prefix in (None, "", "none", "không") else day_prefix
    if day_prefix not in (None, "mùng", "mồng"):
        chk.add("'day_prefix' (cách đọc ngày 1-10) phải là mùng, mồng hoặc none.", raw,
                "day_prefix")
        day_prefix = "mùng"
    lexicon = _file_beside(chk, path, raw, "lexicon", "tệp từ viết tắt")
    target = float(chk.number(raw, "loudness", -16.0, -30, -10,
                              "'loudness' (độ to, LUFS) phải từ -30 đến -10; mặc định -16"))
    preset = str(raw.get("preset", "none"))
    if preset not in ("none", "horn"):
        chk.add("'preset' phải là none hoặc horn (lọc tiếng cho loa nén).", raw, "preset")
        preset = "none"
    chime = raw.get("chime", True)
    if not isinstance(chime, bool):
        chk.add("'chime' (tiếng chuông) phải là true hoặc false.", raw, "chime")
        chime = True
    template = _file_beside(chk, path, raw, "template", "tệp mẫu bản tin")
    relays = str(raw.get("relays", "none"))
    if relays not in ("none", "gpio"):
        chk.add("'relays' phải là none hoặc gpio (rơ-le bật loa từng vùng qua chân GPIO).", raw,
                "relays")
        relays = "none"
    rolls = {key: float(chk.number(raw, key, default, 0, 30,
                                   f"'{key}' phải là số giây từ 0 đến 30"))
             for key, default in (("pre_roll", 1.0), ("post_roll", 0.5))}
    sid = re.sub(r"\W+", "-", path.stem).strip("-")[:64] or "station"
    if raw.get("id") is not None:
        given = chk.text(raw, "id")
        if given and _ID.fullmatch(given):
            sid = given
        else:
            chk.add(f"mã đài '{excerpt(raw['id'])}' chỉ được gồm chữ, số, '-', '_' và '.' "
                    "(tối đa 64 ký tự).", raw, "id")
    return Station(
        id=sid, name=name, tz=tz, quiet_hours=quiet, max_session_minutes=max_minutes,
        voice=voice, speed=speed, engines=engines, intro=chk.text(raw, "intro"),
        day_prefix=day_prefix, lexicon=lexicon, outro=chk.text(raw, "outro"),
        loudness=target, preset=preset, chime=chime, piper_model=piper_model,
        relays=relays, pre_roll=rolls["pre_roll"], post_roll=rolls["post_roll"],
        template=template, owner=chk.text(raw, "owner"), place=chk.text(raw, "place"),
        signer=chk.text(raw, "signer"), signer_title=chk.text(raw, "signer_title"),
    )


def _list(raw: Any, key: str, chk: Checker, top: LineDict) -> list:
    value = raw
    if value is None:
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


def _unique(items: list[LineDict], what: str, chk: Checker) -> dict[str, LineDict]:
    out: dict[str, LineDict] = {}
    for item in items:
        iid = item.get("id")
        if iid is None:
            chk.add(f"{what} thiếu 'id'.", item)
            continue
        if isinstance(iid, bool) or not isinstance(iid, str | int) \
                or not _ID.fullmatch(str(iid)):
            chk.add(f"mã '{excerpt(iid)}' chỉ được gồm chữ, số, '-', '_' và '.' (tối đa 64 ký "
                    "tự).", item, "id")
            continue
        iid = str(iid)
        if iid in out:
            chk.add(f"mã {what} '{iid}' bị trùng.", item, "id")
        out[iid] = item
    return out


def load_schedule(path: str | Path) -> Schedule:
    path = Path(path)
    top = load_yaml(path)
    if not isinstance(top, LineDict):
        raise LoaError("tệp lịch phát phải là một bảng 'khóa: giá trị' (station, zones, …).",
                       path, 1)
    chk = Checker(path)
    chk.keys(top, TOP_KEYS, "tệp lịch phát")
    station = _station(top.get("station"), chk, path, top)

    zones: dict[str, Zone] = {}
    raw_zones = _list(top.get("zones"), "zones", chk, top)
    if isinstance(top.get("zones"), LineList) and not top["zones"]:
        chk.add("'zones' rỗng: cần ít nhất một vùng loa.", top, "zones")
    zone_items = _unique(raw_zones, "vùng", chk)
    for zid, z in zone_items.items():
        chk.keys(z, ZONE_KEYS, f"vùng '{zid}'")
        relay = chk.number(z, "relay", None, 0, 40,
                           f"'relay' của vùng '{zid}' phải là số chân GPIO (0-40)",
                           integer=True)
        volume = chk.number(z, "volume", None, 0, 100,
                            f"'volume' của vùng '{zid}' phải là số phần trăm từ 0 đến 100",
                            integer=True)
        zones[zid] = Zone(zid, chk.text(z, "name") or zid, chk.text(z, "device") or "default",
                          relay, volume)
    used: dict[int, str] = {}
    for zone in zones.values():
        if zone.relay is not None:
            if zone.relay in used:
                chk.add(f"vùng '{zone.id}' và '{used[zone.relay]}' dùng chung rơ-le "
                        f"{zone.relay}.", zone_items[zone.id], "relay")
            used[zone.relay] = zone.id

    sessions: dict[str, Session] = {}
    raw_sessions = _unique(_list(top.get("sessions"), "sessions", chk, top), "buổi phát", chk)
    for sid, s in raw_sessions.items():
        chk.keys(s, SESSION_KEYS, f"buổi phát '{sid}'")
        raw_time = chk.required(s, "time", f"buổi phát '{sid}'")
        t = parse_time(raw_time)
        if t is None and raw_time is not None:
            chk.add(f"giờ phát '{excerpt(raw_time)}' không hợp lệ (dạng 06:30).", s, "time")
        szones = _id_list(s.get("zones"), zones, "vùng", chk, s, "zones") or tuple(zones)
        sess = Session(sid, chk.text(s, "name") or sid, t or time(0), _parse_days(
            s.get("days"), chk, s), szones, s.line)
        if t is not None and station.quiet_hours and station.quiet_hours.contains(t):
            chk.add(f"buổi phát '{sid}' lúc {t:%H:%M} rơi vào giờ yên tĩnh "
                    f"({station.quiet_hours}); chỉ tin khẩn cấp được phát giờ này.", s, "time")
        sessions[sid] = sess

    programs: dict[str, Program] = {}
    for pid, p in _unique(_list(top.get("programs"), "programs", chk, top), "chương trình",
                          chk).items():
        chk.keys(p, PROGRAM_KEYS, f"chương trình '{pid}'")
        chk.required(p, "bulletins", f"chương trình '{pid}'")
        bpath = _file_beside(chk, path, p, "bulletins", "tệp bản tin") or path
        dates = {}
        for key in ("from", "until"):
            val = p.get(key)
            dates[key] = parse_date(val) if val is not None else None
            if val is not None and dates[key] is None:
                chk.add(f"ngày '{excerpt(val)}' không hợp lệ (dạng 2026-04-01 hoặc 01/04/2026).",
                        p, key)
        start, end = dates["from"], dates["until"]
        if start and end and end < start:
            chk.add("'until' phải sau 'from'.", p, "until")
        per = chk.number(p, "per_session", 1, 1, 100,
                         "'per_session' phải là số nguyên từ 1 đến 100", integer=True)
        minutes = chk.number(p, "minutes_per_session", None, 0, 24 * 60,
                             "'minutes_per_session' phải là số phút lớn hơn 0 (tối đa 1440)",
                             above=True)
        if p.get("sessions") is None:
            chk.add(f"chương trình '{pid}' thiếu 'sessions' (phát vào buổi nào).", p)
        only = p.get("only")
        only = [] if only is None else only if isinstance(only, list) else [only]
        if any(isinstance(x, bool) or not isinstance(x, str | int) for x in only):
            chk.add("'only' phải là danh sách mã bản tin.", p, "only")
            only = []
        programs[pid] = Program(
            id=pid, name=chk.text(p, "name") or pid, bulletins_file=bpath,
            sessions=_id_list(p.get("sessions"), sessions, "buổi phát", chk, p, "sessions"),
            start=start, end=end, per_session=per,
            minutes_per_session=float(minutes) if minutes is not None else None,
            only=tuple(str(x) for x in only), line=p.line,
        )

    skips: set[date] = set()
    raw_skips = top.get("skip_dates")
    raw_skips = [] if raw_skips is None else raw_skips
    for i, d in enumerate(raw_skips if isinstance(raw_skips, list) else [raw_skips]):
        parsed = parse_date(d)
        if parsed is None:
            chk.add(f"ngày nghỉ '{excerpt(d)}' không hợp lệ (dạng 2026-09-02).",
                    raw_skips if isinstance(raw_skips, list) else top,
                    i if isinstance(raw_skips, list) else "skip_dates")
        else:
            skips.add(parsed)

    holidays: dict[date, str] = {}
    raw_holidays = top.get("holidays")
    raw_holidays = [] if raw_holidays is None else raw_holidays
    for i, h in enumerate(raw_holidays if isinstance(raw_holidays, list) else [raw_holidays]):
        day = parse_date(h.get("date")) if isinstance(h, LineDict) else parse_date(h)
        where = (raw_holidays, i) if isinstance(raw_holidays, list) else (top, "holidays")
        if day is None:
            chk.add("mỗi ngày lễ cần 'date' (ví dụ 2026-09-02) và có thể có 'name'.", *where)
            continue
        holidays[day] = chk.text(h, "name") if isinstance(h, LineDict) else ""

    announcements = []
    raw_ann = top.get("announcements")
    seen_ann: set[str] = set()
    for a in (_list(raw_ann, "announcements", chk, top) if raw_ann is not None else []):
        aid = a.get("id")
        if aid is None:
            aid = f"thong-bao-{a.line}"
        elif isinstance(aid, bool) or not isinstance(aid, str | int) \
                or not _ID.fullmatch(str(aid)):
            chk.add(f"mã '{excerpt(aid)}' chỉ được gồm chữ, số, '-', '_' và '.' (tối đa 64 ký "
                    "tự).", a, "id")
            aid = f"thong-bao-{a.line}"
        aid = str(aid)
        if aid in seen_ann:
            chk.add(f"mã thông báo '{aid}' bị trùng.", a, "id")
        seen_ann.add(aid)
        chk.keys(a, ANNOUNCEMENT_KEYS, f"thông báo '{aid}'")
        when = parse_datetime(a.get("at"), station.tz)
        if when is None:
            chk.add("'at' của thông báo phải có dạng \"2026-11-23 07:15\".", a, "at")
        text = chk.text(a, "text").strip()
        if not text and not isinstance(a.get("text"), list | dict | bool):
            chk.add(f"thông báo '{aid}' thiếu 'text' (lời đọc).", a)
        azones = _id_list(a.get("zones"), zones, "vùng", chk, a, "zones") or tuple(zones)
        prio = chk.number(a, "priority", 2, 1, 3, "'priority' phải là 1 (khẩn cấp), 2 (ưu "
                          "tiên) hoặc 3 (thông thường)", integer=True)
        if (when is not None and prio != 1 and station.quiet_hours
                and station.quiet_hours.contains(when.time())):
            chk.add(f"thông báo '{aid}' lúc {when:%H:%M} rơi vào giờ yên tĩnh "
                    f"({station.quiet_hours}); chỉ tin khẩn cấp (priority: 1) được phát.",
                    a, "at")
        if when is not None and text:
            announcements.append(Announcement(aid, when, chk.text(a, "title") or text[:60],
                                              text, azones, prio, a.line))

    if chk.problems:
        raise LoaError.many(chk.problems)
    return Schedule(path, station, zones, sessions, programs, frozenset(skips),
                    tuple(announcements), holidays)
