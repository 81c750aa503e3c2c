"""Can the system clock be believed? A Pi has no RTC: until NTP syncs it may be days off."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from loa.clock import Clock
from loa.log.store import LogStore

SLACK = timedelta(minutes=1)


def system_time_synced() -> bool | None:
    """True/False when systemd can tell whether NTP has synced; None when nothing can."""
    if Path("/run/systemd/timesync/synchronized").exists():
        return True
    try:
        out = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None  # no systemd (containers, some test machines)
    return out.stdout.strip() == "yes"


class ClockTrust:
    """Untrusted while the clock is before the last logged play, or while the system says
    it has not synced its time since boot."""

    def __init__(self, store: LogStore, clock: Clock,
                 synced: Callable[[], bool | None] = system_time_synced):
        self.store, self.clock, self.synced = store, clock, synced

    def problem(self) -> str | None:
        """Vietnamese reason the clock cannot be trusted, or None."""
        if self.synced() is False:
            return "đồng hồ máy chưa được đồng bộ giờ (NTP) từ khi khởi động"
        last = self.store.last_start()
        now = self.clock.now()
        if last is not None and now < last - SLACK:
            return (f"đồng hồ máy ({now:%H:%M %d/%m/%Y}) đang sớm hơn lượt phát đã ghi gần "
                    f"nhất ({last.astimezone(now.tzinfo):%H:%M %d/%m/%Y})")
        return None
