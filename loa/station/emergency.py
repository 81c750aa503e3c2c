"""An emergency handed to the running daemon (`loa run`) through its control folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.clock import Clock


@dataclass(frozen=True)
class Sent:
    """The daemon accepted and logged it; it interrupts what is on air."""

    id: str  # the emergency bulletin's id in the log
    title: str
    zone_ids: tuple[str, ...]
    zone_names: tuple[str, ...]
    pid: int | None


def _words(text: str | None) -> str | None:
    # a terminal in another encoding hands over bytes that are not UTF-8
    return None if text is None else text.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace")


def send_emergency(text: str | None = None, *, title: str | None = None,
                   bulletins: str | Path | None = None, bulletin_id: str | None = None,
                   zones: list[str] | None = None, force: bool = False,
                   timeout: float = 15.0, clock: Clock | None = None) -> Sent:
    """Send words (or an approved bulletin of a file) to zones given by id or name (none:
    every zone); wait until the daemon has logged it, or refused it, or withdraw it.

    Raises LoaError (Vietnamese) when nothing will play: no daemon, refused, no answer."""
    from loa import settings
    from loa.player import control as ctl

    if clock is None:
        from loa.clock import SystemClock

        clock = SystemClock()
    if not 0 < timeout <= 600:
        raise LoaError("--timeout phải lớn hơn 0 và không quá 600 giây.")
    control = settings.control_dir()
    pid = ctl.running_pid(settings.data_dir())
    if pid is None:
        raise LoaError("không thấy 'loa run' đang chạy trên máy này, nên không phát ngay được. "
                       "Hãy khởi động dịch vụ loa (xem README) rồi thử lại.")
    who = f"loa run (PID {pid})" if pid else "loa run"
    beat = ctl.read_heartbeat(control)
    asked = [z for z in (_words(z) for z in zones or []) if z is not None]
    chosen = None
    if beat is not None:
        # the zones of the schedule the daemon runs now; it checks them again itself
        chosen = ctl.resolve_zones(asked, beat["zones"], beat.get("schedule"))
    text, title = _words(text), _words(title)
    if bulletins is not None:
        from loa.script.bulletin import EDITED_AFTER_APPROVAL_VI, load_bulletins

        bfile = load_bulletins(bulletins)
        b = bfile.get(_words(bulletin_id if bulletin_id is not None else text) or "")
        if not b.is_approved and not force:
            why = (EDITED_AFTER_APPROVAL_VI if b.edited_after_approval else "chưa được duyệt")
            raise LoaError(f"bản tin “{b.title}” [{b.id}] {why} (thêm --force nếu chỉ huy "
                           "đã cho phép phát ngay).", bfile.path, b.line)
        title, text, plan = b.title, b.text, b.plan
    else:
        text = text or ""
        title, plan = title or text[:60], ""
    rid = ctl.new_request_id()
    answer, withdrawn = None, False
    try:
        ctl.send_request(control, rid, {"title": title, "text": text, "plan": plan,
                                        "zones": list(chosen or asked)}, timeout)
        # the control channel's deadlines are wall-clock seconds (they cross processes)
        deadline = clock.now().timestamp() + timeout
        answer = ctl.wait_answer(control, rid, deadline)
        if answer is None:
            withdrawn = ctl.withdraw(control, rid)
            if not withdrawn:
                # claimed just in time: its answer follows (the daemon drops it after the grace)
                answer = ctl.wait_answer(control, rid, deadline + ctl.GRACE_S + 2.0)
    finally:
        if answer is None and not withdrawn:
            withdrawn = ctl.withdraw(control, rid)  # Ctrl+C: it must not play later
    if answer is None and not withdrawn:
        raise LoaError(f"{who} đã nhận yêu cầu nhưng không trả lời kịp, nên không rõ tin khẩn "
                       "cấp có được phát không. Xem 'loa log --events' (dòng 'tin khẩn cấp' "
                       "hoặc 'bỏ tin khẩn cấp') trước khi gửi lại.")
    if answer is None:
        late = "" if beat is not None and beat["age"] <= ctl.STALE_S else (
            " (máy phát không còn báo hoạt động, có thể bị treo)")
        raise LoaError(f"{who} không trả lời trong {timeout:g} giây{late}. Đã rút lại "
                       "tin khẩn cấp: tin sẽ KHÔNG được phát. Hãy kiểm tra dịch vụ loa "
                       "(systemctl status loa) rồi gửi lại.")
    if not answer.accepted:
        raise LoaError(f"{who} không nhận tin khẩn cấp: {answer.reason}")
    names = beat["zones"] if beat is not None else {}
    return Sent(answer.id, title, tuple(answer.zones),
                tuple(names.get(z, z) for z in answer.zones), pid)
