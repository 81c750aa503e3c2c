from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fakeclock import FakeClock

from loa.audio import AudioSettings, ClipStore, Renderer, read_wav
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.player import Player, SoundDeviceSink, WavDirSink
from loa.schedule import Item, Occurrence
from loa.schedule.model import Zone
from loa.script import Bulletin
from loa.voice import EngineChain, EspeakEngine

AT = datetime(2026, 4, 1, 6, 30, tzinfo=DEFAULT_TZ)


@pytest.fixture
def parts(tmp_path):
    bulletins = [
        Bulletin(id="IV.2.a", plan="ba-vi-2026", title="Dịch vụ công trực tuyến",
                 text="Bà con có thể nộp hồ sơ trực tuyến tại nhà.", status="approved"),
        Bulletin(id="IV.2.c", plan="ba-vi-2026", title="Tiện ích miễn phí",
                 text="Điểm phục vụ hành chính công có wifi miễn phí.", status="approved",
                 priority=2),
    ]
    renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path / "clips"), str.strip,
                        AudioSettings(), intro="Đài truyền thanh xã Ba Vì")

    def clip_for(b: Bulletin):
        return renderer.render(b.text).clip

    store = LogStore(tmp_path / "log.sqlite3")
    occ = Occurrence("ba-vi", "sang", AT, ("toan-xa", "thon-1", "thon-2"),
                     tuple(Item("kstthc", b) for b in bulletins))
    yield store, clip_for, occ, tmp_path
    store.close()


def make_player(store, clip_for, clock, sink_for, devices=None):
    devices = devices or {"toan-xa": "default", "thon-1": "default", "thon-2": "default"}
    zones = {z: Zone(z, z.upper(), device) for z, device in devices.items()}
    return Player(store, clock, sink_for, clip_for, zones)


def test_on_time_play_is_logged_per_zone_and_written(parts):
    store, clip_for, occ, tmp = parts
    clock = FakeClock(AT - timedelta(seconds=2))  # the job wakes LEAD early
    sink = WavDirSink(tmp / "played", fast=True)
    make_player(store, clip_for, clock, lambda d: sink).play(occ)
    # one device serves all three zones: each bulletin played once, logged per zone
    assert len(sink.written) == 2
    rows = store.plays()
    assert len(rows) == 6 and {r.status for r in rows} == {"played"}
    assert {r.zone for r in rows} == {"toan-xa", "thon-1", "thon-2"}
    assert all(r.started_at == "2026-04-01T06:30:00.000+07:00" for r in rows)
    assert all(r.engine == "espeak" and r.clip_hash for r in rows)
    # what went out is exactly the rendered clip
    first = min(rows, key=lambda r: r.id)
    assert first.bulletin == "ba-vi-2026/IV.2.a"
    played, _ = read_wav(sink.written[0])
    clip, _ = read_wav(clip_for(occ.items[0].bulletin).path)
    assert (played == clip).all()


def test_a_restart_never_plays_twice(parts):
    store, clip_for, occ, tmp = parts
    sink = WavDirSink(tmp / "played", fast=True)
    make_player(store, clip_for, FakeClock(AT), lambda d: sink).play(occ)
    again = make_player(store, clip_for, FakeClock(AT + timedelta(seconds=50)), lambda d: sink)
    again.play(occ)
    assert len(sink.written) == 2 and len(store.plays()) == 6


def test_late_and_missed(parts):
    store, clip_for, occ, tmp = parts
    sink = WavDirSink(tmp / "played", fast=True)
    make_player(store, clip_for, FakeClock(AT + timedelta(minutes=3)), lambda d: sink).play(occ)
    assert {r.status for r in store.plays()} == {"late"}

    occ2 = Occurrence(occ.station, "chieu", AT + timedelta(hours=10), occ.zones, occ.items)
    clock = FakeClock(occ2.at + timedelta(minutes=11))
    make_player(store, clip_for, clock, lambda d: sink).play(occ2)
    missed = [r for r in store.plays() if r.session == "chieu"]
    assert len(missed) == 6 and {r.status for r in missed} == {"missed"}
    assert all("quá 10 phút" in r.reason for r in missed)
    assert all(r.started_at is None for r in missed)


def test_zones_on_different_devices_play_separately(parts):
    store, clip_for, occ, tmp = parts
    sinks = {"default": WavDirSink(tmp / "a", fast=True), "usb-2": WavDirSink(tmp / "b", fast=True)}
    devices = {"toan-xa": "default", "thon-1": "usb-2", "thon-2": "usb-2"}
    make_player(store, clip_for, FakeClock(AT), sinks.__getitem__, devices).play(occ)
    assert len(sinks["default"].written) == 2 and len(sinks["usb-2"].written) == 2


def test_missing_device_is_retried_then_logged_as_failed_not_fatal(parts):
    store, clip_for, occ, tmp = parts
    sink = SoundDeviceSink("khong-co-thiet-bi-nay")  # real PortAudio lookup fails
    clock = FakeClock(AT)
    make_player(store, clip_for, clock, lambda d: sink).play(occ)
    rows = store.plays()
    assert len(rows) == 6 and {r.status for r in rows} == {"failed"}
    assert all(r.reason.startswith("lỗi thiết bị phát") for r in rows)
    # three tries per bulletin, 2 s then 5 s apart
    assert [e[1] for e in store.events()].count("device-error") == 6
    assert clock.now() - AT == timedelta(seconds=14)


class VanishingSink(WavDirSink):
    """A device that is gone for its first `gone` plays, then back (a USB card re-plugged)."""

    def __init__(self, folder, gone):
        super().__init__(folder, fast=True)
        self.gone = gone

    def play(self, samples, rate, label, at=None):
        from loa.player import SinkError

        if self.gone:
            self.gone -= 1
            raise SinkError("PortAudioError: Device unavailable [PaErrorCode -9985]")
        return super().play(samples, rate, label, at)


def test_device_that_comes_back_plays_late_not_lost(parts):
    store, clip_for, occ, tmp = parts
    sink = VanishingSink(tmp / "played", gone=2)
    clock = FakeClock(AT)
    make_player(store, clip_for, clock, lambda d: sink).play(occ)
    rows = sorted(store.plays(), key=lambda r: r.id)
    assert {r.status for r in rows} == {"played"}  # 7 s late is still on time (< 30 s)
    assert rows[0].started_at == "2026-04-01T06:30:07.000+07:00"
    assert len(sink.written) == 2
    assert [e[1] for e in store.events()].count("device-error") == 2
