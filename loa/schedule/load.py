"""Read and validate a schedule YAML: every problem at once, each with its line."""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loa.errors import LoaError, Problem
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
from loa.yamlio import LineDict, LineList, line_of, load_yaml

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
_ID = re.compile(r"^[\w.-]+$")


class _Checker:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []

    def add(self, msg: str, container: Any = None, key: Any = None) -> None:
        self.problems.append(Problem(msg, self.path, line_of(container, key)))

    def keys(self, mapping: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in mapping:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                tip = f" Có phải ý bạn là '{hint[0]}'?" if hint else ""
                ok = ", ".join(allowed)
                self.add(f"khóa '{key}' không dùng được trong {where}.{tip} (Dùng: {ok}.)",
                         mapping, key)

    def required(self, mapping: LineDict, key: str, where: str) -> Any:
        value = mapping.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(f"{where} thiếu '{key}'.", mapping)
            return None
        return value


def parse_time(text: Any) -> time | None:
    if isinstance(text, int) and not isinstance(text, bool):
        # YAML 1.1 reads an unquoted 06:30 as sexagesimal 390 (and 06:30:15 as seconds).
        if 0 <= text < 24 * 60:
            return time(*divmod(text, 60))
        if 0 <= text < 24 * 3600:
            hours, rest = divmod(text, 3600)
            return time(hours, *divmod(rest, 60))
        return None
    m = re.fullmatch(r"\s*(\d{1,2})\s*[:hg]\s*(\d{2})?(?::(\d{2}))?\s*", str(text))
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    if h > 23 or mi > 59 or sec > 59:
        return None
    return time(h, mi, sec)


def parse_datetime(text: Any, tz) -> datetime | None:
    m = re.fullmatch(r"\s*(\S+)[ T](\S+)\s*", str(text or ""))
    if not m:
        return None
    day, clock = parse_date(m.group(1)), parse_time(m.group(2))
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=tz)


def parse_date(text: Any) -> date | None:
    s = str(text).strip()
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


def _parse_days(value: Any, chk: _Checker, container: LineDict) -> frozenset[int]:
    if value is None or str(value).strip().lower() in ("hằng ngày", "hàng ngày", "daily"):
        return frozenset(range(7))
    items = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for item in items:
        key = str(item).strip().lower()
        m = re.fullmatch(r"(t\d|cn)\s*-\s*(t\d|cn)", key)
        if m and m.group(1) in _DAY_ALIASES and m.group(2) in _DAY_ALIASES:
            a, b = _DAY_ALIASES[m.group(1)], _DAY_ALIASES[m.group(2)]
            days.update(range(a, b + 1))
        elif key in _DAY_ALIASES:
            days.add(_DAY_ALIASES[key])
        else:
            chk.add(f"ngày trong tuần '{item}' không hợp lệ (dùng {', '.join(WEEKDAYS_VI)}"
                    " hoặc 'T2-T6', 'hằng ngày').", container, "days")
    return frozenset(days)


def _id_list(value: Any, known: dict, what: str, chk: _Checker, container, key) -> tuple:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        sid = str(item)
        if sid not in known:
            hint = difflib.get_close_matches(sid, list(known), n=1)
            tip = f" Có phải ý bạn là '{hint[0]}'?" if hint else ""
            chk.add(f"không có {what} '{sid}'.{tip}", container, key)
        out.append(sid)
    return tuple(out)


def _station(raw: Any, chk: _Checker, path: Path) -> Station:
    if not isinstance(raw, LineDict):
        chk.add("thiếu mục 'station:' (tên đài, múi giờ…).")
        raw = LineDict()
        raw.key_lines = {}
    chk.keys(raw, STATION_KEYS, "station")
    name = str(chk.required(raw, "name", "station") or "Đài truyền thanh")
    tz_name = str(raw.get("timezone", "Asia/Ho_Chi_Minh"))
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        chk.add(f"múi giờ '{tz_name}' không tồn tại (ví dụ đúng: Asia/Ho_Chi_Minh).", raw,
                "timezone")
        tz = ZoneInfo("Asia/Ho_Chi_Minh")
    quiet = None
    if raw.get("quiet_hours"):
        m = re.fullmatch(r"\s*(\S+)\s*-\s*(\S+)\s*", str(raw["quiet_hours"]))
        a, b = (parse_time(m.group(1)), parse_time(m.group(2))) if m else (None, None)
        if a is None or b is None:
            chk.add("'quiet_hours' phải có dạng \"21:00-05:30\".", raw, "quiet_hours")
        else:
            quiet = QuietHours(a, b)
    try:
        max_minutes = float(raw.get("max_session_minutes", 45))
        if max_minutes <= 0:
            raise ValueError
    except (TypeError, ValueError):
        chk.add("'max_session_minutes' phải là số phút lớn hơn 0.", raw, "max_session_minutes")
        max_minutes = 45.0
    voice = str(raw.get("voice", "north"))
    if voice not in ("north", "central", "south"):
        chk.add("'voice' phải là north (giọng Bắc), central (giọng Trung) hoặc south "
                "(giọng Nam).", raw, "voice")
    try:
        speed = float(raw.get("speed", 1.0))
        if not 0.5 <= speed <= 2.0:
            raise ValueError
    except (TypeError, ValueError):
        chk.add("'speed' (tốc độ đọc) phải từ 0.5 đến 2.0.", raw, "speed")
        speed = 1.0
    engines = raw.get("engines", ["gtts", "espeak"])
    engines = tuple(str(e) for e in (engines if isinstance(engines, list) else [engines]))
    for e in engines:
        if e not in ("gtts", "espeak", "piper"):
            chk.add(f"bộ đọc '{e}' không có (dùng: gtts, espeak, piper).", raw, "engines")
    piper_model = None
    if raw.get("piper_model"):
        piper_model = (path.parent / str(raw["piper_model"])).resolve()
        if not piper_model.exists() or not Path(str(piper_model) + ".json").exists():
            chk.add(f"không tìm thấy tệp giọng đọc piper '{raw['piper_model']}' (cần cả tệp "
                    ".onnx và tệp .onnx.json bên cạnh).", raw, "piper_model")
    elif "piper" in engines:
        chk.add("bộ đọc piper cần tệp giọng đọc: tải một lần (ví dụ vi_VN-….onnx và "
                ".onnx.json) rồi ghi đường dẫn vào 'piper_model'.", raw, "engines")
    day_prefix = raw.get("day_prefix", "mùng")
    day_prefix = None if day_prefix in (None, "", "none", "không") else str(day_prefix)
    if day_prefix not in (None, "mùng", "mồng"):
        chk.add("'day_prefix' (cách đọc ngày 1-10) phải là mùng, mồng hoặc none.", raw,
                "day_prefix")
        day_prefix = "mùng"
    lexicon = None
    if raw.get("lexicon"):
        lexicon = (path.parent / str(raw["lexicon"])).resolve()
        if not lexicon.exists():
            chk.add(f"không tìm thấy tệp từ viết tắt '{raw['lexicon']}'.", raw, "lexicon")
    try:
        target = float(raw.get("loudness", -16))
        if not -30 <= target <= -10:
            raise ValueError
    except (TypeError, ValueError):
        chk.add("'loudness' (độ to, LUFS) phải từ -30 đến -10; mặc định -16.", raw, "loudness")
        target = -16.0
    preset = str(raw.get("preset", "none"))
    if preset not in ("none", "horn"):
        chk.add("'preset' phải là none hoặc horn (lọc tiếng cho loa nén).", raw, "preset")
        preset = "none"
    chime = raw.get("chime", True)
    if not isinstance(chime, bool):
        chk.add("'chime' (tiếng chuông) phải là true hoặc false.", raw, "chime")
        chime = True
    template = None
    if raw.get("template"):
        template = (path.parent / str(raw["template"])).resolve()
        if not template.exists():
            chk.add(f"không tìm thấy tệp mẫu bản tin '{raw['template']}'.", raw, "template")
    relays = str(raw.get("relays", "none"))
    if relays not in ("none", "gpio"):
        chk.add("'relays' phải là none hoặc gpio (rơ-le bật loa từng vùng qua chân GPIO).", raw,
                "relays")
        relays = "none"
    rolls = {}
    for key, default in (("pre_roll", 1.0), ("post_roll", 0.5)):
        try:
            rolls[key] = float(raw.get(key, default))
            if not 0 <= rolls[key] <= 30:
                raise ValueError
        except (TypeError, ValueError):
            chk.add(f"'{key}' phải là số giây từ 0 đến 30.", raw, key)
            rolls[key] = default
    sid = str(raw.get("id") or re.sub(r"\W+", "-", path.stem).strip("-") or "station")
    return Station(
        id=sid, name=name, tz=tz, quiet_hours=quiet, max_session_minutes=max_minutes,
        voice=voice, speed=speed, engines=engines, intro=str(raw.get("intro") or ""),
        day_prefix=day_prefix, lexicon=lexicon, outro=str(raw.get("outro") or ""),
        loudness=target, preset=preset, chime=chime, piper_model=piper_model,
        relays=relays, pre_roll=rolls["pre_roll"], post_roll=rolls["post_roll"],
        template=template, owner=str(raw.get("owner") or ""),
        place=str(raw.get("place") or ""), signer=str(raw.get("signer") or ""),
        signer_title=str(raw.get("signer_title") or ""),
    )


def _list(raw: Any, key: str, chk: _Checker, top: LineDict) -> list:
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


def _unique(items: list[LineDict], what: str, chk: _Checker) -> dict[str, LineDict]:
    out: dict[str, LineDict] = {}
    for item in items:
        iid = item.get("id")
        if iid is None:
            chk.add(f"{what} thiếu 'id'.", item)
            continue
        iid = str(iid)
        if not _ID.match(iid):
            chk.add(f"mã '{iid}' chỉ được gồm chữ, số, '-', '_' và '.'.", item, "id")
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
    chk = _Checker(path)
    chk.keys(top, TOP_KEYS, "tệp lịch phát")
    station = _station(top.get("station"), chk, path)

    zones: dict[str, Zone] = {}
    for zid, z in _unique(_list(top.get("zones"), "zones", chk, top), "vùng", chk).items():
        chk.keys(z, ZONE_KEYS, f"vùng '{zid}'")
        relay = z.get("relay")
        if relay is not None and (isinstance(relay, bool) or not isinstance(relay, int)
                                  or not 0 <= relay <= 40):
            chk.add(f"'relay' của vùng '{zid}' phải là số chân GPIO (0-40).", z, "relay")
            relay = None
        volume = z.get("volume")
        if volume is not None and (isinstance(volume, bool) or not isinstance(volume, int)
                                   or not 0 <= volume <= 100):
            chk.add(f"'volume' của vùng '{zid}' phải là số phần trăm từ 0 đến 100.", z, "volume")
            volume = None
        zones[zid] = Zone(zid, str(z.get("name") or zid), str(z.get("device") or "default"),
                          relay, volume)
    used: dict[int, str] = {}
    for zone in zones.values():
        if zone.relay is not None:
            if zone.relay in used:
                chk.add(f"vùng '{zone.id}' và '{used[zone.relay]}' dùng chung rơ-le "
                        f"{zone.relay}.")
            used[zone.relay] = zone.id

    sessions: dict[str, Session] = {}
    raw_sessions = _unique(_list(top.get("sessions"), "sessions", chk, top), "buổi phát", chk)
    for sid, s in raw_sessions.items():
        chk.keys(s, SESSION_KEYS, f"buổi phát '{sid}'")
        t = parse_time(chk.required(s, "time", f"buổi phát '{sid}'"))
        if t is None and s.get("time") is not None:
            chk.add(f"giờ phát '{s.get('time')}' không hợp lệ (dạng 06:30).", s, "time")
        szones = _id_list(s.get("zones"), zones, "vùng", chk, s, "zones") or tuple(zones)
        sess = Session(sid, str(s.get("name") or sid), t or time(0), _parse_days(
            s.get("days"), chk, s), szones, s.line)
        if t is not None and station.quiet_hours and station.quiet_hours.contains(t):
            chk.add(f"buổi phát '{sid}' lúc {t:%H:%M} rơi vào giờ yên tĩnh "
                    f"({station.quiet_hours}); chỉ tin khẩn cấp được phát giờ này.", s, "time")
        sessions[sid] = sess

    programs: dict[str, Program] = {}
    for pid, p in _unique(_list(top.get("programs"), "programs", chk, top), "chương trình",
                          chk).items():
        chk.keys(p, PROGRAM_KEYS, f"chương trình '{pid}'")
        bfile = chk.required(p, "bulletins", f"chương trình '{pid}'")
        bpath = (path.parent / str(bfile)).resolve() if bfile else path
        if bfile and not bpath.exists():
            chk.add(f"không tìm thấy tệp bản tin '{bfile}'.", p, "bulletins")
        start = parse_date(p["from"]) if p.get("from") else None
        end = parse_date(p["until"]) if p.get("until") else None
        for key, val, parsed in (("from", p.get("from"), start), ("until", p.get("until"), end)):
            if val is not None and parsed is None:
                chk.add(f"ngày '{val}' không hợp lệ (dạng 2026-04-01 hoặc 01/04/2026).", p, key)
        if start and end and end < start:
            chk.add("'until' phải sau 'from'.", p, "until")
        try:
            per = int(p.get("per_session", 1))
            if per < 1:
                raise ValueError
        except (TypeError, ValueError):
            chk.add("'per_session' phải là số nguyên từ 1 trở lên.", p, "per_session")
            per = 1
        minutes = None
        if p.get("minutes_per_session") is not None:
            try:
                minutes = float(p["minutes_per_session"])
                if minutes <= 0:
                    raise ValueError
            except (TypeError, ValueError):
                chk.add("'minutes_per_session' phải là số phút lớn hơn 0.", p,
                        "minutes_per_session")
                minutes = None
        only = p.get("only") or []
        programs[pid] = Program(
            id=pid, name=str(p.get("name") or pid), bulletins_file=bpath,
            sessions=_id_list(p.get("sessions"), sessions, "buổi phát", chk, p, "sessions"),
            start=start, end=end, per_session=per, minutes_per_session=minutes,
            only=tuple(str(x) for x in (only if isinstance(only, list) else [only])),
            line=p.line,
        )

    skips: set[date] = set()
    raw_skips = top.get("skip_dates") or []
    for i, d in enumerate(raw_skips if isinstance(raw_skips, list) else [raw_skips]):
        parsed = parse_date(d)
        if parsed is None:
            chk.add(f"ngày nghỉ '{d}' không hợp lệ.", raw_skips, i)
        else:
            skips.add(parsed)

    holidays: dict[date, str] = {}
    raw_holidays = top.get("holidays") or []
    for i, h in enumerate(raw_holidays if isinstance(raw_holidays, list) else [raw_holidays]):
        day = parse_date(h.get("date")) if isinstance(h, dict) else parse_date(h)
        if day is None:
            chk.add("mỗi ngày lễ cần 'date' (ví dụ 2026-09-02) và có thể có 'name'.",
                    raw_holidays, i)
            continue
        holidays[day] = str(h.get("name", "")) if isinstance(h, dict) else ""

    announcements = []
    raw_ann = top.get("announcements")
    for a in (_list(raw_ann, "announcements", chk, top) if raw_ann is not None else []):
        aid = str(a.get("id") or f"thong-bao-{a.line}")
        chk.keys(a, ANNOUNCEMENT_KEYS, f"thông báo '{aid}'")
        when = parse_datetime(a.get("at"), station.tz)
        if when is None:
            chk.add("'at' của thông báo phải có dạng \"2026-11-23 07:15\".", a, "at")
        text = str(a.get("text") or "").strip()
        if not text:
            chk.add(f"thông báo '{aid}' thiếu 'text' (lời đọc).", a)
        azones = _id_list(a.get("zones"), zones, "vùng", chk, a, "zones") or tuple(zones)
        try:
            prio = int(a.get("priority", 2))
            if prio not in (1, 2, 3):
                raise ValueError
        except (TypeError, ValueError):
            chk.add("'priority' phải là 1 (khẩn cấp), 2 (ưu tiên) hoặc 3 (thông thường).", a,
                    "priority")
            prio = 2
        if (when is not None and prio != 1 and station.quiet_hours
                and station.quiet_hours.contains(when.time())):
            chk.add(f"thông báo '{aid}' lúc {when:%H:%M} rơi vào giờ yên tĩnh "
                    f"({station.quiet_hours}); chỉ tin khẩn cấp (priority: 1) được phát.",
                    a, "at")
        if when is not None and text:
            announcements.append(Announcement(aid, when, str(a.get("title") or text[:60]),
                                              text, azones, prio, a.line))

    if chk.problems:
        raise LoaError.many(chk.problems)
    return Schedule(path, station, zones, sessions, programs, frozenset(skips),
                    tuple(announcements), holidays)
