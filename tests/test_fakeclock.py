"""The shared fake clock keeps wall time and monotonic time apart, as the daemon needs."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from fakeclock import FakeClock

from loa.clock import DEFAULT_TZ, Clock

AT = datetime(2026, 4, 6, 6, 30, tzinfo=DEFAULT_TZ)


def test_manual_clock_stands_still_sleeps_instantly_and_jumps_wall_only():
    clock: Clock = FakeClock(AT)
    mono = clock.monotonic()
    real = time.monotonic()
    clock.sleep(3600)
    assert time.monotonic() - real < 1  # no real waiting
    assert clock.now() == AT + timedelta(hours=1) and clock.monotonic() == mono + 3600
    clock.sleep(-5)  # a deadline already past: no sleep
    assert clock.now() == AT + timedelta(hours=1)
    clock.jump(timedelta(hours=-3))  # someone sets the date back
    assert clock.now() == AT - timedelta(hours=2) and clock.monotonic() == mono + 3600
    clock.move_to(AT + timedelta(days=1))
    assert clock.now() == AT + timedelta(days=1) and clock.monotonic() == mono + 3600
    assert clock.now().tzinfo is DEFAULT_TZ
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_travel_clock_moves_the_process_clock_and_ticks(tmp_path):
    with FakeClock(AT, travel=True) as clock:
        assert abs(datetime.now(DEFAULT_TZ) - AT) < timedelta(seconds=1)  # what APScheduler reads
        mono = clock.monotonic()
        clock.sleep(600)
        assert abs(clock.now() - (AT + timedelta(minutes=10))) < timedelta(seconds=1)
        assert 600 <= clock.monotonic() - mono < 601
        clock.jump(timedelta(hours=3))
        assert abs(datetime.now(DEFAULT_TZ) - (AT + timedelta(hours=3, minutes=10))) < \
            timedelta(seconds=1)
        assert clock.monotonic() - mono < 601  # a jump is not time passing
        time.sleep(0.2)  # real time ticks on both
        assert clock.monotonic() - mono >= 600.2
    # travel over: the process reads the kernel's time again (a new file's mtime is that)
    stamp = tmp_path / "now"
    stamp.touch()
    assert abs(datetime.now(DEFAULT_TZ).timestamp() - stamp.stat().st_mtime) < 5


def test_travel_clock_is_used_inside_with_only():
    with pytest.raises(RuntimeError):
        FakeClock(AT, travel=True).now()
