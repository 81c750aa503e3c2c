"""Export the as-played log for staff (CSV; XLSX is in loa.report.xlsx) and for the
province (JSON).

Exports stream the log: a year of plays from a hundred clusters is a million rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from loa.fsio import atomic_open
from loa.languages import name_vi
from loa.log.labels import Names, kind_label, status_label
from loa.log.store import ALL, COLUMNS, LogFilter, LogStore
from loa.report.safe import csv_block

CSV_HEADERS = (
    "Mã lượt phát", "Đài", "Vùng phát", "Chương trình", "Buổi phát", "Mã bản tin",
    "Tiêu đề bản tin", "Lĩnh vực", "Mức ưu tiên", "Giờ theo lịch", "Giờ bắt đầu",
    "Giờ kết thúc", "Thời lượng (giây)", "Trạng thái", "Lý do", "Bộ đọc", "Mã tệp âm thanh",
    "Giờ theo lịch (UTC)", "Giờ bắt đầu (UTC)", "Loại bản tin", "Thời lượng yêu cầu (giây)",
    # names beside the ids above (ids are the keys a spreadsheet joins on); blank when the
    # export was not given the station's schedule
    "Tên đài", "Tên vùng phát", "Tên chương trình", "Tên buổi phát", "Kế hoạch",
    "Mã ngôn ngữ", "Ngôn ngữ",
)

_I = {name: i for i, name in enumerate(COLUMNS)}


def export_csv(store: LogStore, out: str | Path, where: LogFilter = ALL,
               names: Names | dict[str, str] | None = None) -> int:
    """UTF-8 with BOM (Excel needs it to see Vietnamese); station time and UTC; labels
    and `names` (loa.log.Names, or a zone-id -> name dict) of today. The log builds the
    lines (LogStore.iter_csv); formula-leading text is neutralized here, on the way out.
    Returns rows."""
    n = 0
    head = io.StringIO()
    csv.writer(head).writerow(CSV_HEADERS)
    with atomic_open(out, "wb") as fh:
        fh.write(head.getvalue().encode("utf-8-sig"))
        for lines in store.iter_csv(where, Names.of(names)):
            fh.write(csv_block(b"\r\n".join(lines)))
            fh.write(b"\r\n")
            n += len(lines)
    return n


# --- upward reporting -------------------------------------------------------------------------

# Field names of provincial information-source systems (Hệ thống thông tin nguồn), as far
# as they are known: MucDoUuTien and LinhVuc are seen in deployed systems; the others
# follow the same naming (inferred, ../shared/domain.md).
UPWARD_FIELDS = ("MaBanTin", "LoaiBanTin", "MucDoUuTien", "TieuDe", "LinhVuc", "TomTat",
                 "ThoiLuong", "ThoiGianBatDau", "MaCumLoa", "AmLuong", "TiepSong",
                 "ThanhCong")
UPWARD_VERSION = 1


def hhmmss(seconds: float | None) -> str:
    if seconds is None:
        return "00:00:00"
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def upward_record(r: tuple, names: Names | None = None) -> dict:
    i = _I
    names = names or Names()
    status = r[i["status"]]
    return {
        "MaBanTin": r[i["bulletin"]],
        "LoaiBanTin": r[i["kind"]],
        "MucDoUuTien": r[i["priority"]],
        "TieuDe": r[i["title"]],
        "LinhVuc": r[i["field"]],
        "TomTat": r[i["summary"]] or "",
        "ThoiLuong": hhmmss(r[i["duration_s"]]),
        "ThoiGianBatDau": r[i["started_at"]] or r[i["scheduled_at"]],
        "MaCumLoa": r[i["zone"]],
        "AmLuong": r[i["volume"]],
        "TiepSong": False,  # loa plays the commune's own bulletins; it relays no one
        "ThanhCong": status in ("played", "late"),
        # loa's own, for a connector that wants to reconcile
        "MaLuotPhat": r[i["play_key"]],
        "TrangThai": status,
        "LyDo": r[i["reason"]],
        "ThoiGianTheoLich": r[i["scheduled_at"]],
        # names beside the keys, for a person reading the file; codes above stay codes
        "TenCumLoa": names.known("zone", r[i["zone"]]),
        "KeHoach": names.plan(r[i["bulletin"]]),
        "TenLoaiBanTin": kind_label(r[i["kind"]]),
        "TenTrangThai": status_label(status),
        "NgonNgu": r[i["language"]],
        "TenNgonNgu": name_vi(r[i["language"]]),
    }


def export_json(store: LogStore, out: str | Path, station: str, where: LogFilter = ALL,
                names: Names | dict[str, str] | None = None) -> int:
    """One JSON document, written as a stream: {"version", "station", "station_name",
    "plays": [...]}."""
    n = 0
    names = Names.of(names)
    with atomic_open(out, "w", encoding="utf-8") as fh:
        head = json.dumps({"version": UPWARD_VERSION, "station": station,
                           "station_name": names.known("station", station)},
                          ensure_ascii=False)
        fh.write(head[:-1] + ', "plays": [')
        for r in store.iter_raw(where):
            fh.write(("\n" if n == 0 else ",\n")
                     + json.dumps(upward_record(r, names), ensure_ascii=False))
            n += 1
        fh.write("\n]}\n")
    return n
