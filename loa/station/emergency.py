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
    asked = [z for z in (_words(z) for z in zones or []) if z is not None]
    # the running daemon, and the zones checked against the schedule it runs (it checks
    # them again itself): both sides of the channel live in loa.player.control
    target = ctl.emergency_target(settings.data_dir(), asked, clock)
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
    sent = ctl.send_emergency(target, title, text, plan, asked, timeout, clock)
    return Sent(sent.id, title, tuple(sent.zones), tuple(sent.zone_names),
                target.state.locked_by)
