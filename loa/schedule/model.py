"""The playback schedule: station, zones, sessions, programs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

WEEKDAYS_VI = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")  # Monday first, as date.weekday()


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # may be earlier than start: the span crosses midnight

    def contains(self, t: time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Station:
    id: str
    name: str
    tz: ZoneInfo
    quiet_hours: QuietHours | None = None
    max_session_minutes: float = 45.0
    voice: str = "north"
    speed: float = 1.0
    engines: tuple[str, ...] = ("gtts", "espeak")
    intro: str = ""
    day_prefix: str | None = "mùng"  # how days 1-10 are read: mùng, mồng, or none
    lexicon: Path | None = None  # the station's own abbreviations, over loa's
    outro: str = ""  # spoken after every bulletin
    loudness: float = -16.0  # LUFS every clip is levelled to
    preset: str = "none"  # "horn": band-limit and compress for horn speakers
    chime: bool = True
    piper_model: Path | None = None  # a local piper voice (.onnx beside its .onnx.json)
    template: Path | None = None  # the station's bulletin template (YAML)
    relays: str = "none"  # "gpio": zones switched by relay lines on the Pi's GPIO
    pre_roll: float = 1.0  # seconds the amplifier is on before the first word
    post_roll: float = 0.5
    # for the reports staff hand in (administrative layout)
    owner: str = ""  # cơ quan chủ quản, e.g. "UBND xã Ba Vì"
    place: str = ""  # địa danh on the date line, e.g. "Ba Vì"
    signer: str = ""
    signer_title: str = ""


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    device: str = "default"
    relay: int | None = None  # relay line (GPIO pin) that powers this zone's horns
    volume: int | None = None  # receiver volume (%), reported upward when set


@dataclass(frozen=True)
class Session:
    id: str
    name: str
    time: time
    days: frozenset[int]  # 0 = Monday
    zones: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    bulletins_file: Path
    sessions: tuple[str, ...]
    start: date | None = None
    end: date | None = None
    per_session: int = 1
    minutes_per_session: float | None = None  # fill the session up to this instead
    only: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Announcement:
    """A one-off: read once at a date and time (ưu tiên by default)."""

    id: str
    at: datetime
    title: str
    text: str
    zones: tuple[str, ...]
    priority: int = 2
    line: int | None = None


@dataclass
class Schedule:
    path: Path
    station: Station
    zones: dict[str, Zone]
    sessions: dict[str, Session]
    programs: dict[str, Program]
    skip_dates: frozenset[date] = field(default_factory=frozenset)
    announcements: tuple[Announcement, ...] = ()
    holidays: dict[date, str] = field(default_factory=dict)  # no sessions; named for reports
