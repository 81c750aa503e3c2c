"""Playout: an occurrence on its zones, one thread per output device.

Zones on one device hear each bulletin once, played for the group; zones on different
devices (a second village's amplifier on its own sound card) start together, each device
on its own thread. Every zone's play is claimed in the log before it starts and finished
with exactly one final row. An emergency cuts every device short and goes first.

Languages: each zone hears a bulletin's versions in its own order (`languages: [vi, hmn]`).
On one device, what zones share plays once for them together; a version only some of them
hear plays with the others' relays off. A zone whose version is missing or not approved
hears the Vietnamese bulletin, and the log says so (event 'language-fallback'). One final
row per (occurrence, zone, bulletin, language).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from loa.audio.cache import Clip, ClipError
from loa.audio.wav import read_wav
from loa.clock import Clock
from loa.errors import LoaError
from loa.log.store import LogStore
from loa.player.relays import NoRelays, Relays
from loa.player.sinks import Sink, SinkError
from loa.player.trust import ClockTrust
from loa.schedule.expand import Item, Occurrence
from loa.schedule.model import Zone
from loa.script.bulletin import Bulletin

log = logging.getLogger(__name__)

# An item later than this after its due time counts as "late"; due: the session's time plus
# the clips before it (the second bulletin of a session is not late for following the first).
ON_TIME = timedelta(seconds=30)
LATE_WINDOW = timedelta(minutes=10)  # later than this counts as "missed"
OPEN_AHEAD_S = 0.3  # a sound device stream is opened this early, then fed silence
INTERRUPTED_VI = "bị ngắt để phát tin khẩn cấp"


@dataclass
class _Loaded:
    item: Item
    clip: Clip | None
    samples: np.ndarray | None
    rate: int
    problem: str | None
    language: str = "vi"
    aired: Bulletin | None = None  # the bulletin as it airs in `language`
    index: int = 0  # of the item in its occurrence


@dataclass
class _Entry:
    """One play on one device: a bulletin in one language, for some of its zones."""

    loaded: _Loaded
    zones: list[str]
    silenced: list[str]  # the device's other zones: relays off while this plays


class _Plan:
    """What each zone hears of each item: languages in the zone's order, a missing or
    unapproved version replaced by Vietnamese (why, in Vietnamese, per zone)."""

    def __init__(self, occ: Occurrence, zones: dict[str, Zone]):
        self.order: dict[tuple[int, str], list[str]] = {}
        self.fallbacks: dict[tuple[int, str], list[str]] = {}
        for i, item in enumerate(occ.items):
            for zone in occ.zones:
                z = zones.get(zone)
                langs: list[str] = []
                why: list[str] = []
                for lang in (z.languages if z is not None else ("vi",)):
                    if item.bulletin.for_air(lang) is None:
                        why.append(item.bulletin.why_no_version(lang))
                        lang = "vi"
                    if lang not in langs:
                        langs.append(lang)
                self.order[i, zone] = langs
                self.fallbacks[i, zone] = why

    def languages(self, i: int, zones: list[str]) -> list[str]:
        """Every language some of `zones` hear of item i, first heard first."""
        return list(dict.fromkeys(lang for z in zones for lang in self.order[i, z]))

    def steps(self, i: int, zones: list[str]) -> list[tuple[str, list[str]]]:
        """(language, zones that hear it now), each zone's order kept: each step plays the
        language next due for the most zones (ties: the first zone's)."""
        todo = {z: list(self.order[i, z]) for z in zones}
        out = []
        while any(todo.values()):
            due: dict[str, list[str]] = {}
            for z in zones:
                if todo[z]:
                    due.setdefault(todo[z][0], []).append(z)
            lang = max(due, key=lambda k: len(due[k]))  # first of the ties: dict order
            out.append((lang, due[lang]))
            for z in due[lang]:
                todo[z].pop(0)
        return out


@dataclass(frozen=True)
class Played:
    """What the observer hears after each bulletin's final rows: one per device group
    (the zones that heard it together), or per bulletin for plays that never started."""

    occurrence: Occurrence
    bulletin: Bulletin
    zones: tuple[str, ...]
    zone_names: tuple[str, ...]
    status: str  # the log's status: played, late, failed, interrupted, missed, skipped
    reason: str | None  # Vietnamese
    started_at: datetime | None
    ended_at: datetime | None
    language: str = "vi"

    @property
    def at(self) -> datetime:
        return self.started_at or self.occurrence.at


def clip_problem_vi(exc: Exception) -> str:
    """Why a bulletin has no clip, for the officer: the exception's own words only when
    they are Vietnamese (loa's own errors); the rest goes to the technical log."""
    if isinstance(exc, LoaError | ClipError):
        return f"không có tệp âm thanh: {exc}"
    if isinstance(exc, OSError):
        return "không có tệp âm thanh: không đọc được tệp âm thanh đã đọc sẵn"
    return "không có tệp âm thanh: lỗi trong loa khi lấy tệp (xem nhật ký kỹ thuật)"


def sink_problem_vi(exc: Exception) -> str:
    """A sink's failure in Vietnamese (SinkError's text is PortAudio's English)."""
    text = str(exc).lower()
    if "portaudio unavailable" in text:
        return "máy thiếu thư viện âm thanh PortAudio"
    if "busy" in text:
        return "thiết bị đang bận (chương trình khác đang dùng)"
    if any(k in text for k in ("unavailable", "no such", "invalid device", "not found",
                               "no device", "device gone")):
        return "không thấy thiết bị (bị rút ra hoặc sai tên thiết bị)"
    if "cannot write" in text:
        return "không ghi được tệp WAV"
    return "thiết bị báo lỗi khi phát"


class Player:
    """Plays one occurrence at a time: relays on, pre-roll, each item claimed in the log
    then played (retried if the device is lost or busy), post-roll, relays off.
    An emergency interrupts whatever plays, on every device, and goes first."""

    def __init__(self, store: LogStore, clock: Clock, sink_for: Callable[[str], Sink],
                 clip_for: Callable[[Bulletin], Clip], zones: dict[str, Zone],
                 relays: Relays | None = None, pre_roll: float = 0.0, post_roll: float = 0.0,
                 trust: ClockTrust | None = None, retry_waits: tuple[float, ...] = (2.0, 5.0),
                 on_play: Callable[[Played], None] | None = None):
        self.store, self.clock = store, clock
        self.sink_for, self.clip_for = sink_for, clip_for
        self.zones = dict(zones)
        self.relays = relays or NoRelays()
        self.pre_roll, self.post_roll = pre_roll, post_roll
        self.trust, self.retry_waits = trust, retry_waits
        self.on_play = on_play
        self._lock = threading.Lock()  # one occurrence at a time
        self._urgent: list[Occurrence] = []
        self._urgent_lock = threading.Lock()
        self._drain_lock = threading.Lock()  # one device thread drains for the session
        self._device_locks: dict[str, threading.Lock] = {}  # never two plays on one device
        self._active: list[Sink] = []  # sinks playing now: what an emergency stops
        self._relay_lock = threading.Lock()
        self._relay_users: dict[int, int] = {}  # relay line -> plays using it now
        self._emergency_on_air = False

    @property
    def on_air(self) -> bool:
        """An occurrence (a session or an emergency) is playing now."""
        return self._lock.locked()

    @property
    def lead(self) -> timedelta:
        """How early a job must wake: load clips, switch relays, open the stream."""
        return timedelta(seconds=max(2.0, self.pre_roll + 1.0))

    def _device(self, zone: str) -> str:
        z = self.zones.get(zone)
        return z.device if z is not None else "default"

    def _name(self, zone: str) -> str:
        z = self.zones.get(zone)
        return z.name if z is not None else zone

    def _device_lock(self, device: str) -> threading.Lock:
        with self._urgent_lock:
            return self._device_locks.setdefault(device, threading.Lock())

    # --- logging helpers -------------------------------------------------------------

    def _claim(self, occ: Occurrence, item: Item, zone: str, clip: Clip | None,
               status: str = "playing", reason: str | None = None,
               language: str = "vi") -> int | str | None:
        """The row for the play (its id, or its play_key while only the journal holds it:
        see loa.log.journal); None if it was recorded before: never play it again."""
        b = item.bulletin
        z = self.zones.get(zone)
        extra = {} if language == "vi" else {"language": language}  # older stores' shape
        return self.store.claim(
            play_key=occ.play_key(zone, item, language), station=occ.station, zone=zone,
            program=item.program, session=occ.session, bulletin=b.key, title=b.title,
            field=b.field, priority=b.priority, scheduled_at=occ.at, now=self.clock.now(),
            status=status, reason=reason, engine=clip.engine if clip else None,
            clip_hash=clip.hash if clip else None, clip_s=clip.seconds if clip else None,
            summary=b.summary(), volume=z.volume if z is not None else None, **extra,
        )

    def _tell(self, occ: Occurrence, item: Item, zones: list[str], status: str,
              reason: str | None, started: datetime | None, ended: datetime | None,
              language: str = "vi") -> None:
        if self.on_play is None or not zones:
            return
        try:
            self.on_play(Played(occ, item.bulletin, tuple(zones),
                                tuple(self._name(z) for z in zones), status, reason,
                                started, ended, language))
        except Exception:  # an observer's bug must not stop the horns
            log.exception("on_play observer failed")

    def log_unplayed(self, occ: Occurrence, status: str, reason: str) -> int:
        """One final row per zone and language each zone would have heard."""
        n = 0
        plan = _Plan(occ, self.zones)
        for i, item in enumerate(occ.items):
            for lang in plan.languages(i, list(occ.zones)):
                logged = [z for z in occ.zones if lang in plan.order[i, z]
                          and self._claim(occ, item, z, None, status=status, reason=reason,
                                          language=lang)]
                n += len(logged)
                self._tell(occ, item, logged, status, reason, None, None, lang)
        return n

    def log_missed(self, occ: Occurrence, reason: str) -> int:
        return self.log_unplayed(occ, "missed", reason)

    # --- emergencies -------------------------------------------------------------------

    def emergency(self, occ: Occurrence) -> None:
        """Play `occ` now, cutting short whatever is playing on every device; an emergency
        on air is not cut: the new one plays right after it."""
        with self._urgent_lock:
            self._urgent.append(occ)
        if self._lock.acquire(blocking=False):
            try:
                self._drain_urgent()
            finally:
                self._release()
            return
        with self._urgent_lock:
            # Under the queue's lock: the holder cannot have taken this emergency (and
            # started it on the same sink) between the check and the stop.
            if occ in self._urgent and not self._emergency_on_air:
                for sink in list(self._active):
                    sink.stop()

    def _release(self) -> None:
        """Release the player; an emergency queued just as it let go is not left waiting."""
        while True:
            self._lock.release()
            with self._urgent_lock:
                if not self._urgent:
                    return
            if not self._lock.acquire(blocking=False):
                return  # the new holder drains the queue
            try:
                self._drain_urgent()
            except BaseException:
                self._lock.release()  # a failed play must not keep the player locked
                raise

    def _drain_urgent(self) -> None:
        while True:
            with self._urgent_lock:
                if not self._urgent:
                    return
                occ = self._urgent.pop(0)
                self._emergency_on_air = True
            try:
                self._play(occ, emergency=True)
            finally:
                self._emergency_on_air = False

    def _yield_to_urgent(self, occ: Occurrence) -> None:
        """A session's device thread found an emergency waiting: the first thread there
        plays it (on every device it names); the others wait, then the session goes on."""
        with self._drain_lock:
            with self._urgent_lock:
                if not self._urgent:
                    return  # another device thread has played it meanwhile
            # The session yields to the emergency, then carries on with its next items.
            self.store.event("emergency", self.clock.now(),
                             f"tin khẩn cấp chen vào buổi phát '{occ.session}', phát xong "
                             "buổi phát tiếp tục")
            self._drain_urgent()

    # --- playing -----------------------------------------------------------------------

    def play(self, occ: Occurrence) -> None:
        self._lock.acquire()
        try:
            self._drain_urgent()
            self._play(occ)
            self._drain_urgent()
        finally:
            self._release()

    def _load(self, occ: Occurrence, plan: _Plan) -> dict[tuple[int, str], _Loaded]:
        """The clip of each item in each language some zone hears."""
        loaded = {}
        for i, item in enumerate(occ.items):
            for lang in plan.languages(i, list(occ.zones)):
                aired = item.bulletin.for_air(lang) or item.bulletin
                try:
                    clip = self.clip_for(aired)
                    samples, rate = read_wav(clip.path)
                    loaded[i, lang] = _Loaded(item, clip, samples, rate, None, lang, aired, i)
                except Exception as exc:  # a broken clip must not stop the session
                    log.error("no clip for %s (%s): %s: %s", item.bulletin.key, lang,
                              type(exc).__name__, exc)
                    loaded[i, lang] = _Loaded(item, None, None, 0, clip_problem_vi(exc), lang,
                                              aired, i)
        return loaded

    def _wait_until(self, moment: datetime) -> None:
        wait = (moment - self.clock.now()).total_seconds()
        if wait > 0:
            self.clock.sleep(wait)

    def _play(self, occ: Occurrence, emergency: bool = False) -> None:
        now = self.clock.now()
        if not emergency:
            if now - occ.at > LATE_WINDOW:
                self.log_missed(occ, f"quá {LATE_WINDOW.seconds // 60} phút sau giờ phát")
                return
            problem = self.trust.problem() if self.trust else None
            if problem:
                self.log_unplayed(occ, "skipped", f"không phát vì {problem}")
                self.store.event("clock-untrusted", now, problem)
                return
        plan = _Plan(occ, self.zones)
        loaded = self._load(occ, plan)
        groups: dict[str, list[str]] = {}
        for zone in occ.zones:
            groups.setdefault(self._device(zone), []).append(zone)
        lines = {self.zones[z].relay for z in occ.zones
                 if z in self.zones and self.zones[z].relay is not None}
        if lines:
            self._wait_until(occ.at - timedelta(seconds=self.pre_roll))
            self._switch(lines, True)
        try:
            self._wait_until(occ.at - timedelta(seconds=OPEN_AHEAD_S))
            self._play_devices(occ, groups, self._entries(occ, plan, loaded, groups),
                               plan, emergency)
        finally:
            if lines:
                self.clock.sleep(self.post_roll)
                self._switch(lines, False)

    def _switch(self, lines: set[int], on: bool) -> None:
        """Relays counted by user: an emergency inside a session switching its own zones
        off must not silence the session's villages that are still on air."""
        with self._relay_lock:
            change = set()
            for line in lines:
                before = self._relay_users.get(line, 0)
                after = before + 1 if on else max(0, before - 1)
                self._relay_users[line] = after
                if (before == 0) != (after == 0):
                    change.add(line)
            if change:
                self.relays.switch(change, on)

    def _entries(self, occ: Occurrence, plan: _Plan, loaded: dict[tuple[int, str], _Loaded],
                 groups: dict[str, list[str]]) -> dict[str, list[_Entry]]:
        """Each device's plays in order: per item, its languages as the zones hear them."""
        out: dict[str, list[_Entry]] = {}
        for device, zones in groups.items():
            entries = out[device] = []
            for i in range(len(occ.items)):
                for lang, heard in plan.steps(i, zones):
                    entries.append(_Entry(loaded[i, lang], heard,
                                          [z for z in zones if z not in heard]))
        return out

    def _play_devices(self, occ: Occurrence, groups: dict[str, list[str]],
                      entries: dict[str, list[_Entry]], plan: _Plan, emergency: bool) -> None:
        """One thread per device, all started at once; returns when every device is done."""
        if len(groups) == 1:
            (device, zones), = groups.items()
            self._play_device(occ, device, zones, entries[device], plan, emergency)
            return
        failures: list[BaseException] = []

        def run(device: str, zones: list[str]) -> None:
            try:
                self._play_device(occ, device, zones, entries[device], plan, emergency)
            except BaseException as exc:  # re-raised on the player's thread below
                log.exception("playout on device %s failed", device)
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(device, zones), daemon=True,
                                    name=f"playout:{device}")
                   for device, zones in groups.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise failures[0]

    def _fallback(self, occ: Occurrence, plan: _Plan, entry: _Loaded, zones: list[str]) -> None:
        """The Vietnamese bulletin airs for zones whose version is missing: say so."""
        for z in zones:
            for why in plan.fallbacks.get((entry.index, z), ()):
                self.store.event(
                    "language-fallback", self.clock.now(),
                    f"vùng {self._name(z)}, bản tin “{entry.item.bulletin.title}”: {why}, "
                    "phát bản tiếng Việt")

    def _silence(self, occ: Occurrence, entry: _Entry, on: bool) -> None:
        """Relays off (on=False) for the device's zones that do not hear this version;
        a zone without a relay of its own hears it too, and the log says so (once)."""
        if not entry.silenced:
            return
        heard = {self.zones[z].relay for z in entry.zones if z in self.zones}
        lines = set()
        for z in entry.silenced:
            line = self.zones[z].relay if z in self.zones else None
            if line is None or line in heard or isinstance(self.relays, NoRelays):
                if not on:
                    log.warning("zone %s cannot be silenced for %s (%s)", z,
                                entry.loaded.item.bulletin.key, entry.loaded.language)
                    from loa.languages import lower_name

                    self.store.event(
                        "language-shared", self.clock.now(),
                        f"vùng {self._name(z)} không có rơ-le riêng nên cũng nghe bản "
                        f"{lower_name(entry.loaded.language)} của bản tin "
                        f"“{entry.loaded.item.bulletin.title}”")
                continue
            lines.add(line)
        if lines:
            self._switch(lines, on)

    def _play_device(self, occ: Occurrence, device: str, zones: list[str],
                     entries: list[_Entry], plan: _Plan, emergency: bool) -> None:
        sink = self.sink_for(device)
        first = True
        dues, due = [], occ.at
        for e in entries:
            dues.append(due)
            due += timedelta(seconds=e.loaded.clip.seconds if e.loaded.clip else 0.0)
        for e, due in zip(entries, dues, strict=True):
            entry, lang = e.loaded, e.loaded.language
            self._yield_if_urgent(occ, emergency)
            rows = {z: self._claim(occ, entry.item, z, entry.clip, language=lang)
                    for z in e.zones}
            rows = {z: r for z, r in rows.items() if r is not None}
            if not rows:
                log.info("already recorded, not replaying: %s (%s)", entry.item.bulletin.key,
                         lang)
                continue
            if lang == "vi":
                self._fallback(occ, plan, entry, list(rows))
            silenced = _Entry(entry, list(rows), [z for z in zones if z not in rows])
            self._silence(occ, silenced, False)
            try:
                at = occ.at.timestamp() if first and occ.at > self.clock.now() else None
                first = False
                if at is not None and not getattr(sink, "timed", False):
                    self._wait_until(occ.at)  # this sink starts as soon as it is called
                    at = None
                if entry.problem or entry.samples is None:
                    status, reason = "failed", entry.problem
                    started = max(self.clock.now(), occ.at) if at else self.clock.now()
                    ended = self.clock.now()
                else:
                    if self._take_device(occ, device, sink, emergency):
                        at = None  # an emergency went first
                    try:
                        # times read holding the device: what it played, not what it waited for
                        started = max(self.clock.now(), occ.at) if at else self.clock.now()
                        status = "played" if started - due <= ON_TIME else "late"
                        label = (f"{started:%Y%m%d-%H%M%S}_{'+'.join(rows)}_"
                                 f"{entry.item.bulletin.key}{'' if lang == 'vi' else '_' + lang}")
                        status, reason, started = self._play_with_retries(
                            sink, device, entry, label, at, started, status, due)
                        ended = self.clock.now()
                    finally:
                        with self._urgent_lock:
                            self._active.remove(sink)
                        self._device_lock(device).release()
            finally:
                self._silence(occ, silenced, True)
            for row in rows.values():
                self.store.finish(row, status=status, started_at=started, ended_at=ended,
                                  reason=reason)
            log.info("%s %s (%s) -> %s (%s)", status, entry.item.bulletin.key, lang,
                     ",".join(rows), sink.name)
            self._tell(occ, entry.item, list(rows), status, reason, started, ended, lang)

    def _must_yield(self, emergency: bool) -> bool:
        return not emergency and bool(self._urgent or self._emergency_on_air)

    def _yield_if_urgent(self, occ: Occurrence, emergency: bool) -> bool:
        yielded = False
        while self._must_yield(emergency):
            self._yield_to_urgent(occ)
            yielded = True
        return yielded

    def _take_device(self, occ: Occurrence, device: str, sink: Sink, emergency: bool) -> bool:
        """Hold the device and mark its sink as playing, once no emergency is waiting
        (checked under the queue's lock, so emergency() stops whatever it finds). Never
        waits for an emergency while holding the device: the emergency needs it. Returns
        True if an emergency played first."""
        lock = self._device_lock(device)
        yielded = False
        while True:
            yielded |= self._yield_if_urgent(occ, emergency)
            lock.acquire()
            with self._urgent_lock:
                if not self._must_yield(emergency):
                    self._active.append(sink)
                    return yielded
            lock.release()

    def _play_with_retries(self, sink: Sink, device: str, entry: _Loaded, label: str,
                           at: float | None, started: datetime, status: str, due: datetime):
        waits = list(self.retry_waits)
        while True:
            try:
                whole = sink.play(entry.samples, entry.rate, label, at=at)
            except SinkError as exc:
                problem = sink_problem_vi(exc)
                log.error("device %s (%s) failed: %s", device, sink.name, exc)
                self.store.event("device-error", self.clock.now(),
                                 f"thiết bị phát '{device}': {problem}")
                if not waits:
                    return "failed", f"lỗi thiết bị phát '{device}': {problem}", started
                self.clock.sleep(waits.pop(0))
                at = None
                started = self.clock.now()
                status = "played" if started - due <= ON_TIME else "late"
                continue
            if getattr(sink, "underflows", 0):
                self.store.event("underflow", self.clock.now(),
                                 f"thiết bị phát '{device}': {sink.underflows} chỗ ngắt "
                                 f"quãng khi phát «{entry.item.bulletin.title}»")
            if not whole:
                return "interrupted", INTERRUPTED_VI, started
            return status, None, started
