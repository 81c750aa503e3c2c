"""The real daemon (APScheduler and all) driven through a week with time-machine."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from loa.audio import AudioSettings, ClipStore, Renderer
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.player import Daemon, Player, WavDirSink
from loa.player.relays import RecordingRelays
from loa.player.trust import ClockTrust
from loa.schedule import load_program_bulletins, load_schedule
from loa.voice import EngineChain, EspeakEngine
from loa.yamlio import write_yaml

MONDAY = datetime(2026, 4, 6, 5, 0, tzinfo=DEFAULT_TZ)  # a Monday


class TravelClock:
    """The injected clock: wall time is time-machine's; sleeping moves it forward."""

    tz = DEFAULT_TZ

    def __init__(self, traveller):
        self.traveller = traveller

    def now(self) -> datetime:
        return datetime.now(self.tz)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.traveller.shift(seconds)

    def monotonic(self) -> float:
        return time.monotonic()  # time-machine moves the wall clock only: jumps show


def write_station(folder: Path, extra: dict | None = None) -> Path:
    bulletins = {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công", "status": "approved",
         "text": "Bà con nộp hồ sơ trực tuyến tại nhà."},
        {"id": "IV.2.c", "title": "Tiện ích miễn phí", "status": "approved", "priority": 2,
         "text": "Điểm phục vụ có wifi miễn phí."},
        {"id": "IV.3.a", "title": "Chưa duyệt", "status": "draft", "text": "Không phát."},
    ]}
    write_yaml(folder / "bulletins.yaml", bulletins)
    schedule = {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"],
                    "quiet_hours": "21:00-05:30", "pre_roll": 1.5, "post_roll": 0.5},
        "zones": [{"id": "toan-xa", "name": "Toàn xã", "relay": 17},
                  {"id": "thon-1", "name": "Thôn 1", "relay": 27}],
        "sessions": [
            {"id": "sang", "name": "Buổi sáng", "time": "06:30", "zones": ["toan-xa", "thon-1"]},
            {"id": "giua", "name": "Giữa buổi", "time": "08:55", "days": "T2",
             "zones": ["toan-xa"]},
            {"id": "chieu", "name": "Buổi chiều", "time": "17:00", "days": "T2-T6",
             "zones": ["toan-xa", "thon-1"]},
        ],
        "programs": [{"id": "kstthc", "name": "KSTTHC", "bulletins": "bulletins.yaml",
                      "sessions": ["sang", "giua", "chieu"], "per_session": 2}],
        "holidays": [{"date": "2026-04-08", "name": "Ngày thử nghỉ"}],
    }
    if extra:
        schedule.update(extra)
    write_yaml(folder / "lich.yaml", schedule)
    return folder / "lich.yaml"


class Rig:
    def __init__(self, tmp: Path, traveller, sink=None, synced=lambda: None):
        self.tmp = tmp
        self.path = write_station(tmp) if not (tmp / "lich.yaml").exists() else tmp / "lich.yaml"
        self.clock = TravelClock(traveller)
        self.traveller = traveller
        self.store = LogStore(tmp / "loa.sqlite3")
        self.sink = sink or WavDirSink(tmp / "played", self.clock)
        self.relays = RecordingRelays(self.clock)
        renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp / "clips"), str.strip,
                            AudioSettings(chime=False))
        self.trust = ClockTrust(self.store, self.clock, synced)

        def load():
            s = load_schedule(self.path)
            return s, load_program_bulletins(s)

        schedule, _ = load()
        self.player = Player(self.store, self.clock, lambda d: self.sink,
                             lambda b: renderer.render(b.text).clip, schedule.zones,
                             self.relays, 1.5, 0.5, self.trust)
        self.daemon = Daemon(load, self.player, self.clock, self.store,
                             control_dir=tmp / "control", trust=self.trust)

    def go(self, when: datetime, settle: float = 0.0) -> None:
        """Set the wall clock (a jump, as NTP or a power cut would), then let jobs run."""
        self.traveller.move_to(when)
        self.daemon.watch()  # what the 1 s watcher would do next
        self.daemon.scheduler.wakeup()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            running = [j for j in self.daemon.scheduler.get_jobs()
                       if j.id not in ("watch", "refresh")
                       and j.next_run_time is not None and j.next_run_time <= self.clock.now()]
            if not running and not self.player._lock.locked():
                break
            time.sleep(0.05)
        if settle:
            time.sleep(settle)

    def session(self, at: datetime) -> None:
        """Let the occurrence at `at` play: step to just after its job wakes up; the
        player's own sleeps (the injected clock) carry it to the exact start."""
        self.go(at - self.player.lead + timedelta(milliseconds=20))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(o.at == at for o in self.daemon.pending()):
            time.sleep(0.02)

    def rows(self):
        return sorted(self.store.plays(), key=lambda r: r.id)

    def close(self):
        self.daemon.shutdown()
        self.store.close()


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(traveller, **kw):
        r = Rig(tmp_path, traveller, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        try:
            r.close()
        except Exception:
            pass


def sessions_of_week():
    out = []
    for d in range(7):
        day = MONDAY + timedelta(days=d)
        if day.date().isoformat() == "2026-04-08":
            continue  # holiday
        out.append(day.replace(hour=6, minute=30))
        if d == 0:
            out.append(day.replace(hour=8, minute=55))
        if d < 5:
            out.append(day.replace(hour=17, minute=0))
    return out


def test_a_week_of_sessions_plays_each_once_in_hours(rig):
    with time_machine.travel(MONDAY, tick=True) as t:
        r = rig(t)
        r.daemon.start()
        for at in sessions_of_week():
            r.session(at)
        rows = r.rows()
    played = [x for x in rows if x.status == "played"]
    expected = sum(2 * (1 if at.hour == 8 else 2) for at in sessions_of_week())
    assert len(played) == len(rows) == expected  # every zone, every item, once
    assert len({x.play_key for x in rows}) == len(rows)
    assert len(r.sink.written) == 2 * len(sessions_of_week())  # one device: once per item
    for x in played:
        start = datetime.fromisoformat(x.started_at)
        lag = start - datetime.fromisoformat(x.scheduled_at)
        first_item = x.bulletin.endswith("IV.2.c")
        # the WAV sink keeps (the injected clock's) time: the next item follows the first
        ended = datetime.fromisoformat(x.ended_at)
        assert abs((ended - start).total_seconds() - x.clip_s) < 0.2
        before = [y for y in played if y.zone == x.zone and y.scheduled_at == x.scheduled_at
                  and y.bulletin.endswith("IV.2.c")]
        assert lag == timedelta(0) if first_item else (
            timedelta(0) <= start - datetime.fromisoformat(before[0].ended_at)
            < timedelta(seconds=1))
        assert not (start.hour >= 21 or (start.hour, start.minute) < (5, 30))  # in hours
        assert "IV.3.a" not in x.bulletin  # drafts never air
    # ưu tiên (priority 2) goes first within its session
    first = [x for x in played if x.session == "sang" and x.zone == "toan-xa"][0]
    assert first.bulletin.endswith("IV.2.c")
    # no session on the holiday
    assert not any(x.scheduled_at.startswith("2026-04-08") for x in rows)
    # relays: on pre_roll before the first word, off post_roll after, per session
    ons = [e for e in r.relays.events if e[2]]
    offs = [e for e in r.relays.events if not e[2]]
    assert len(ons) == len(offs) == len(sessions_of_week())
    pre = MONDAY.replace(hour=6, minute=30) - ons[0][0]
    assert ons[0][1] == (17, 27) and abs(pre - timedelta(seconds=1.5)) < timedelta(milliseconds=50)
    post = offs[0][0] - MONDAY.replace(hour=6, minute=30)
    assert post >= timedelta(seconds=0.5)  # after the last word, plus post_roll
    assert all(state is False for state in r.relays.state.values())


def test_clock_jumps_forward_3h_and_back_1h(rig):
    with time_machine.travel(MONDAY, tick=True) as t:
        r = rig(t)
        r.daemon.start()
        r.go(MONDAY.replace(hour=6, minute=0))
        # +3 h: 06:00 -> 09:00. 06:30 is 2.5 h gone (missed); 08:55 is 5 min late (plays).
        r.go(MONDAY.replace(hour=9, minute=0), settle=0.3)
        rows = r.rows()
        missed = [x for x in rows if x.session == "sang"]
        late = [x for x in rows if x.session == "giua"]
        assert missed and {x.status for x in missed} == {"missed"}
        assert all(x.started_at is None and x.reason for x in missed)
        assert late and {x.status for x in late} == {"late"}
        events = [e[1] for e in r.store.events(100)]
        assert "clock-jump" in events
        # -1 h: 09:00 -> 08:00. The 08:55 session already played: it must not play again.
        before = len(r.sink.written)
        r.go(MONDAY.replace(hour=8, minute=0))
        r.session(MONDAY.replace(hour=8, minute=55))
        r.go(MONDAY.replace(hour=8, minute=56), settle=0.3)
        assert len(r.sink.written) == before
        assert len(r.rows()) == len(rows)
        # while the clock is behind the last play, a one-off in that hour is refused and logged
        r.go(MONDAY.replace(hour=8, minute=10))
        text = r.path.read_text(encoding="utf-8") + (
            "announcements:\n- id: hop-dan\n  at: 2026-04-06 08:20\n"
            "  text: Mời bà con dự họp.\n")
        r.path.write_text(text, encoding="utf-8")
        r.go(MONDAY.replace(hour=8, minute=10, second=5))  # the watcher sees the file change
        r.session(MONDAY.replace(hour=8, minute=20))
        refused = [x for x in r.rows() if x.session == "thong-bao:hop-dan"]
        assert refused and {x.status for x in refused} == {"skipped"}
        assert "sớm hơn lượt phát đã ghi gần nhất" in refused[0].reason
        assert "reload" in [e[1] for e in r.store.events(100)]
        # once past the last play, sessions play again
        r.session(MONDAY.replace(hour=17))
        assert {x.status for x in r.rows() if x.session == "chieu"} == {"played"}


@contextlib.contextmanager
def _finally(action):
    try:
        yield
    finally:
        action()


def test_restart_in_the_middle_of_a_play_never_plays_it_twice(rig, tmp_path):
    release = threading.Event()

    class HangingSink(WavDirSink):
        """The power goes while this sink is playing: play does not return (until the test
        ends: a thread left waiting would hold up the interpreter's exit)."""

        def __init__(self, folder):
            super().__init__(folder, fast=True)
            self.entered = threading.Event()

        def play(self, samples, rate, label, at=None):
            super().play(samples, rate, label, at)
            self.entered.set()
            release.wait(120)

    with time_machine.travel(MONDAY.replace(hour=6, minute=29, second=50), tick=True) as t, \
            _finally(release.set):
        first = rig(t, sink=HangingSink(tmp_path / "first"))
        first.daemon.start()
        first.daemon.scheduler.wakeup()
        assert first.sink.entered.wait(20)
        # "power cut": the first daemon is simply abandoned mid-play
        first.daemon.scheduler.shutdown(wait=False)
        t.shift(60)
        second = rig(t)
        second.daemon.start()
        second.go(MONDAY.replace(hour=6, minute=32), settle=0.3)
        rows = second.rows()
    broken = [x for x in rows if x.status == "interrupted"]
    assert len(broken) == 2 and all("mất điện" in x.reason for x in broken)  # 2 zones
    assert broken[0].bulletin.endswith("IV.2.c")
    # the rest of that session still played after the restart (late), nothing twice
    rest = [x for x in rows if x.bulletin.endswith("IV.2.a")]
    assert {x.status for x in rest} == {"late"} and len(rest) == 2
    assert len(second.sink.written) == 1
    assert len({x.play_key for x in rows}) == len(rows) == 4


def test_device_vanishes_for_a_session_then_comes_back(rig, tmp_path):
    class Unplugged(WavDirSink):
        plugged = False

        def play(self, samples, rate, label, at=None):
            from loa.player import SinkError

            if not self.plugged:
                raise SinkError("PortAudioError: Error querying device -1")
            return super().play(samples, rate, label, at)

    with time_machine.travel(MONDAY, tick=True) as t:
        r = rig(t, sink=Unplugged(tmp_path / "p", fast=True))
        r.daemon.start()
        r.session(MONDAY.replace(hour=6, minute=30))
        failed = r.rows()
        assert {x.status for x in failed} == {"failed"} and len(failed) == 4
        assert all("lỗi thiết bị phát" in x.reason for x in failed)
        assert [e[1] for e in r.store.events(100)].count("device-error") == 6
        r.sink.plugged = True  # the technician plugs the USB sound card back in
        r.session(MONDAY.replace(hour=8, minute=55))
        assert {x.status for x in r.rows() if x.session == "giua"} == {"played"}


def test_unsynced_clock_holds_playback_until_it_syncs(rig):
    synced = {"ok": False}
    with time_machine.travel(MONDAY.replace(hour=6, minute=20), tick=True) as t:
        r = rig(t, synced=lambda: synced["ok"])
        r.daemon.start()
        r.go(MONDAY.replace(hour=6, minute=31), settle=0.2)
        assert r.rows() == [] and "clock-untrusted" in [e[1] for e in r.store.events()]
        synced["ok"] = True
        r.go(MONDAY.replace(hour=6, minute=32), settle=0.3)  # within the late window
        rows = r.rows()
    assert rows and {x.status for x in rows} == {"late"}
    assert "clock-trusted" in [e[1] for e in r.store.events(100)]


def test_emergency_interrupts_and_the_session_carries_on(rig, tmp_path):
    class SlowSink(WavDirSink):
        def __init__(self, folder):
            super().__init__(folder, fast=True)
            self.stopped = threading.Event()
            self.playing = threading.Event()

        def stop(self):
            self.stopped.set()

        def play(self, samples, rate, label, at=None):
            super().play(samples, rate, label, at)
            if "khan-cap" in label:
                return True
            self.playing.set()
            return not self.stopped.wait(10)  # "plays" until stopped

    with time_machine.travel(MONDAY.replace(hour=6, minute=29, second=50), tick=True) as t:
        r = rig(t, sink=SlowSink(tmp_path / "p"))
        r.daemon.start()
        r.daemon.scheduler.wakeup()
        assert r.sink.playing.wait(20)
        r.sink.playing.clear()
        r.daemon.emergency_from({"title": "Bão số 3", "text": "Bão số 3 sắp đổ bộ.",
                                 "zones": ["toan-xa"]})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(r.rows()) < 5:
            r.sink.stopped.clear() if r.sink.playing.is_set() else None
            time.sleep(0.05)
        time.sleep(0.5)
        rows = r.rows()
    status = {(x.session, x.bulletin.rsplit("/", 1)[-1], x.zone): x.status for x in rows}
    assert status[("sang", "IV.2.c", "toan-xa")] == "interrupted"
    emergency = [x for x in rows if x.session == "khan-cap"]
    assert len(emergency) == 1 and emergency[0].status == "played" and emergency[0].priority == 1
    assert emergency[0].zone == "toan-xa"
    assert ("sang", "IV.2.a", "toan-xa") in status  # the session went on after the emergency
