"""The one fake clock of the tests: loa's Clock protocol (loa/clock.py) plus monotonic().

Wall time and monotonic time are kept apart on purpose: the daemon tells a wall-clock jump
(NTP, a dead RTC battery, an officer setting the date) from time passing by comparing the
two, so `jump()` moves the wall clock only, while `sleep()`/`advance()` move both.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from loa.clock import DEFAULT_TZ


def _seconds(delta: timedelta | float) -> float:
    return delta.total_seconds() if isinstance(delta, timedelta) else float(delta)


class FakeClock:
    """Manual by default: time stands still until the test moves it, and sleep(s) moves it
    forward at once (retry waits and pre-rolls take no real time).

    With travel=True the whole process's wall clock is moved by time-machine and ticks in
    real time, because APScheduler and the log read `datetime.now()` themselves; sleep(s)
    still moves it forward at once, so the daemon is driven through a week in seconds.
    Use it as a context manager (or call start()/stop()) in that mode.
    """

    def __init__(self, start: datetime, *, travel: bool = False, tz: ZoneInfo = DEFAULT_TZ):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self.tz = tz
        self.travel = travel
        self._wall = start.astimezone(tz)  # manual mode only
        self._mono = 1000.0  # manual mode: an arbitrary origin, as the real one has
        self._slept = 0.0  # travel mode: sleeps added to the real monotonic clock
        self._start = start
        self._machine: time_machine.travel | None = None
        self._traveller: time_machine.Traveller | None = None
        self._at_stop: list = []

    # --- travel mode life cycle --------------------------------------------------------

    def start(self) -> FakeClock:
        if self.travel and self._traveller is None:
            self._machine = time_machine.travel(self._start, tick=True)
            self._traveller = self._machine.start()
        return self

    def at_stop(self, action) -> None:
        """Run `action` before the travel ends: a scheduler still running when the process
        clock springs back to the real date would replay every 1 s tick in between."""
        self._at_stop.append(action)

    def stop(self) -> None:
        while self._at_stop:
            with contextlib.suppress(Exception):
                self._at_stop.pop()()
        if self._machine is not None:
            self._machine.stop()
            self._machine = self._traveller = None

    def __enter__(self) -> FakeClock:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the Clock protocol ------------------------------------------------------------

    def now(self) -> datetime:
        if self.travel:
            self._need_travel()
            return datetime.now(self.tz)
        return self._wall

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def monotonic(self) -> float:
        """Seconds that only ever grow: real time passing plus every sleep/advance, never a
        jump."""
        if self.travel:
            return time.monotonic() + self._slept
        return self._mono

    # --- moving time ---------------------------------------------------------------------

    def advance(self, delta: timedelta | float) -> None:
        """Time passes: wall and monotonic clocks both move forward by `delta`."""
        s = _seconds(delta)
        if s < 0:
            raise ValueError("time passing cannot go backwards: use jump()")
        if self.travel:
            self._need_travel()
            self._traveller.shift(s)
            self._slept += s
        else:
            self._wall += timedelta(seconds=s)
            self._mono += s

    def jump(self, delta: timedelta | float) -> None:
        """The wall clock is set forward or back by `delta`; monotonic time does not move."""
        s = _seconds(delta)
        if self.travel:
            self._need_travel()
            self._traveller.shift(s)
        else:
            self._wall += timedelta(seconds=s)

    def move_to(self, when: datetime) -> None:
        """The wall clock is set to `when` (a jump, as NTP or a power cut would make)."""
        if self.travel:
            self._need_travel()
            self._traveller.move_to(when)
        else:
            self._wall = when.astimezone(self.tz)

    def _need_travel(self) -> None:
        if self._traveller is None:
            raise RuntimeError("FakeClock(travel=True) is used inside `with clock:` only")
