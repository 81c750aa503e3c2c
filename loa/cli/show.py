"""How the CLI prints the station's data: Vietnamese, names before ids."""

from __future__ import annotations

import re
import sys

from loa.languages import lower_name


def terminal(text: str) -> str:
    """Lines as a terminal may show them: control characters out except newline and tab (a
    file name with an escape sequence must not repaint or retitle the officer's screen)."""
    return re.sub("[\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", str(text))


def out(text: str = "") -> None:
    print(terminal(text), flush=True)


def warn(text: str) -> None:
    print(f"Cảnh báo: {terminal(text)}", file=sys.stderr, flush=True)


def err(text: str) -> None:
    print(f"Lỗi: {terminal(text)}", file=sys.stderr, flush=True)


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
        lang = "" if getattr(p, "language", "vi") == "vi" else f" — {lower_name(p.language)}"
        out(f"{p.scheduled_at:%d/%m/%Y %H:%M:%S} {started:23} {shown(p.zone_name):14} "
            f"{p.status_vi:10} {shown(p.title)[:50]} [{shown(p.bulletin_id)}]{lang}{voice}"
            f"{reason}")


def print_events(events) -> None:
    if not events:
        out("Chưa có sự kiện nào.")
    for e in events:
        out(f"{e.at:%d/%m/%Y %H:%M:%S}  {e.label:22} {shown(e.detail)}")


def print_backup(voiced, schedule_path) -> None:
    """The approved bulletins still in the backup voice, one title a line, and what to do."""
    from loa.station import backup_line_vi

    out(f"Giọng dự phòng: {backup_line_vi(voiced)}:")
    for v in voiced:
        out(f"  «{shown(v.title)}»")
    out("  Khi loa run đang chạy, máy tự đọc lại bằng giọng chính lúc có mạng (giữa các buổi "
        f"phát); hoặc chạy ngay: loa render {schedule_path} --upgrade")
