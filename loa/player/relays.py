"""Zone switching: relay lines that power each village's amplifier and horns."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol


class Relays(Protocol):
    def switch(self, lines: Iterable[int], on: bool) -> None: ...


class NoRelays:
    """Stations whose zones are all on, or switched by hand."""

    def switch(self, lines: Iterable[int], on: bool) -> None:
        pass


class GpioRelays:
    """Relay boards on a Raspberry Pi's GPIO pins (BCM numbers), through gpiozero."""

    def __init__(self, active_high: bool = True):
        self.active_high = active_high
        self._pins: dict[int, object] = {}
        self._lock = threading.Lock()

    def _pin(self, line: int):
        if line not in self._pins:
            from gpiozero import OutputDevice  # only on the Pi

            self._pins[line] = OutputDevice(line, active_high=self.active_high,
                                            initial_value=False)
        return self._pins[line]

    def switch(self, lines: Iterable[int], on: bool) -> None:
        with self._lock:
            for line in lines:
                pin = self._pin(line)
                pin.on() if on else pin.off()


class RecordingRelays:
    """Records every switch with the clock's time: for tests and dry runs."""

    def __init__(self, clock):
        self.clock = clock
        self.events: list[tuple[datetime, tuple[int, ...], bool]] = []
        self.state: dict[int, bool] = {}

    def switch(self, lines: Iterable[int], on: bool) -> None:
        lines = tuple(sorted(lines))
        if lines:
            self.events.append((self.clock.now(), lines, on))
            for line in lines:
                self.state[line] = on
