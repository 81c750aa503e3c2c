"""The clock is injected everywhere time matters, so tests can move it."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    tz: ZoneInfo

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...

    def monotonic(self) -> float:
        """Seconds that never jump: what the wall clock is checked against."""
        ...


class SystemClock:
    """Wall clock in the station's zone; always returns aware datetimes."""

    def __init__(self, tz: ZoneInfo = DEFAULT_TZ):
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()
