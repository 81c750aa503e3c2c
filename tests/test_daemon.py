"""The real daemon (APScheduler and all) driven through a week on the shared fake clock."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import datetime, timedelta

from fakeclock import FakeClock
from helpers import MONDAY

from loa.player import WavDirSink


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
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
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
        # the WAV sink keeps (the injected clock's) time: a play lasts its clip
        ended = datetime.fromisoformat(x.ended_at)
        assert abs((ended - start).total_seconds() - x.clip_s) < 0.2, x
        assert not (start.hour >= 21 or (start.hour, start.minute) < (5, 30))  # in hours
        assert "IV.3.a" not in x.bulletin  # drafts never air
    # in each zone's session the first item starts on the second, each next one as the one
    # before it ends (within a second), never before
    by_session: dict[tuple[str, str], list] = {}
    for x in played:
        by_session.setdefault((x.scheduled_at, x.zone), []).append(x)
    assert len(by_session) == expected // 2
    for (scheduled, zone), items in by_session.items():
        first, second = sorted(items, key=lambda x: x.id)
        lag = datetime.fromisoformat(first.started_at) - datetime.fromisoformat(scheduled)
        assert lag == timedelta(0), (scheduled, zone, first.started_at)
        gap = (datetime.fromisoformat(second.started_at)
               - datetime.fromisoformat(first.ended_at))
        assert timedelta(0) <= gap < timedelta(seconds=1), (scheduled, zone, gap)
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
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
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

    with FakeClock(MONDAY.replace(hour=6, minute=29, second=50), travel=True) as clock, \
            _finally(release.set):
        first = rig(clock, sink=HangingSink(tmp_path / "first"))
        first.daemon.start()
        first.daemon.scheduler.wakeup()
        assert first.sink.entered.wait(20)
        # "power cut": the first daemon is simply abandoned mid-play
        first.daemon.scheduler.shutdown(wait=False)
        clock.advance(60)
        second = rig(clock)
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

    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock, sink=Unplugged(tmp_path / "p", fast=True))
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
    with FakeClock(MONDAY.replace(hour=6, minute=20), travel=True) as clock:
        r = rig(clock, synced=lambda: synced["ok"])
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

    with FakeClock(MONDAY.replace(hour=6, minute=29, second=50), travel=True) as clock:
        r = rig(clock, sink=SlowSink(tmp_path / "p"))
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
