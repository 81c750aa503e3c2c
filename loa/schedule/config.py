"""The effective configuration of a schedule, as YAML: what `loa config` prints."""

from __future__ import annotations

from typing import Any

import yaml

from loa.schedule.load import ScheduleConfig
from loa.schedule.schema import ANNOUNCEMENT, DEFAULTS_FILE, PROGRAM, SESSION, STATION, ZONE
from loa.schema import Read, Schema

DEFAULT_MARK = "  # mặc định"


def effective_yaml(config: ScheduleConfig) -> str:
    """Every key of the schedule with the value loa uses; a value the file does not write
    (taken from defaults.yaml, or derived: a name from its id, every zone) is marked."""
    out = [f"# Cấu hình thực tế của lịch phát {config.path}",
           f"# '{DEFAULT_MARK.strip()}': không ghi trong lịch, lấy từ {DEFAULTS_FILE.name}"
           " hoặc suy ra.", "station:"]
    out += _mapping(STATION, config.station, "  ")
    for key, schema in (("zones", ZONE), ("sessions", SESSION), ("programs", PROGRAM),
                        ("announcements", ANNOUNCEMENT)):
        items = getattr(config, key)
        out.append(f"{key}:" if items else f"{key}: []")
        for read in items.values():
            body = _mapping(schema, read, "    ")
            out += ["  - " + body[0][4:], *body[1:]]
    out.append(f"skip_dates: {_flow([d.isoformat() for d in sorted(config.skip_dates)])}")
    out.append("holidays:" if config.holidays else "holidays: []")
    out += [f"  - {{date: {day.isoformat()}, name: {_flow(name)}}}"
            for day, name in sorted(config.holidays.items())]
    return "\n".join(out) + "\n"


def _mapping(schema: Schema, read: Read, indent: str) -> list[str]:
    return [f"{indent}{name}: {_flow(value)}" + (DEFAULT_MARK if name in read.defaulted else "")
            for name, value in schema.dump(read.values).items()]


def _flow(value: Any) -> str:
    """One value on one line, as YAML reads it back (operator text is quoted as needed)."""
    style = '"' if isinstance(value, str) and not value.isprintable() else None
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9,
                          default_style=style)
    return text.removesuffix("\n").removesuffix("\n...").strip()
