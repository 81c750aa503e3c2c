"""Reporting periods: 2026Q1, 2026H1, 2026, 2026-03, or a date range, in station time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from loa.errors import LoaError


@dataclass(frozen=True)
class Period:
    start: date  # first day
    end: date  # last day, inclusive
    label: str  # Vietnamese, for titles: "quý I năm 2026"
    code: str  # short, for file names: 2026Q1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[since, until) as aware datetimes."""
        return (datetime.combine(self.start, time(), tz),
                datetime.combine(self.end + timedelta(days=1), time(), tz))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))


def quarter(text: str) -> Period:
    m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[QqKk](?:uý|uy)?\s*([1-4])\s*", text)
    if not m:
        raise LoaError(f"quý '{text}' không hợp lệ; viết như 2026Q1 (quý I năm 2026).")
    y, q = int(m[1]), int(m[2])
    return Period(date(y, 3 * q - 2, 1), _month_end(y, 3 * q), f"quý {ROMAN[q]} năm {y}",
                  f"{y}Q{q}")


def half(text: str) -> Period:
    m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Hh]\s*([12])\s*", text)
    if not m:
        raise LoaError(f"nửa năm '{text}' không hợp lệ; viết như 2026H1 (6 tháng đầu năm 2026).")
    y, h = int(m[1]), int(m[2])
    label = f"6 tháng {'đầu' if h == 1 else 'cuối'} năm {y}"
    return Period(date(y, 6 * h - 5, 1), _month_end(y, 6 * h), label, f"{y}H{h}")


def year(text: str) -> Period:
    if not re.fullmatch(r"\s*\d{4}\s*", str(text)):
        raise LoaError(f"năm '{text}' không hợp lệ; viết như 2026.")
    y = int(text)
    return Period(date(y, 1, 1), date(y, 12, 31), f"năm {y}", f"{y}")


def month(text: str) -> Period:
    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text)
    if not m or not 1 <= int(m[2]) <= 12:
        raise LoaError(f"tháng '{text}' không hợp lệ; viết như 2026-03.")
    y, mo = int(m[1]), int(m[2])
    return Period(date(y, mo, 1), _month_end(y, mo), f"tháng {mo} năm {y}", f"{y}-{mo:02d}")


def parse_day(text: str, what: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise LoaError(f"{what} '{text}' không hợp lệ; viết như 2026-01-31 hoặc 31/01/2026.")


def date_range(start: str, end: str) -> Period:
    a, b = parse_day(start, "ngày bắt đầu"), parse_day(end, "ngày kết thúc")
    if b < a:
        raise LoaError(f"ngày kết thúc {b:%d/%m/%Y} trước ngày bắt đầu {a:%d/%m/%Y}.")
    return Period(a, b, f"từ ngày {a:%d/%m/%Y} đến ngày {b:%d/%m/%Y}", f"{a:%Y%m%d}-{b:%Y%m%d}")


def from_args(*, quarter_: str | None = None, half_: str | None = None,
              year_: str | None = None, month_: str | None = None,
              start: str | None = None, end: str | None = None,
              today: date | None = None) -> Period | None:
    """At most one kind of period; a lone --from runs to today, a lone --to from the
    first play ever (None start means open)."""
    given = [p for p in (quarter_, half_, year_, month_) if p]
    if len(given) + bool(start or end) > 1:
        raise LoaError("chỉ chọn một kỳ: --quarter, --half, --year, --month hoặc --from/--to.")
    if quarter_:
        return quarter(quarter_)
    if half_:
        return half(half_)
    if year_:
        return year(year_)
    if month_:
        return month(month_)
    if start or end:
        today = today or date.today()
        return date_range(start or "2000-01-01", end or today.isoformat())
    return None
