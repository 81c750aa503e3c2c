"""A declarative schema for the files officers write (schedule, bulletins, template).

Mopidy's ConfigSchema shape: a schema is an ordered list of fields, one line per key (its
value type, range or choices, default, Vietnamese label and help). `Schema.read` returns
the values and records *every* problem (unknown key with a did-you-mean, wrong type, out of
range) on a Checker, each with its file, line and column. No library text reaches the
officer: every message is written here, in Vietnamese.

Chosen over pydantic v2: this sits on the path of every `loa` command (a cached render must
take under 0.3 s in all). This module imports in about 2 ms; pydantic 2.14's import plus the
schedule's models measured 0.8-1.2 s on the shared 2-core test machine, and its English
errors would need a translation layer.

The console builds its forms from the same fields: see `Schema.describe` and `validate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

from loa.errors import Problem, excerpt
from loa.yamlio import Checker, as_number

MISSING: Any = object()  # no default: the key is optional and absent means None
ID = re.compile(r"[\w.-]{1,64}")


class Invalid(ValueError):
    """A value that does not fit its field; the message is Vietnamese."""


class Context:
    """What a value may need beyond itself: the file it sits in (files named in it are
    beside it), the station's timezone, the ids defined elsewhere, the owner's id."""

    def __init__(self, path: Path | None = None, tz: Any = None,
                 known: dict[str, Mapping[str, Any]] | None = None, owner: str = ""):
        self.path, self.tz, self.known, self.owner = path, tz, known or {}, owner


Report = Callable[[str], None]


class Value:
    """A value type: parse raw YAML into a Python value, or report why not."""

    kind = "text"

    def parse(self, raw: Any, key: str, ctx: Context, report: Report) -> Any:
        return raw

    def dump(self, value: Any) -> Any:
        """The value as plain YAML data (for `loa config` and the console's forms)."""
        return value

    def dump_value(self, value: Any) -> Any:
        return None if value is None else self.dump(value)

    def is_blank(self, raw: Any) -> bool:
        """Blank text reads as not written: the default applies."""
        return isinstance(raw, str) and not raw.strip()

    def describe(self) -> dict[str, Any]:
        return {}


class Text(Value):
    kind = "text"

    def parse(self, raw, key, ctx, report):
        if isinstance(raw, str):
            return raw
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return str(raw)  # a number written bare is read as its digits
        hint = " (đặt trong ngoặc kép nếu là yes/no/on/off)" if isinstance(raw, bool) else ""
        raise Invalid(f"'{key}' phải là một đoạn chữ, không phải danh sách, bảng hay "
                      f"true/false{hint}.")


class Number(Value):
    """A finite number (never true/false, nan, inf, a list) in [lo, hi], or (lo, hi]."""

    kind = "number"

    def __init__(self, lo: float, hi: float, integer: bool = False, above: bool = False):
        self.lo, self.hi, self.integer, self.above = lo, hi, integer, above
        if integer:
            self.kind = "integer"

    def parse(self, raw, key, ctx, report):
        number = as_number(raw)
        if number is not None and self.integer:
            number = int(number) if number == int(number) else None
        if (number is None or number > self.hi or number < self.lo
                or (self.above and number == self.lo)):
            raise Invalid(f"'{key}' phải là số từ {self.lo} đến {self.hi}")
        return number

    def describe(self):
        return {"min": self.lo, "max": self.hi, "min_exclusive": self.above}


class Boolean(Value):
    kind = "bool"

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, bool):
            raise Invalid(f"'{key}' phải là true hoặc false.")
        return raw


class Choice(Value):
    """One of a closed set; `choices` maps each value to its Vietnamese label."""

    kind = "choice"

    def __init__(self, choices: Mapping[Any, str], aliases: Mapping[Any, Any] | None = None):
        self.choices, self.aliases = dict(choices), dict(aliases or {})

    def parse(self, raw, key, ctx, report):
        try:
            if raw in self.aliases:
                return self.aliases[raw]
            if raw in self.choices and not isinstance(raw, bool):
                return raw
        except TypeError:  # a list or a table is not hashable
            pass
        raise Invalid(f"'{key}' phải là {_or(self.choices)}.")

    def is_blank(self, raw):
        return super().is_blank(raw) and raw not in self.aliases  # "" may mean "none"

    def dump_value(self, value):
        if value is None:  # an alias may stand for "none"
            return next((k for k, v in self.aliases.items() if v is None), None)
        return value

    def describe(self):
        return {"choices": dict(self.choices)}


class ChoiceList(Choice):
    """A non-empty list of choices (one value alone is a list of one)."""

    kind = "choices"

    def __init__(self, choices: Mapping[Any, str], what: str):
        super().__init__(choices)
        self.what = what

    def parse(self, raw, key, ctx, report):
        items = raw if isinstance(raw, list) else [raw]
        names = ", ".join(self.choices)
        if not items:
            raise Invalid(f"'{key}' rỗng: cần ít nhất một {self.what} ({names}).")
        out = []
        for item in items:
            if isinstance(item, str) and item in self.choices:
                out.append(item)
            else:
                report(f"{self.what} '{excerpt(item)}' không có (dùng: {names}).")
        return tuple(out)

    def dump(self, value):
        return list(value)


class Ident(Value):
    kind = "id"

    def parse(self, raw, key, ctx, report):
        if isinstance(raw, bool) or not isinstance(raw, str | int) or not ID.fullmatch(str(raw)):
            raise Invalid(f"mã '{excerpt(raw)}' chỉ được gồm chữ, số, '-', '_' và '.' (tối đa "
                          "64 ký tự).")
        return str(raw)


class IdList(Value):
    """Ids of things defined in the same file (zones, sessions): each known, none twice."""

    kind = "refs"

    def __init__(self, of: str, what: str):
        self.of, self.what = of, what

    def parse(self, raw, key, ctx, report):
        import difflib

        known = ctx.known.get(self.of, {})
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise Invalid(f"'{key}' rỗng; bỏ khóa '{key}' hoặc ghi ít nhất một {self.what}.")
        out: list[str] = []
        for item in items:
            sid = item if isinstance(item, str) else None
            if sid is None and isinstance(item, int) and not isinstance(item, bool):
                sid = str(item)
            if sid not in known:
                hint = difflib.get_close_matches(sid[:100], list(known), n=1) if sid else []
                tip = f" Có phải ý bạn là '{hint[0]}'?" if hint else ""
                report(f"không có {self.what} '{excerpt(item)}'.{tip}")
            elif sid in out:
                report(f"{self.what} '{excerpt(sid)}' ghi hai lần trong '{key}'.")
            else:
                out.append(sid)
        return tuple(out)

    def dump(self, value):
        return list(value)

    def describe(self):
        return {"refs": self.of}


class TextList(Value):
    """A list of short texts or numbers (bulletin ids)."""

    kind = "texts"

    def parse(self, raw, key, ctx, report):
        items = raw if isinstance(raw, list) else [raw]
        if any(isinstance(x, bool) or not isinstance(x, str | int) for x in items):
            raise Invalid(f"'{key}' phải là danh sách mã.")
        return tuple(str(x) for x in items)

    def dump(self, value):
        return list(value)


class TimeOfDay(Value):
    kind = "time"

    def parse(self, raw, key, ctx, report):
        t = parse_time(raw)
        if t is None:
            raise Invalid(f"giờ '{excerpt(raw)}' không hợp lệ (dạng 06:30).")
        return t

    def dump(self, value):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")


class Day(Value):
    kind = "date"

    def parse(self, raw, key, ctx, report):
        d = parse_date(raw)
        if d is None:
            raise Invalid(f"ngày '{excerpt(raw)}' không hợp lệ (dạng 2026-04-01 hoặc "
                          "01/04/2026).")
        return d

    def dump(self, value):
        return value.isoformat()


class Moment(Value):
    """A date and time in the station's timezone."""

    kind = "datetime"

    def parse(self, raw, key, ctx, report):
        when = parse_datetime(raw, ctx.tz)
        if when is None:
            raise Invalid(f"'{key}' phải có dạng \"2026-11-23 07:15\".")
        return when

    def dump(self, value):
        return f"{value:%Y-%m-%d %H:%M}"


class TimeZone(Value):
    kind = "timezone"

    def parse(self, raw, key, ctx, report):
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            if not isinstance(raw, str):
                raise ValueError
            return ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise Invalid(f"múi giờ '{excerpt(raw)}' không tồn tại (ví dụ đúng: "
                          "Asia/Ho_Chi_Minh).") from None

    def dump(self, value):
        return value.key


class FileBeside(Value):
    """A file named relative to the file that names it; it must exist (and so must its
    companion, e.g. a piper model's .onnx.json)."""

    kind = "file"

    def __init__(self, what: str, companion: str = ""):
        self.what, self.companion = what, companion

    def parse(self, raw, key, ctx, report):
        if not isinstance(raw, str):
            raise Invalid(f"'{key}' phải là tên tệp (một đoạn chữ).")
        base = ctx.path.parent if ctx.path is not None else Path(".")
        try:
            found = (base / raw).resolve()
        except (OSError, ValueError, RuntimeError):  # a name no OS accepts stays as is
            found = base / raw
        if not _is_file(found):
            there = False
            try:
                there = found.exists()
            except (OSError, ValueError):
                pass
            report(f"{self.what} '{excerpt(raw)}' không phải một tệp thường." if there
                   else f"không tìm thấy {self.what} '{excerpt(raw)}'.")
        elif self.companion and not _is_file(Path(str(found) + self.companion)):
            report(f"không tìm thấy tệp '{excerpt(raw + self.companion)}' đi kèm "
                   f"{self.what} '{excerpt(raw)}' (cần cả hai tệp, cạnh nhau).")
        return found

    def dump(self, value):
        return str(value)


# Plain classes, not dataclasses: this module is on every command's path and a dataclass
# costs a few ms to build at import.
class Field:
    """One key of a file: `error_vi` replaces the type's message (keeping wording officers
    know); it may name {key}, {value} and {owner}."""

    __slots__ = ("name", "type", "label_vi", "help_vi", "default", "required", "error_vi")

    def __init__(self, name: str, type: Value, label_vi: str, help_vi: str = "",
                 default: Any = MISSING, required: bool = False, error_vi: str | None = None):
        self.name, self.type, self.label_vi, self.help_vi = name, type, label_vi, help_vi
        self.default, self.required, self.error_vi = default, required, error_vi


class FieldInfo(NamedTuple):
    """What a form needs to show one field."""

    name: str
    kind: str
    label_vi: str
    help_vi: str
    default: Any
    required: bool
    choices: dict[Any, str] | None = None
    min: float | None = None
    max: float | None = None


class Read:
    """The values read from one mapping, which of them are defaults, and the mapping (the
    checks between keys point at its lines)."""

    def __init__(self, values: dict[str, Any], defaulted: set[str], raw: Any = None):
        self.values, self.defaulted, self.raw = values, defaulted, raw

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class Schema:
    """The keys of one mapping of a file (the station, a zone, a bulletin …).

    `defaults` (a callable, so the shipped YAML is read only when first needed) gives the
    defaults that are not written in the field itself."""

    def __init__(self, where_vi: str, fields: list[Field],
                 defaults: Callable[[], Mapping[str, Any]] | None = None):
        self.where_vi = where_vi
        self.fields = {f.name: f for f in fields}
        self._defaults = defaults

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields.values())

    def default_raw(self, name: str) -> Any:
        """A field's default as written (YAML data), MISSING if it has none."""
        if self._defaults is not None:
            shipped = self._defaults()
            if name in shipped:
                return shipped[name]
        return self.fields[name].default

    def describe(self) -> list[FieldInfo]:
        out = []
        for f in self:
            info = f.type.describe()
            default = self.default_raw(f.name)
            out.append(FieldInfo(
                f.name, f.type.kind, f.label_vi, f.help_vi,
                None if default is MISSING else default, f.required,
                choices=info.get("choices"), min=info.get("min"), max=info.get("max")))
        return out

    def read(self, raw: Mapping, chk: Checker, ctx: Context | None = None,
             where: str | None = None) -> Read:
        """Every field of `raw` parsed, every problem on `chk`; a bad value reads as its
        default so the rest of the file is still checked."""
        ctx = ctx or Context()
        chk.keys(raw, tuple(self.fields), where or self.where_vi)
        values: dict[str, Any] = {}
        defaulted: set[str] = set()
        for f in self:
            value = raw.get(f.name)
            if value is None or f.type.is_blank(value):
                if f.required:
                    chk.add(f"{where or self.where_vi} thiếu '{f.name}' "
                            f"({f.label_vi.lower()}).", raw, f.name)
                values[f.name] = self._default(f, ctx)
                defaulted.add(f.name)
                continue
            values[f.name] = self._parse(f, value, raw, chk, ctx)
        return Read(values, defaulted, raw)

    def _default(self, f: Field, ctx: Context) -> Any:
        raw = self.default_raw(f.name)
        if raw is MISSING or raw is None:
            return None
        return f.type.parse(raw, f.name, ctx, _strict)  # shipped defaults are valid

    def _parse(self, f: Field, value: Any, raw: Mapping, chk: Checker, ctx: Context) -> Any:
        def report(message: str) -> None:
            chk.add(message, raw, f.name)

        try:
            return f.type.parse(value, f.name, ctx, report)
        except Invalid as exc:
            message = str(exc)
            if f.error_vi is not None:
                message = f.error_vi.format(key=f.name, value=excerpt(value), owner=ctx.owner)
            if isinstance(f.type, Number):
                message += f" (đang ghi: '{excerpt(value)}')."
            report(message)
            return self._default(f, ctx)

    def dump(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Parsed values back to plain YAML data, in the schema's order."""
        return {f.name: f.type.dump_value(values[f.name]) for f in self if f.name in values}


def _strict(message: str) -> None:
    raise AssertionError(f"shipped default is invalid: {message}")


def validate(schema: Schema, data: Mapping[str, Any], ctx: Context | None = None
             ) -> tuple[dict[str, Any], list[Problem]]:
    """Check plain data (a web form) against a schema: (values, problems); each problem's
    `key` names its field, its message is the same Vietnamese the CLI prints."""
    chk = Checker(ctx.path if ctx and ctx.path else None)
    read = schema.read(dict(data), chk, ctx)
    return read.values, chk.problems


def _or(choices: Mapping[Any, str]) -> str:
    parts = [f"{v} ({label})" if label else str(v) for v, label in choices.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " hoặc " + parts[-1]


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
