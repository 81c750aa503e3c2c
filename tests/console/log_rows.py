"""Plays written into a station's real log (loa.log.LogStore's schema, triggers and all),
for the console's Nhật ký and Tổng quan tests and their timing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.log.store import COLUMNS, play_fields

FIELDS = COLUMNS[1:]
INSERT = f"INSERT INTO plays ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})"
BULLETINS = [("ba-vi-2026/IV.1.a", "Vai trò của kiểm soát thủ tục hành chính"),
             ("ba-vi-2026/IV.2.a", "Dịch vụ công trực tuyến"),
             ("ba-vi-2026/IV.2.c", "Mười lăm tiện ích miễn phí")]


def play(zone: str, at: datetime, bulletin: tuple[str, str], status: str = "played",
         k: int = 0, reason: str | None = None, program: str = "kstthc-2026",
         session: str = "sang") -> dict:
    """One final play as the daemon leaves it: started on time, 40 s long when aired."""
    aired = status in ("played", "late", "interrupted")
    row = play_fields(play_key=f"ba-vi|{zone}|{program}|{at.isoformat()}|{bulletin[0]}|{k}",
                      station="ba-vi", zone=zone, program=program, session=session,
                      bulletin=bulletin[0], title=bulletin[1], field=1, priority=3,
                      scheduled_at=at, now=at, status="playing" if aired else status,
                      reason=reason, engine="espeak", clip_hash="0" * 32, clip_s=40.0,
                      summary="", volume=80)
    if aired:
        end = at + timedelta(seconds=40)
        row.update(status=status, ended_at=end.isoformat(timespec="milliseconds"),
                   duration_s=40.0)
    return row


def write_plays(db: Path, rows: list[dict]) -> int:
    """Insert final plays in one transaction (a year's worth in a second)."""
    LogStore(db).close()  # the real schema, triggers included
    con = sqlite3.connect(db)
    try:
        con.executemany(INSERT, [tuple(r[c] for c in FIELDS) for r in rows])
        con.commit()
    finally:
        con.close()
    return len(rows)


def year_of_plays(zones: list[str], year: int = 2026, per_day: int = 100) -> list[dict]:
    """~per_day plays a day over a year: two sessions, every zone, bulletins in turn, one
    play in twenty missed."""
    out = []
    day = datetime(year, 1, 1, tzinfo=DEFAULT_TZ)
    n = 0
    while day.year == year:
        for hour in (6, 17):
            at = day.replace(hour=hour, minute=30)
            for k in range(per_day // (2 * len(zones))):
                for z in zones:
                    status = "missed" if n % 20 == 19 else "played"
                    out.append(play(z, at + timedelta(minutes=k), BULLETINS[n % 3], status, k,
                                    "máy không chạy vào giờ phát" if status == "missed"
                                    else None))
                    n += 1
        day += timedelta(days=1)
    return out
