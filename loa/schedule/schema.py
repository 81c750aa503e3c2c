"""The schedule file, key by key: one line per key; defaults live in defaults.yaml."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from loa.errors import excerpt
from loa.schedule.model import WEEKDAYS_VI, QuietHours
from loa.schema import (
    Boolean,
    Choice,
    ChoiceList,
    Day,
    Field,
    FileBeside,
    Ident,
    IdList,
    Invalid,
    Moment,
    Number,
    Schema,
    Text,
    TextList,
    TimeOfDay,
    TimeZone,
    Value,
    parse_time,
)

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")

_DAY_ALIASES = {
    "t2": 0, "thu 2": 0, "thứ 2": 0, "thứ hai": 0, "mon": 0,
    "t3": 1, "thứ 3": 1, "thứ ba": 1, "tue": 1,
    "t4": 2, "thứ 4": 2, "thứ tư": 2, "wed": 2,
    "t5": 3, "thứ 5": 3, "thứ năm": 3, "thu": 3,
    "t6": 4, "thứ 6": 4, "thứ sáu": 4, "fri": 4,
    "t7": 5, "thứ 7": 5, "thứ bảy": 5, "sat": 5,
    "cn": 6, "chủ nhật": 6, "sun": 6,
}
_DAILY = ("hằng ngày", "hàng ngày", "daily")


class Weekdays(Value):
    """'T2-T6', [T2, T4], 'hằng ngày'; a range wraps past Sunday ('T6-T2')."""

    kind = "weekdays"

    def parse(self, raw, key, ctx, report):
        if isinstance(raw, str) and raw.strip().lower() in _DAILY:
            return frozenset(range(7))
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise Invalid(f"'{key}' rỗng nên buổi phát không bao giờ phát; bỏ khóa '{key}' để "
                          "phát hằng ngày, hoặc ghi ví dụ [T2, T4].")
        days: set[int] = set()
        for item in items:
            day_key = item.strip().lower() if isinstance(item, str) else None
            m = re.fullmatch(r"(t\d|cn)\s*-\s*(t\d|cn)", day_key or "")
            if m and m.group(1) in _DAY_ALIASES and m.group(2) in _DAY_ALIASES:
                a, b = _DAY_ALIASES[m.group(1)], _DAY_ALIASES[m.group(2)]
                days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
            elif day_key in _DAY_ALIASES:
                days.add(_DAY_ALIASES[day_key])
            else:
                report(f"ngày trong tuần '{excerpt(item)}' không hợp lệ (dùng "
                       f"{', '.join(WEEKDAYS_VI)} hoặc 'T2-T6', 'hằng ngày').")
        return frozenset(days)

    def dump(self, value):
        return _DAILY[0] if len(value) == 7 else [WEEKDAYS_VI[d] for d in sorted(value)]

    def describe(self):
        return {"choices": {d: d for d in WEEKDAYS_VI}}


class Languages(Value):
    """`languages: [vi, hmn]`: ISO 639 codes from loa.languages, in play order."""

    kind = "choices"  # the console shows it as ChoiceList's multi-select

    def parse(self, raw, key, ctx, report):
        from loa.languages import LANGUAGES, name_vi, unknown_vi

        if isinstance(raw, str) and ("," in raw or " " in raw.strip()):
            raise Invalid(f"'{key}' phải là một danh sách trong ngoặc vuông, ví dụ "
                          f"[{', '.join(raw.replace(',', ' ').split())}].")
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise Invalid(f"'{key}' rỗng: cần ít nhất một ngôn ngữ (ví dụ [vi, hmn]); bỏ khóa "
                          f"'{key}' để chỉ phát tiếng Việt.")
        out: list[str] = []
        for item in items:
            if not isinstance(item, str) or item not in LANGUAGES:
                report(unknown_vi(item))
            elif item in out:
                report(f"{name_vi(item)} ('{item}') ghi hai lần trong '{key}'.")
            else:
                out.append(item)
        return tuple(out)

    def dump(self, value):
        return list(value)

    def describe(self):
        from loa.languages import LANGUAGES

        return {"choices": dict(LANGUAGES)}


class TimeSpan(Value):
    """'21:00-05:30': may cross midnight."""

    kind = "time_span"

    def parse(self, raw, key, ctx, report):
        m = re.fullmatch(r"\s*(\S+)\s*-\s*(\S+)\s*", raw) if isinstance(raw, str) else None
        a, b = (parse_time(m.group(1)), parse_time(m.group(2))) if m else (None, None)
        if a is None or b is None:
            raise Invalid(f"'{key}' phải có dạng \"21:00-05:30\" (đang ghi: '{excerpt(raw)}').")
        return QuietHours(a, b)

    def dump(self, value):
        return str(value)


@cache
def shipped_defaults() -> dict[str, Any]:
    """defaults.yaml, read once: the one place a schedule's defaults are written."""
    from loa.yamlio import load_yaml

    return load_yaml(DEFAULTS_FILE)


def _section(name: str):
    return lambda: shipped_defaults().get(name) or {}


_GIAY = "'{key}' phải là số giây từ 0 đến 30"
_MINUTES = "'{key}' phải là số phút lớn hơn 0 (tối đa 1440)"

class PiperModel(FileBeside):
    """A piper voice: the name of one installed with `loa voices add` (no folder, no
    .onnx), or a .onnx file named relative to the schedule."""

    def __init__(self):
        super().__init__("tệp giọng đọc piper", companion=".json")

    def parse(self, raw, key, ctx, report):
        if not (isinstance(raw, str) and raw.strip() and "/" not in raw and "\\" not in raw
                and not raw.endswith(".onnx")):
            return super().parse(raw, key, ctx, report)
        from loa import settings

        folder = settings.voices_dir()
        found = folder / f"{raw}.onnx"
        try:
            there = found.is_file() and Path(f"{found}.json").is_file()
        except (OSError, ValueError):  # a NUL or a name too long is no installed voice
            there = False
        if not there:
            try:
                names = sorted(p.name.removesuffix(".onnx") for p in folder.glob("*.onnx"))
            except OSError:
                names = []
            have = f"các giọng đã cài: {', '.join(names)}" if names else "chưa cài giọng nào"
            report(f"giọng đọc piper '{excerpt(raw)}' chưa được cài trên máy này ({have}); "
                   "cài bằng: loa voices add TỆP.onnx")
        return found

    def dump(self, value):
        from loa import settings

        if Path(value).parent == settings.voices_dir():
            return Path(value).name.removesuffix(".onnx")
        return str(value)


STATION = Schema("station", [
    Field("id", Ident(), "Mã đài", "chữ, số, '-', '_', '.'; mặc định theo tên tệp lịch",
          error_vi="mã đài '{value}' chỉ được gồm chữ, số, '-', '_' và '.' (tối đa 64 ký tự)."),
    Field("name", Text(), "Tên đài", "đọc trong bản tin và in trong báo cáo", required=True),
    Field("timezone", TimeZone(), "Múi giờ", "ví dụ Asia/Ho_Chi_Minh"),
    Field("quiet_hours", TimeSpan(), "Giờ yên tĩnh",
          "không phát giờ này, trừ tin khẩn cấp; ví dụ \"21:00-05:30\""),
    Field("max_session_minutes", Number(0, 24 * 60, above=True), "Buổi phát tối đa (phút)",
          error_vi=_MINUTES),
    Field("voice", Choice({"north": "giọng Bắc", "central": "giọng Trung",
                           "south": "giọng Nam"}), "Giọng đọc"),
    Field("speed", Number(0.5, 2.0), "Tốc độ đọc", "1.0 là bình thường",
          error_vi="'speed' (tốc độ đọc) phải từ 0.5 đến 2.0"),
    Field("engines", ChoiceList({"gtts": "Google", "espeak": "espeak-ng, không cần mạng",
                                 "piper": "piper, cần tệp giọng đọc"}, "bộ đọc"),
          "Bộ đọc", "thử lần lượt; mất mạng thì dùng bộ sau"),
    Field("intro", Text(), "Lời mở đầu", "đọc trước mỗi buổi phát"),
    Field("outro", Text(), "Lời kết", "đọc sau mỗi bản tin"),
    Field("day_prefix", Choice({"mùng": "mùng một", "mồng": "mồng một", "none": "một"},
                               aliases={"none": None, "": None, "không": None}),
          "Cách đọc ngày 1-10",
          error_vi="'day_prefix' (cách đọc ngày 1-10) phải là mùng, mồng hoặc none."),
    Field("lexicon", FileBeside("tệp từ viết tắt"), "Từ viết tắt của đài",
          "tệp YAML bên cạnh lịch, ghi đè từ điển có sẵn"),
    Field("loudness", Number(-30, -10), "Độ to (LUFS)",
          error_vi="'loudness' (độ to, LUFS) phải từ -30 đến -10"),
    Field("preset", Choice({"none": "không lọc", "horn": "lọc tiếng cho loa nén"}),
          "Lọc tiếng"),
    Field("chime", Boolean(), "Tiếng chuông", "trước và sau buổi phát",
          error_vi="'chime' (tiếng chuông) phải là true hoặc false."),
    Field("piper_model", PiperModel(), "Giọng đọc piper",
          "tên giọng đã cài (loa voices list), hoặc tệp .onnx có tệp .onnx.json bên cạnh"),
    Field("relays", Choice({"none": "không dùng rơ-le",
                            "gpio": "rơ-le bật loa từng vùng qua chân GPIO"}), "Rơ-le"),
    Field("pre_roll", Number(0, 30), "Bật loa trước (giây)", error_vi=_GIAY),
    Field("post_roll", Number(0, 30), "Tắt loa sau (giây)", error_vi=_GIAY),
    Field("template", FileBeside("tệp mẫu bản tin"), "Mẫu bản tin", "tệp YAML bên cạnh lịch"),
    Field("owner", Text(), "Cơ quan chủ quản", "cho báo cáo, ví dụ UBND xã Ba Vì"),
    Field("place", Text(), "Địa danh", "ở dòng ngày tháng của báo cáo"),
    Field("signer", Text(), "Người ký báo cáo"),
    Field("signer_title", Text(), "Chức danh người ký"),
], _section("station"))

ZONE = Schema("vùng", [
    Field("id", Ident(), "Mã vùng", required=True),
    Field("name", Text(), "Tên vùng", "mặc định là mã vùng"),
    Field("device", Text(), "Thiết bị âm thanh", "\"default\" là mặc định của máy"),
    Field("relay", Number(0, 40, integer=True), "Rơ-le (chân GPIO)",
          error_vi="'relay' của vùng '{owner}' phải là số chân GPIO (0-40)"),
    Field("volume", Number(0, 100, integer=True), "Âm lượng (%)", "chỉ để báo cáo lên tỉnh",
          error_vi="'volume' của vùng '{owner}' phải là số phần trăm từ 0 đến 100"),
    Field("languages", Languages(), "Ngôn ngữ phát",
          "mã ngôn ngữ theo thứ tự phát, ví dụ [vi, hmn] (tiếng Việt rồi tiếng Mông)"),
], _section("zone"))

SESSION = Schema("buổi phát", [
    Field("id", Ident(), "Mã buổi", required=True),
    Field("name", Text(), "Tên buổi", "mặc định là mã buổi"),
    Field("time", TimeOfDay(), "Giờ phát", "dạng 06:30", required=True,
          error_vi="giờ phát '{value}' không hợp lệ (dạng 06:30)."),
    Field("days", Weekdays(), "Ngày trong tuần", "T2-T6, [T2, T4] hoặc hằng ngày"),
    Field("zones", IdList("zones", "vùng"), "Vùng phát", "mặc định: tất cả các vùng"),
], _section("session"))

PROGRAM = Schema("chương trình", [
    Field("id", Ident(), "Mã chương trình", required=True),
    Field("name", Text(), "Tên chương trình", "mặc định là mã chương trình"),
    Field("bulletins", FileBeside("tệp bản tin"), "Tệp bản tin", required=True),
    Field("sessions", IdList("sessions", "buổi phát"), "Phát vào buổi", required=True),
    Field("from", Day(), "Từ ngày"),
    Field("until", Day(), "Đến ngày"),
    Field("per_session", Number(1, 100, integer=True), "Số bản tin mỗi buổi",
          error_vi="'per_session' phải là số nguyên từ 1 đến 100"),
    Field("minutes_per_session", Number(0, 24 * 60, above=True), "Số phút mỗi buổi",
          "phát đầy buổi đến chừng này phút, thay cho per_session", error_vi=_MINUTES),
    Field("only", TextList(), "Chỉ các bản tin", "danh sách mã bản tin",
          error_vi="'only' phải là danh sách mã bản tin."),
], _section("program"))

ANNOUNCEMENT = Schema("thông báo", [
    Field("id", Ident(), "Mã thông báo"),
    Field("at", Moment(), "Lúc", "dạng 2026-11-23 07:15", required=True,
          error_vi="'at' của thông báo phải có dạng \"2026-11-23 07:15\"."),
    Field("title", Text(), "Tiêu đề"),
    Field("text", Text(), "Lời đọc", required=True),
    Field("zones", IdList("zones", "vùng"), "Vùng phát", "mặc định: tất cả các vùng"),
    Field("priority", Number(1, 3, integer=True), "Mức ưu tiên",
          error_vi="'priority' phải là 1 (khẩn cấp), 2 (ưu tiên) hoặc 3 (thông thường)"),
], _section("announcement"))

HOLIDAY = Schema("ngày lễ", [
    Field("date", Day(), "Ngày", required=True),
    Field("name", Text(), "Tên ngày lễ"),
])

TOP_KEYS = ("station", "zones", "sessions", "programs", "announcements", "skip_dates",
            "holidays")
# Each list of the file and the schema of its items; the console iterates this.
SECTIONS: dict[str, Schema] = {"station": STATION, "zones": ZONE, "sessions": SESSION,
                               "programs": PROGRAM, "announcements": ANNOUNCEMENT,
                               "holidays": HOLIDAY}
