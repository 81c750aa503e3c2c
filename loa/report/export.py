"""Export the as-played log for staff: CSV that Excel and LibreOffice open as-is."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from loa.fsio import atomic_open
from loa.log.store import STATUS_VI, LogStore

CSV_HEADERS = (
    "Mã lượt phát", "Đài", "Vùng phát", "Chương trình", "Buổi phát", "Mã bản tin",
    "Tiêu đề bản tin", "Lĩnh vực", "Mức ưu tiên", "Giờ theo lịch", "Giờ bắt đầu",
    "Giờ kết thúc", "Thời lượng (giây)", "Trạng thái", "Lý do", "Bộ đọc", "Mã tệp âm thanh",
    "Giờ theo lịch (UTC)", "Giờ bắt đầu (UTC)",
)


def _local(ts: str | None, tz: ZoneInfo) -> str:
    return datetime.fromisoformat(ts).astimezone(tz).strftime("%d/%m/%Y %H:%M:%S") if ts else ""


def _utc(ts: str | None) -> str:
    if not ts:
        return ""
    return datetime.fromisoformat(ts).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(store: LogStore, out: str | Path, tz: ZoneInfo) -> int:
    """UTF-8 with BOM (Excel needs it to see Vietnamese), local time and UTC. Returns rows."""
    n = 0
    with atomic_open(out, "w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_HEADERS)
        for r in store.iter_plays():
            w.writerow((
                r.id, r.station, r.zone, r.program, r.session, r.bulletin, r.title,
                r.field or "", r.priority or "", _local(r.scheduled_at, tz),
                _local(r.started_at, tz), _local(r.ended_at, tz),
                f"{r.duration_s:.1f}" if r.duration_s is not None else "",
                STATUS_VI.get(r.status, r.status), r.reason or "", r.engine or "",
                r.clip_hash or "", _utc(r.scheduled_at), _utc(r.started_at),
            ))
            n += 1
    return n
