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


def short_title(text: str, limit: int = 60) -> str:
    """A title made from the words of an emergency: whole words, "…" when cut (it is
    shown on the pages and written in the log and the reports)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else text[:limit]
    return cut.rstrip(" ,;:.-–") + "…"


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
        title, plan = title or short_title(text), ""
    sent = ctl.send_emergency(target, title, text, plan, asked, timeout, clock)
    return Sent(sent.id, title, tuple(sent.zones), tuple(sent.zone_names),
                target.state.locked_by)


@dataclass(frozen=True)
class Approved:
    """An approved bulletin that may be read as an emergency, found in a bulletins file."""

    file_key: str  # the console's key of its file
    id: str
    title: str
    text: str
    path: Path

    @property
    def key(self) -> str:
        return f"{self.file_key}:{self.id}"


def approved_bulletins(files: dict[str, Path]) -> list[Approved]:
    """Every bulletin of `files` ({key: path}) that may air now (approved, unchanged since),
    in file order. An unreadable file offers none (its page says why)."""
    from loa.station.status import read_bulletins

    out = []
    for key, path in files.items():
        try:
            bfile = read_bulletins(path)
        except LoaError:
            continue
        out += [Approved(key, b.id, b.title, b.text, Path(path))
                for b in bfile.bulletins if b.is_approved]
    return out


# an emergency's state as the officer reads it
PROGRESS_VI = {
    "waiting": "đang chờ phát",
    "playing": "đang phát",
    "finished": "đã phát xong",
    "failed": "có vùng không phát được",
    "stopped": "máy phát đã dừng trước khi phát xong",
}
_AIRED = ("played", "late")


@dataclass(frozen=True)
class ZoneProgress:
    zone_id: str
    zone_name: str
    status: str  # the log's code, "" while nothing is logged for the zone yet
    status_vi: str
    reason: str


@dataclass(frozen=True)
class Progress:
    state: str  # waiting | playing | finished | failed | stopped
    state_vi: str
    zones: tuple[ZoneProgress, ...]
    title: str = ""  # as the log has it ("" while nothing is logged)

    @property
    def done(self) -> bool:
        return self.state in ("finished", "failed", "stopped")


def emergency_progress(emergency_id: str, zone_ids: tuple[str, ...] | list[str], names,
                       running: bool) -> Progress:
    """Where an accepted emergency is, from the log: nothing logged yet for a zone ->
    waiting; a row 'playing' -> playing; every zone final -> finished (all aired) or
    failed. `running`: is `loa run` still up (if not, what has not aired will not)."""
    from loa import settings
    from loa.log import STATUS_VI, LogFilter, LogStore

    rows = []
    if settings.db_path().exists():
        store = LogStore(settings.db_path())
        try:
            rows = store.plays(where=LogFilter(bulletins=(emergency_id,)))
        finally:
            store.close()
    by_zone = {r.zone: r for r in rows}  # one play per zone (its play_key)
    zones = list(dict.fromkeys([*zone_ids, *by_zone]))
    out = []
    for z in zones:
        r = by_zone.get(z)
        status = r.status if r else ""
        out.append(ZoneProgress(z, names.zone(z), status,
                                STATUS_VI.get(status, status) if r else PROGRESS_VI["waiting"],
                                (r.reason or "") if r else ""))
    finals = [p for p in out if p.status and p.status != "playing"]
    if out and len(finals) == len(out):
        state = "finished" if all(p.status in _AIRED for p in out) else "failed"
    elif not running:
        state = "stopped"
    elif any(p.status for p in out):
        state = "playing"
    else:
        state = "waiting"
    return Progress(state, PROGRESS_VI[state], tuple(out), rows[0].title if rows else "")


def emergency_zones(schedule_zones: dict[str, str] | None = None,
                    clock: Clock | None = None) -> tuple[dict[str, str], bool]:
    """({zone id: name} an emergency may go to, is `loa run` running). The running
    daemon's zones come first: it checks against the schedule it runs, which may be the
    last good one while the file on disk is being fixed."""
    from loa import settings
    from loa.player import control as ctl

    state = ctl.daemon_state(settings.data_dir(), clock)
    if state.running and state.zones:
        return state.zones, True
    return dict(schedule_zones or {}), state.running


EMERGENCY_ID = r"khan-cap-\d{8}-\d{6}(?:-\d{1,4})?"
