"""Free space on the data dir's disk: low-disk threshold and the log's reserve.

A Pi's SD card fills up (clips, logs of other programs). The log must still record what
aired: a ballast file is kept in the data dir and deleted when a write fails for lack of
space, which gives the log (and the journal's reconciliation) room to carry on."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
LOW_DISK_BYTES = 200 * MB  # warn below this much free space ...
LOW_DISK_FRACTION = 0.05  # ... or below this share of the disk, whichever is larger
RESERVE_BYTES = 4 * MB  # the ballast file: a few thousand log rows' worth of room
RESERVE_NAME = "reserve.bin"


@dataclass(frozen=True)
class DiskState:
    free: int
    total: int

    @property
    def threshold(self) -> int:
        return int(max(LOW_DISK_BYTES, LOW_DISK_FRACTION * self.total))

    @property
    def low(self) -> bool:
        return self.free < self.threshold

    def describe(self) -> str:
        """Vietnamese: how much is free."""
        return (f"còn {_size(self.free)} trống trên {_size(self.total)} "
                f"(ngưỡng cảnh báo {_size(self.threshold)})")


def _size(n: int) -> str:
    return f"{n / MB / 1024:.1f} GB" if n >= 1024 * MB else f"{n / MB:.0f} MB"


def disk_state(path: str | Path) -> DiskState:
    usage = shutil.disk_usage(path)
    return DiskState(free=usage.free, total=usage.total)


class Reserve:
    """The ballast file: made when there is room, released when a write needs the room."""

    def __init__(self, path: str | Path, size: int = RESERVE_BYTES):
        self.path, self.size = Path(path), size

    @property
    def present(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size
        except OSError:
            return False

    def ensure(self) -> bool:
        """Make the ballast if missing and there is room for it and as much again."""
        if self.present:
            return True
        try:
            if disk_state(self.path.parent).free < 2 * self.size:
                return False
        except OSError:
            return False
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                chunk = bytes(MB)
                for _ in range(0, self.size, MB):  # real blocks, not a sparse file
                    os.write(fd, chunk)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False

    def release(self) -> bool:
        """Delete the ballast; True if there was one to give back."""
        try:
            os.unlink(self.path)
            return True
        except OSError:
            return False
