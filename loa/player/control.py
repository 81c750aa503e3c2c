"""How `loa now` and `loa run` talk, through files in the data folder.

- `daemon.lock`: an OS lock (flock) the daemon holds for its whole life, its PID inside.
  One daemon per data folder; the OS drops the lock when the process dies, even on kill -9.
- `control/daemon.json`: the daemon's heartbeat (PID, time, schedule, zones).
- `control/requests/<id>.json`: an emergency request. The daemon claims it by renaming it
  to `<id>.taken`; `loa now` withdraws it by deleting `<id>.json`. Only one of the two can
  succeed, so a withdrawn request never plays.
- `control/answers/<id>.json`: the daemon's answer, written only after the emergency's event
  row is committed to the log ("accepted") or with the reason it was refused.

Both sides live here as plain functions returning data: the daemon's (`serve_requests`,
`write_heartbeat`, `clean_up`) and the sender's (`daemon_state` with the one staleness
rule, `emergency_target`, `send_emergency`), for the CLI and any other face.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from loa.clock import Clock, SystemClock
from loa.errors import LoaError
from loa.fsio import atomic_write_bytes, atomic_write_text

log = logging.getLogger(__name__)
T = TypeVar("T")  # the daemon's emergency (an Occurrence): this module does not need to know

LOCK_NAME = "daemon.lock"
HEARTBEAT = "daemon.json"
STALE_S = 15.0  # a heartbeat older than this: the daemon is stuck or gone
GRACE_S = 5.0  # after its deadline a claimed request may still be answered for this long
ANSWER_KEEP_S = 3600.0  # answers nobody read are removed after this
_ID = re.compile(r"^[0-9A-Za-z-]{1,80}$")


# --- one daemon per data folder ------------------------------------------------------------

class DaemonLock:
    """flock(LOCK_EX|LOCK_NB) on `daemon.lock`, the holder's PID written inside."""

    def __init__(self, data_dir: Path, clock: Clock | None = None):
        self.path = Path(data_dir) / LOCK_NAME
        self.clock = clock or SystemClock()
        self._fd: int | None = None

    def acquire(self, tries: float = 1.0) -> None:
        """Take the lock or raise LoaError naming the running daemon's PID. Retries for
        `tries` seconds: `loa now` holds a shared lock for a moment when it looks."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            from loa.fsio import os_error_vi

            hint = ("; hãy chạy loa run bằng đúng người dùng của dịch vụ loa"
                    if exc.errno in (errno.EACCES, errno.EPERM) else "")
            raise LoaError(f"không mở được tệp khóa của bộ phát "
                           f"({os_error_vi(exc) or exc.strerror}){hint}.", self.path) from None
        deadline = self.clock.monotonic() + tries
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self.clock.monotonic() >= deadline:
                    pid = _read_pid(fd)
                    os.close(fd)
                    who = f" (PID {pid})" if pid else ""
                    raise LoaError(
                        f"đã có một 'loa run' đang chạy trên thư mục dữ liệu này{who}. Không "
                        "chạy hai bộ phát cùng lúc: hai bộ sẽ phát chồng lên nhau và ghi nhật "
                        "ký sai. Muốn chạy lại thì dừng bộ đang chạy trước (systemctl stop loa "
                        f"hoặc kill {pid or '<PID>'}).", self.path) from None
                self.clock.sleep(0.05)
        # The PID is for the officer only: a full disk must not stop the daemon (the lock,
        # not the file's content, is what keeps a second one out).
        pid = f"{os.getpid()}\n".encode()
        with contextlib.suppress(OSError):
            os.pwrite(fd, pid.ljust(32), 0)  # 32 bytes: an earlier PID's blocks suffice
            os.ftruncate(fd, len(pid))
            os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file (and PID) may stay
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None


def running_pid(data_dir: Path) -> int | None:
    """The PID of the daemon holding the lock, 0 if its PID is unreadable; None if no
    daemon holds it (never started, stopped, or killed: the OS released the lock)."""
    try:
        fd = os.open(Path(data_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --- heartbeat -------------------------------------------------------------------------------

def write_heartbeat(control_dir: Path, now: datetime, schedule: Path,
                    zones: Mapping[str, str], pending: int, extra: Mapping | None = None) -> None:
    """The daemon's heartbeat; `extra` carries its health (disk, log, clock)."""
    path = control_dir / HEARTBEAT
    data = json.dumps(
        {"pid": os.getpid(), "at": now.isoformat(), "schedule": str(schedule),
         "zones": [[z, name] for z, name in zones.items()], "pending": pending,
         **(extra or {})}, ensure_ascii=False).encode()
    # padded to whole 4 KB blocks (JSON allows trailing spaces): on a full disk the old
    # file's blocks still take the beat, written in place
    data = data.ljust(-(-len(data) // 4096) * 4096)
    try:
        atomic_write_bytes(path, data)
    except OSError:
        with open(path, "r+b") as fh:
            old = fh.seek(0, os.SEEK_END)
            fh.seek(0)
            fh.write(data.ljust(old))
            fh.truncate(max(old, len(data)))
            fh.flush()


def read_heartbeat(control_dir: Path, now: datetime | None = None) -> dict | None:
    """The heartbeat with its age in seconds at `now` ("age") and zones as {id: name}, or
    None if there is none (or it cannot be read)."""
    now = now or SystemClock().now()
    try:
        state = json.loads((control_dir / HEARTBEAT).read_text(encoding="utf-8"))
        at = datetime.fromisoformat(state["at"])
        state["age"] = (now - at).total_seconds()
        state["zones"] = {str(z): str(name) for z, name in state["zones"]}
        return state
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


# --- zones -----------------------------------------------------------------------------------

def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().strip()


def resolve_zones(asked: object, zones: Mapping[str, str],
                  schedule: str | Path | None = None) -> tuple[str, ...]:
    """Zone ids (or display names) asked for -> the station's zone ids; none asked means
    every zone. Anything unknown is refused naming the zones there are."""
    if asked is None or asked == []:
        return tuple(zones)
    if not isinstance(asked, list) or not all(isinstance(z, str) for z in asked):
        raise LoaError("danh sách vùng trong yêu cầu không hợp lệ.", schedule)
    by_name = {_fold(name): z for z, name in zones.items()}
    out: list[str] = []
    for want in asked:
        zone = want if want in zones else by_name.get(_fold(want))
        if zone is None:
            shown = want if len(want) <= 40 else want[:40] + "…"
            known = ", ".join(f"{z} ({name})" for z, name in zones.items())
            close = difflib.get_close_matches(want, list(zones) + list(zones.values()), n=1)
            hint = f" Có phải ý là '{close[0]}'?" if close else ""
            raise LoaError(f"không có vùng '{shown}' trong lịch phát.{hint} Các vùng của đài: "
                           f"{known}.", schedule)
        if zone not in out:
            out.append(zone)
    return tuple(out)


# --- requests and answers ----------------------------------------------------------------------

@dataclass
class Answer:
    accepted: bool
    id: str = ""  # the emergency bulletin's id, when accepted
    reason: str = ""  # why not, in Vietnamese
    zones: tuple[str, ...] = ()


def new_request_id(now: datetime | None = None) -> str:
    return f"{now or SystemClock().now():%Y%m%d-%H%M%S-%f}-{secrets.token_hex(3)}"


def send_request(control_dir: Path, rid: str, body: dict, timeout_s: float,
                 clock: Clock | None = None) -> Path:
    """Leave a request for the daemon; it is refused unless claimed within `timeout_s`."""
    path = control_dir / "requests" / f"{rid}.json"
    sent = (clock or SystemClock()).now().timestamp()
    atomic_write_text(path, json.dumps({**body, "deadline": sent + timeout_s},
                                       ensure_ascii=False))
    return path


def withdraw(control_dir: Path, rid: str) -> bool:
    """True if the request was withdrawn before the daemon claimed it (it will not play)."""
    try:
        os.unlink(control_dir / "requests" / f"{rid}.json")
        return True
    except FileNotFoundError:
        return False


def read_answer(control_dir: Path, rid: str) -> Answer | None:
    path = control_dir / "answers" / f"{rid}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None  # being written? atomic writes make this a permissions problem at worst
    with contextlib.suppress(OSError):
        path.unlink()
    return Answer(bool(data.get("accepted")), str(data.get("id", "")),
                  str(data.get("reason", "")), tuple(data.get("zones", ())))


def wait_answer(control_dir: Path, rid: str, until: float, poll_s: float = 0.05,
                clock: Clock | None = None) -> Answer | None:
    """Poll for the daemon's answer until the wall-clock time `until` (epoch seconds)."""
    clock = clock or SystemClock()
    while True:
        answer = read_answer(control_dir, rid)
        if answer is not None or clock.now().timestamp() >= until:
            return answer
        clock.sleep(poll_s)


# --- the daemon's side -------------------------------------------------------------------------

@dataclass
class Claimed:
    rid: str
    path: Path  # the .taken file
    body: dict | None  # None: unreadable or not a JSON object
    deadline: float | None


def claim_requests(control_dir: Path) -> Iterator[Claimed]:
    """Requests waiting, oldest first, each claimed (renamed) before it is read: a request
    `loa now` withdrew in time is simply gone."""
    for path in sorted((control_dir / "requests").glob("*.json")):
        rid = path.stem
        taken = path.with_suffix(".taken")
        try:
            os.rename(path, taken)
        except FileNotFoundError:
            continue  # withdrawn
        except OSError:
            continue
        try:
            body = json.loads(taken.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            body = None
        if not isinstance(body, dict):
            body = None
        deadline = body.get("deadline") if body else None
        if not isinstance(deadline, (int, float)) or isinstance(deadline, bool):
            deadline = None
        yield Claimed(rid if _ID.match(rid) else "", taken, body, deadline)


def answer(control_dir: Path, claimed: Claimed, result: Answer) -> None:
    """Write the answer, then drop the claimed request."""
    try:
        if claimed.rid:
            atomic_write_text(control_dir / "answers" / f"{claimed.rid}.json", json.dumps(
                {"accepted": result.accepted, "id": result.id, "reason": result.reason,
                 "zones": list(result.zones)}, ensure_ascii=False))
    finally:
        with contextlib.suppress(OSError):
            claimed.path.unlink()


BUG_VI = "lỗi trong loa (chi tiết trong nhật ký kỹ thuật của dịch vụ loa); tin không được phát."


def serve_requests(control_dir: Path, clock: Clock, accept: Callable[[dict], tuple[Answer, T]],
                   keep: Callable[[T], None], start: Callable[[T], None],
                   drop: Callable[[T, str], None]) -> None:
    """The daemon's side, once per watch. Each waiting request is claimed and checked
    against its deadline; `accept(body)` records the emergency in the log and returns the
    answer and the emergency (LoaError: refused, its message the reason); `keep` notes it
    for a restart; the answer is written; only then `start` plays it. One recorded too late
    for `loa now`, or whose answer cannot be written, is `drop`ped: never played unheard of."""
    for req in claim_requests(control_dir):
        emergency = None
        try:
            result, emergency = _decide(req, clock, accept, drop)
            if emergency is not None:
                keep(emergency)
        except Exception as exc:  # noqa: BLE001 - a bug: refuse, say so, keep watching
            log.error("emergency request %s failed: %s: %s", req.rid, type(exc).__name__, exc)
            result, emergency = Answer(False, reason=BUG_VI), None
        try:
            answer(control_dir, req, result)
        except OSError as exc:
            # `loa now` hears nothing and says so: the emergency must not play unheard of
            log.error("cannot answer request %s: %s", req.rid, exc)
            if emergency is not None:
                drop(emergency, "không trả lời được loa now")
            continue
        if emergency is not None:  # answered first: what `loa now` says is what happens
            start(emergency)


def _decide(req: Claimed, clock: Clock, accept: Callable[[dict], tuple[Answer, T]],
            drop: Callable[[T, str], None]) -> tuple[Answer, T | None]:
    if req.body is None or req.deadline is None:
        return Answer(False, reason="yêu cầu không đọc được hoặc không hợp lệ."), None
    if clock.now().timestamp() > req.deadline:
        return Answer(False, reason="yêu cầu đã quá thời gian chờ, không phát."), None
    try:
        result, emergency = accept(req.body)
    except LoaError as exc:
        log.error("emergency request %s refused: %s", req.rid, exc)
        return Answer(False, reason=str(exc)), None
    if clock.now().timestamp() > req.deadline + GRACE_S:
        # `loa now` has given up and said so: this must not play by surprise later
        drop(emergency, "ghi nhật ký quá lâu, loa now đã thôi chờ")
        return Answer(False, reason="ghi nhật ký quá lâu; tin không được phát."), None
    return result, emergency


def clean_up(control_dir: Path, now: float | None = None) -> int:
    """At start: requests a dead daemon had claimed, and answers nobody read. Returns how
    many claimed requests were dropped (their `loa now` has given up or will time out)."""
    now = SystemClock().now().timestamp() if now is None else now
    dropped = 0
    for taken in (control_dir / "requests").glob("*.taken"):
        with contextlib.suppress(OSError):
            taken.unlink()
            dropped += 1
    for old in (control_dir / "answers").glob("*.json"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > ANSWER_KEEP_S:
                old.unlink()
    return dropped


def request_dirs(control_dir: Path) -> None:
    for sub in ("requests", "answers", "accepted"):
        (control_dir / sub).mkdir(parents=True, exist_ok=True)


# --- accepted emergencies --------------------------------------------------------------------
# An accepted emergency is kept here until the next start: if the daemon stops before it has
# aired, the next start logs its plays as missed (a play already logged stays as it is).

def keep_accepted(control_dir: Path, emergency: dict) -> None:
    atomic_write_text(control_dir / "accepted" / f"{emergency['id']}.json",
                      json.dumps(emergency, ensure_ascii=False))


def take_accepted(control_dir: Path) -> list[tuple[Path, dict]]:
    """Emergencies accepted by an earlier run, oldest first (unreadable ones dropped)."""
    out = []
    for path in sorted((control_dir / "accepted").glob("*.json")):
        try:
            out.append((path, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()
    return out


# --- the sending side: `loa now`, `loa status` (and the console) -----------------------------

@dataclass
class DaemonState:
    """What `loa run` left on this machine, and the one rule for "running": the daemon
    lock is held (the OS frees it when the process dies, even on kill -9) and the heartbeat
    is at most STALE_S old (a stuck daemon stops beating)."""

    heartbeat: dict | None  # read_heartbeat's dict: pid, schedule, zones {id: name}, health
    age: float | None  # seconds since the last heartbeat
    locked_by: int | None  # PID holding the daemon lock (0: unreadable), None: nobody

    @property
    def running(self) -> bool:
        return (self.locked_by is not None and self.heartbeat is not None
                and self.age is not None and self.age <= STALE_S)

    @property
    def stale(self) -> bool:
        """A heartbeat is there but too old: the daemon is stuck or gone."""
        return self.heartbeat is not None and not self.running

    @property
    def zones(self) -> dict[str, str]:
        return dict(self.heartbeat["zones"]) if self.heartbeat else {}


def daemon_state(data_dir: Path, clock: Clock | None = None) -> DaemonState:
    beat = read_heartbeat(Path(data_dir) / "control", (clock or SystemClock()).now())
    return DaemonState(beat, beat["age"] if beat else None, running_pid(data_dir))


@dataclass
class EmergencyTarget:
    """A running daemon to send an emergency to, and the zone ids it was asked for."""

    data_dir: Path
    state: DaemonState
    zones: tuple[str, ...] | None  # None: the daemon's heartbeat is unreadable, it checks

    @property
    def who(self) -> str:
        pid = self.state.locked_by
        return f"loa run (PID {pid})" if pid else "loa run"


def emergency_target(data_dir: Path, zones: list[str] | None = None,
                     clock: Clock | None = None) -> EmergencyTarget:
    """The running daemon, and `zones` (ids or names; none: every zone) checked against
    the schedule it runs. LoaError (Vietnamese) when no daemon runs or a zone is unknown."""
    state = daemon_state(data_dir, clock)
    if state.locked_by is None:
        raise LoaError("không thấy 'loa run' đang chạy trên máy này, nên không phát ngay được. "
                       "Hãy khởi động dịch vụ loa (xem README) rồi thử lại.")
    resolved = None
    if state.heartbeat is not None:
        # the zones of the schedule the daemon runs now; it checks them again itself
        resolved = resolve_zones(zones or [], state.zones, state.heartbeat.get("schedule"))
    return EmergencyTarget(Path(data_dir), state, resolved)


@dataclass
class EmergencySent:
    id: str  # the emergency bulletin's id in the log
    zones: tuple[str, ...]
    zone_names: tuple[str, ...]


def send_emergency(target: EmergencyTarget, title: str, text: str, plan: str = "",
                   zones: list[str] | None = None, timeout_s: float = 10.0,
                   clock: Clock | None = None) -> EmergencySent:
    """Hand an emergency to the running daemon and wait until it has recorded it in the
    log (it then interrupts every device and plays it), or refused it. Raises LoaError
    (Vietnamese) if refused, not answered (withdrawn: it will NOT play) or answered too
    late to know."""
    if not 0 < timeout_s <= 600:
        raise LoaError("--timeout phải lớn hơn 0 và không quá 600 giây.")
    clock = clock or SystemClock()
    control = target.data_dir / "control"
    request_dirs(control)
    rid = new_request_id(clock.now())
    answer_, withdrawn = None, False
    try:
        send_request(control, rid, {"title": title, "text": text, "plan": plan,
                                    "zones": list(target.zones or zones or [])},
                     timeout_s, clock)
        deadline = clock.now().timestamp() + timeout_s
        answer_ = wait_answer(control, rid, deadline, clock=clock)
        if answer_ is None:
            withdrawn = withdraw(control, rid)
            if not withdrawn:
                # claimed just in time: its answer follows (the daemon drops it after the grace)
                answer_ = wait_answer(control, rid, deadline + GRACE_S + 2.0, clock=clock)
    finally:
        if answer_ is None and not withdrawn:
            withdrawn = withdraw(control, rid)  # Ctrl+C: it must not play later
    who = target.who
    if answer_ is None and not withdrawn:
        raise LoaError(f"{who} đã nhận yêu cầu nhưng không trả lời kịp, nên không rõ tin khẩn "
                       "cấp có được phát không. Xem 'loa log --events' (dòng 'tin khẩn cấp' "
                       "hoặc 'bỏ tin khẩn cấp') trước khi gửi lại.")
    if answer_ is None:
        late = "" if target.state.running else (
            " (máy phát không còn báo hoạt động, có thể bị treo)")
        raise LoaError(f"{who} không trả lời trong {timeout_s:g} giây{late}. Đã rút lại "
                       "tin khẩn cấp: tin sẽ KHÔNG được phát. Hãy kiểm tra dịch vụ loa "
                       "(systemctl status loa) rồi gửi lại.")
    if not answer_.accepted:
        raise LoaError(f"{who} không nhận tin khẩn cấp: {answer_.reason}")
    names = target.state.zones
    return EmergencySent(answer_.id, answer_.zones,
                         tuple(names.get(z, z) for z in answer_.zones))


__all__ = ["Answer", "Claimed", "DaemonLock", "DaemonState", "EmergencySent",
           "EmergencyTarget", "GRACE_S", "STALE_S", "answer", "claim_requests", "clean_up",
           "daemon_state", "emergency_target", "keep_accepted", "new_request_id", "read_answer",
           "read_heartbeat", "request_dirs", "resolve_zones", "running_pid", "send_emergency",
           "send_request", "serve_requests", "take_accepted", "wait_answer", "withdraw", "write_heartbeat"]
