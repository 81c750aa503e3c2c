"""The playback calendar as iCalendar (RFC 5545), for phones and office calendars."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from loa.fsio import atomic_write_text
from loa.schedule.expand import Occurrence
from loa.schedule.model import Schedule

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _escape(text: str) -> str:
    """TEXT value (RFC 5545 3.3.11): a line break becomes \\n, other control characters
    (a bare CR would end the line) go."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return _CONTROL.sub("", re.sub(r"\r\n|\r|\n", r"\\n", text))


def _fold(line: str) -> list[str]:
    """Lines of at most 75 octets, continuation lines starting with a space."""
    out, current = [], b""
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > (75 if not out else 74):
            out.append(current.decode("utf-8"))
            current = b""
        current += b
    out.append(current.decode("utf-8"))
    return [out[0]] + [" " + x for x in out[1:]]


def _utc(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")


def write_ics(path: str | Path, schedule: Schedule, occurrences: list[Occurrence],
              stamp: datetime | None = None) -> None:
    stamp = stamp or datetime.now(ZoneInfo("UTC"))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//loa//lich phat//VI",
             "CALSCALE:GREGORIAN", *_fold(f"X-WR-CALNAME:{_escape(schedule.station.name)}")]
    for occ in occurrences:
        uid = hashlib.sha1(f"{occ.station}|{occ.session}|{occ.at.isoformat()}".encode()
                           ).hexdigest()
        end = occ.at + timedelta(seconds=max(60, occ.estimated_seconds()))
        zones = ", ".join(schedule.zones[z].name for z in occ.zones if z in schedule.zones)
        name = schedule.sessions[occ.session].name if occ.session in schedule.sessions \
            else occ.items[0].bulletin.title
        body = "\n".join(f"{i.bulletin.id}: {i.bulletin.title}" for i in occ.items)
        for line in ("BEGIN:VEVENT", f"UID:{uid}@loa", f"DTSTAMP:{_utc(stamp)}",
                     f"DTSTART:{_utc(occ.at)}", f"DTEND:{_utc(end)}",
                     f"SUMMARY:{_escape(f'{name} — {zones}')}", f"LOCATION:{_escape(zones)}",
                     f"DESCRIPTION:{_escape(body)}", "END:VEVENT"):
            lines.extend(_fold(line))
    lines.append("END:VCALENDAR")
    atomic_write_text(path, "\r\n".join(lines) + "\r\n")
