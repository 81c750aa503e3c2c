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
    """A station's settings; every default is in loa/schedule/defaults.yaml, none here."""

    id: str
    name: str
    tz: ZoneInfo
    quiet_hours: QuietHours | None
    max_session_minutes: float
    voice: str
    speed: float
    engines: tuple[str, ...]
    intro: str
    day_prefix: str | None  # how days 1-10 are read: mùng, mồng, or None
    lexicon: Path | None  # the station's own abbreviations, over loa's
    outro: str  # spoken after every bulletin
    loudness: float  # LUFS every clip is levelled to
    preset: str  # "horn": band-limit and compress for horn speakers
    chime: bool
    piper_model: Path | None  # a local piper voice (.onnx beside its .onnx.json)
    template: Path | None  # the station's bulletin template (YAML)
    relays: str  # "gpio": zones switched by relay lines on the Pi's GPIO
    pre_roll: float  # seconds the amplifier is on before the first word
    post_roll: float
    # for the reports staff hand in (administrative layout)
    owner: str  # cơ quan chủ quản, e.g. "UBND xã Ba Vì"
    place: str  # địa danh on the date line, e.g. "Ba Vì"
    signer: str
    signer_title: str


@dataclass(frozen=True)
class Zone:
    id: str
    name: str
    device: str  # its default is in defaults.yaml
    relay: int | None = None  # relay line (GPIO pin) that powers this zone's horns
    volume: int | None = None  # receiver volume (%), reported upward when set
    languages: tuple[str, ...] = ("vi",)  # ISO 639 codes (loa.languages), in play order


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
    start: date | None
    end: date | None
    per_session: int
    minutes_per_session: float | None  # fill the session up to this instead
    only: tuple[str, ...]
    line: int | None = None


@dataclass(frozen=True)
class Announcement:
    """A one-off: read once at a date and time (ưu tiên by default)."""

    id: str
    at: datetime
    title: str
    text: str
    zones: tuple[str, ...]
    priority: int
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
