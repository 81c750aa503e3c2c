"""Playout on several output devices: one thread per device, real clips, real time."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import numpy as np
import pytest

from loa.audio import AudioSettings, ClipStore, Renderer
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.player import Played, Player, SinkError, WavDirSink
from loa.player.relays import RecordingRelays
from loa.schedule import Item, Occurrence
from loa.schedule.model import Zone
from loa.script import Bulletin
from loa.voice import EngineChain, EspeakEngine

AT = datetime(2026, 4, 1, 6, 30, tzinfo=DEFAULT_TZ)
ZONES = {"thon-doai": Zone("thon-doai", "Thôn Đoài", "card-1"),
         "thon-dong": Zone("thon-dong", "Thôn Đông", "card-2")}

STORM = Bulletin(id="khan-cap-1", title="Bão số 3", text="Bão số 3 sắp đổ bộ.",
                 status="approved", priority=1, field=2)


class RealTimeClock:
    """Real seconds (sleep really waits, so the device threads overlap as on a station) on
    a fixed calendar day: nothing here depends on today's date."""

    tz = DEFAULT_TZ

    def __init__(self, start: datetime):
        self.start, self.m0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.m0)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two bulletins read by espeak-ng (real clips, a few seconds each)."""
    renderer = Renderer(EngineChain([EspeakEngine()]),
                        ClipStore(tmp_path_factory.mktemp("clips")), str.strip,
                        AudioSettings(chime=False))
    bulletins = [
        Bulletin(id="IV.2.a", plan="ba-vi-2026", title="Tiêm phòng cho đàn vật nuôi",
                 text="Bà con đưa trâu bò đi tiêm phòng.", status="approved"),
        Bulletin(id="IV.2.c", plan="ba-vi-2026", title="Dịch vụ công trực tuyến",
                 text="Bà con nộp hồ sơ tại nhà.", status="approved"),
    ]
    made = {b.key: renderer.render(b.text).clip for b in [*bulletins, STORM]}
    return bulletins, (lambda b: made[b.key]), made


def _at(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text)


def _session(bulletins, at=AT) -> Occurrence:
    return Occurrence("ba-vi", "sang", at, tuple(ZONES), tuple(Item("p", b) for b in bulletins))


def test_zones_on_two_devices_start_together_and_log_true_durations(clips, tmp_path):
    bulletins, clip_for, made = clips
    store = LogStore(tmp_path / "log.sqlite3")
    clock = RealTimeClock(AT - timedelta(seconds=0.5))
    sinks = {d: WavDirSink(tmp_path / d, clock) for d in ("card-1", "card-2")}
    heard: list[Played] = []
    player = Player(store, clock, sinks.__getitem__, clip_for, ZONES, on_play=heard.append)
    player.play(_session(bulletins))
    rows = store.plays()
    store.close()
    assert len(rows) == 4 and {r.status for r in rows} == {"played"}
    first = {r.zone: r for r in rows if r.bulletin == bulletins[0].key}
    # both villages start on the minute: the second does not wait for the first's session
    starts = [_at(first[z].started_at) for z in ZONES]
    assert abs(starts[0] - starts[1]) < timedelta(milliseconds=100)
    assert all(timedelta(0) <= s - AT < timedelta(milliseconds=150) for s in starts)
    # the WAV sink keeps real time: each logged duration is the clip's
    for r in rows:
        length = made[r.bulletin].seconds
        assert abs(r.duration_s - length) < 0.25, (r.zone, r.duration_s, length)
    # on each device the second bulletin follows the first
    for z in ZONES:
        second = next(r for r in rows if r.zone == z and r.bulletin == bulletins[1].key)
        gap = _at(second.started_at) - _at(first[z].ended_at)
        assert timedelta(0) <= gap < timedelta(milliseconds=200)
    assert [len(s.written) for s in sinks.values()] == [2, 2]
    # the observer heard each bulletin once per device, by zone name
    assert sorted((p.zone_names, p.bulletin.id, p.status) for p in heard) == sorted(
        [(("Thôn Đoài",), b.id, "played") for b in bulletins]
        + [(("Thôn Đông",), b.id, "played") for b in bulletins])


def test_zones_on_one_device_hear_each_bulletin_once(clips, tmp_path):
    bulletins, clip_for, _ = clips
    store = LogStore(tmp_path / "log.sqlite3")
    clock = RealTimeClock(AT)
    sink = WavDirSink(tmp_path / "one", clock, fast=True)
    zones = {z: Zone(z, v.name, "card-1") for z, v in ZONES.items()}
    heard: list[Played] = []
    Player(store, clock, lambda d: sink, clip_for, zones, on_play=heard.append).play(
        _session(bulletins))
    rows = store.plays()
    store.close()
    assert len(sink.written) == 2 and len(rows) == 4
    assert [p.zone_names for p in heard] == [("Thôn Đoài", "Thôn Đông")] * 2


def test_an_emergency_interrupts_every_device_and_the_session_carries_on(clips, tmp_path):
    bulletins, clip_for, made = clips
    store = LogStore(tmp_path / "log.sqlite3")
    clock = RealTimeClock(AT - timedelta(seconds=0.4))
    sinks = {d: WavDirSink(tmp_path / d, clock) for d in ("card-1", "card-2")}
    relays = RecordingRelays(clock)
    zones = {z: Zone(z, v.name, v.device, relay=line)
             for (z, v), line in zip(ZONES.items(), (17, 27), strict=True)}
    player = Player(store, clock, sinks.__getitem__, clip_for, zones, relays)
    session = threading.Thread(target=player.play, args=[_session(bulletins)])
    session.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(s.written for s in sinks.values()):
        time.sleep(0.01)
    time.sleep(0.5)  # both villages are half a second into their first bulletin
    storm = STORM
    cut_at = clock.now()
    player.emergency(Occurrence("ba-vi", "khan-cap", cut_at, tuple(ZONES),
                                (Item("khan-cap", storm),)))
    session.join(30)
    assert not session.is_alive()
    rows = store.plays()
    store.close()
    assert len({r.play_key for r in rows}) == len(rows) == 6  # one final row per play
    assert "playing" not in {r.status for r in rows}
    for zone in ZONES:
        mine = {r.bulletin: r for r in rows if r.zone == zone}
        cut = mine[bulletins[0].key]
        assert cut.status == "interrupted" and cut.reason == "bị ngắt để phát tin khẩn cấp"
        assert cut.duration_s < made[bulletins[0].key].seconds - 0.3  # it was cut short
        assert abs(_at(cut.ended_at) - cut_at) < timedelta(milliseconds=300)
        urgent = mine["khan-cap-1"]
        assert urgent.status == "played" and urgent.priority == 1
        assert _at(urgent.started_at) >= _at(cut.ended_at)  # never two plays on a device
        rest = mine[bulletins[1].key]
        assert rest.status == "played"  # the session went on after the emergency
        assert _at(rest.started_at) >= _at(urgent.ended_at)
    assert [len(s.written) for s in sinks.values()] == [3, 3]
    # the emergency inside the session left the villages' relays on until the session ended
    assert [(lines, on) for _, lines, on in relays.events] == [((17, 27), True),
                                                                ((17, 27), False)]
    assert relays.events[-1][0] >= max(_at(r.ended_at) for r in rows)


def test_reasons_and_events_for_officers_are_vietnamese(clips, tmp_path, caplog):
    bulletins, clip_for, _ = clips

    class Unplugged(WavDirSink):
        def play(self, samples, rate, label, at=None):
            raise SinkError("PortAudioError: Device unavailable [PaErrorCode -9985]")

    def no_clip(b):
        if b.key == bulletins[1].key:
            raise RuntimeError("boom: index out of range")
        return clip_for(b)

    store = LogStore(tmp_path / "log.sqlite3")
    clock = RealTimeClock(AT)
    sink = Unplugged(tmp_path / "p", clock)
    player = Player(store, clock, lambda d: sink, no_clip, ZONES, retry_waits=())
    player.play(_session(bulletins))
    rows = {(r.zone, r.bulletin): r for r in store.plays()}
    events = store.events()
    store.close()
    assert {r.status for r in rows.values()} == {"failed"}
    device = rows[("thon-doai", bulletins[0].key)].reason
    assert device == "lỗi thiết bị phát 'card-1': không thấy thiết bị (bị rút ra hoặc sai tên " \
                     "thiết bị)"
    clip = rows[("thon-doai", bulletins[1].key)].reason
    assert clip.startswith("không có tệp âm thanh") and "boom" not in clip
    details = [e[2] for e in events if e[1] == "device-error"]
    assert details and all("PortAudio" not in d and "thiết bị phát" in d for d in details)
    # the technical log keeps the exception for whoever debugs it
    assert "boom: index out of range" in caplog.text and "PaErrorCode -9985" in caplog.text


def test_wav_sink_keeps_real_time_and_stop_cuts_it_short(tmp_path):
    clock = RealTimeClock(AT)
    samples = np.zeros(44100, dtype=np.int16)  # one second
    sink = WavDirSink(tmp_path, clock)
    t0 = time.monotonic()
    assert sink.play(samples, 44100, "whole") is True
    assert 0.95 <= time.monotonic() - t0 < 1.5
    threading.Timer(0.3, sink.stop).start()
    t0 = time.monotonic()
    assert sink.play(samples, 44100, "cut") is False
    assert 0.25 <= time.monotonic() - t0 < 0.7
    t0 = time.monotonic()
    assert WavDirSink(tmp_path, clock, fast=True).play(samples, 44100, "fast") is True
    assert time.monotonic() - t0 < 0.5
    assert len(list(tmp_path.glob("*.wav"))) == 3


class StepClock:
    """Time moves only when slept (one device, one thread: no overlap to model)."""

    tz = DEFAULT_TZ

    def __init__(self, t: datetime):
        self.t = t

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=max(0.0, seconds))

    def monotonic(self) -> float:
        return self.t.timestamp()


def test_a_bulletin_after_a_long_one_is_on_time_not_late(tmp_path):
    """Due time is the session's plus the clips before it: the second bulletin of a session
    whose first lasts 40 s is played on time; one held up 40 s more is late."""
    from loa.audio import Clip
    from loa.audio.wav import write_wav

    def clip(name: str, seconds: float) -> Clip:
        path = tmp_path / f"{name}.wav"
        tone = (np.sin(np.arange(int(seconds * 8000)) * 0.1) * 8000).astype(np.int16)
        write_wav(path, tone, 8000)
        return Clip(path, name, "espeak", "vi", seconds)

    made = {"long": clip("long", 40.0), "short": clip("short", 2.0)}
    items = tuple(Item("p", Bulletin(id=i, title=i, text=i, status="approved"))
                  for i in ("long", "short"))
    store = LogStore(tmp_path / "log.sqlite3")
    clock = StepClock(AT - timedelta(seconds=3))
    sink = WavDirSink(tmp_path / "out", clock)
    zones = {"thon-doai": ZONES["thon-doai"]}
    player = Player(store, clock, lambda d: sink, lambda b: made[b.id], zones)
    player.play(Occurrence("ba-vi", "sang", AT, ("thon-doai",), items))

    class Stuck(WavDirSink):  # the device is busy for 40 s before the second bulletin
        def play(self, samples, rate, label, at=None):
            if "short" in label and not getattr(self, "waited", False):
                self.waited = True
                raise SinkError("PortAudioError: Device unavailable")
            return super().play(samples, rate, label, at)

    stuck = Stuck(tmp_path / "stuck", clock)
    later = AT + timedelta(hours=1)
    clock.t = later - timedelta(seconds=3)
    Player(store, clock, lambda d: stuck, lambda b: made[b.id], zones,
           retry_waits=(40.0,)).play(Occurrence("ba-vi", "sang", later, ("thon-doai",), items))
    rows = {(r.scheduled_at[:16], r.bulletin): r for r in store.plays()}
    store.close()
    first, second = rows[("2026-04-01T06:30", "long")], rows[("2026-04-01T06:30", "short")]
    assert first.status == second.status == "played"
    assert _at(second.started_at) - AT == timedelta(seconds=40)
    assert rows[("2026-04-01T07:30", "long")].status == "played"
    assert rows[("2026-04-01T07:30", "short")].status == "late"
