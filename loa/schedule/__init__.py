"""Stage 5: the playback schedule (YAML in schedules/) and what it expands to."""

from loa.schedule.expand import Item, Occurrence, check_limits, expand, load_program_bulletins
from loa.schedule.load import load_schedule
from loa.schedule.model import Program, QuietHours, Schedule, Session, Station, Zone

__all__ = [
    "Item", "Occurrence", "Program", "QuietHours", "Schedule", "Session", "Station", "Zone",
    "check_limits", "expand", "load_program_bulletins", "load_schedule",
]
