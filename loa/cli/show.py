"""How the CLI prints the station's data: Vietnamese, names before ids."""

from __future__ import annotations

import re
import sys


def out(text: str = "") -> None:
    print(text, flush=True)


def warn(text: str) -> None:
    print(f"Cảnh báo: {text}", file=sys.stderr, flush=True)


def err(text: str) -> None:
    print(f"Lỗi: {text}", file=sys.stderr, flush=True)


def shown(text: str | None) -> str:
    """Logged operator text as a terminal may show it: no control characters (an escape
    sequence in a title must not repaint the officer's screen)."""
    return re.sub("[\x00-\x1f\x7f-\x9f]", " ", text or "")


def hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def mmss(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


def session_line(s) -> str:
    """'T2 07/12/2026 17:00  Buổi chiều — Toàn xã, Thôn 1': names, never ids."""
    from loa.schedule.model import WEEKDAYS_VI

    return (f"{WEEKDAYS_VI[s.at.weekday()]} {s.at:%d/%m/%Y %H:%M}  {s.session_name} — "
            f"{', '.join(s.zone_names)}")


def item_line(i) -> str:
    """'Tiêu đề bản tin (Chương trình tuyên truyền 2026)'."""
    return f"{i.title} ({i.program_name})"


def print_log(plays) -> None:
    """PlayViews as a table: when, zone name, status, bulletin title (id in brackets)."""
    if not plays:
        out("Không có lượt phát nào khớp.")
        return
    out(f"{'Giờ theo lịch':19} {'Bắt đầu thực tế':23} {'Vùng':14} {'Trạng thái':10} Bản tin")
    for p in plays:
        started = (p.started_at.strftime("%d/%m/%Y %H:%M:%S.%f")[:23] if p.started_at
                   else "—")
        reason = f" ({shown(p.reason)})" if p.reason else ""
        # a person's voice is worth saying; a TTS engine is the usual case
        voice = f" — {p.engine_vi}" if p.engine_vi and p.engine_vi != p.engine else ""
        out(f"{p.scheduled_at:%d/%m/%Y %H:%M:%S} {started:23} {shown(p.zone_name):14} "
            f"{p.status_vi:10} {shown(p.title)[:50]} [{shown(p.bulletin_id)}]{voice}{reason}")


def print_events(events) -> None:
    if not events:
        out("Chưa có sự kiện nào.")
    for e in events:
        out(f"{e.at:%d/%m/%Y %H:%M:%S}  {e.label:22} {shown(e.detail)}")
