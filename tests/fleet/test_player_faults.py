"""Players against a real server (`loa serve` on PostgreSQL, Mosquitto): a row the server
refuses, an emergency cut by kill -9, officer recordings and other-language versions
from publish to the loudspeaker. One server and broker for the module."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from fleet.server_rig import province_server, sql
from loa.clock import DEFAULT_TZ


@pytest.fixture(scope="module")
def fleet(postgres):
    for rig in province_server(postgres, "loa-faults-"):
        rig.sql = functools.partial(sql, rig)
        yield rig


def test_a_row_the_server_refuses_is_isolated_kept_and_the_rows_behind_it_flow(
        fleet, data_dir, tmp_path):
    """1,200 final rows, the 600th with a title the server refuses (400 bad_row): the
    batch is split until that row is alone; it is marked refused (logged once, counted in
    the heartbeat, never resent), the 1,199 others arrive exactly once."""
    from fleet.test_player_fleet import add_station, publish, write_schedule
    from loa import settings
    from loa.fleet.follower import Device, Follower
    from loa.log import LogStore
    from loa.log.store import ALL

    add_station(fleet, "xa-phu-nghia", "Đài xã Phú Nghĩa")
    publish(fleet, "xa-phu-nghia", write_schedule(tmp_path / "v1", {
        "s": datetime.now(DEFAULT_TZ).replace(microsecond=0) + timedelta(hours=5)}))
    got = fleet.enroll(fleet.code("xa-phu-nghia", "Cụm loa thôn Tây", "thon-1"))
    dev = Device(url=fleet.url, device=got["device"], token=got["token"], zones=["thon-1"])

    store = LogStore(settings.db_path())
    start = datetime(2026, 11, 28, 6, 0, tzinfo=DEFAULT_TZ)
    keys = []

    def play(n: int, title: str = "Bản tin") -> str:
        at = start + timedelta(minutes=n)
        key = f"{at:%Y%m%d%H%M}|thon-1|p|IV.{n}"
        rid = store.claim(play_key=key, station="ba-vi", zone="thon-1", program="p",
                          session="s", bulletin=f"ba-vi-2026/IV.{n}", title=title,
                          field=None, priority=None, scheduled_at=at, now=at)
        store.finish(rid, status="played", started_at=at, ended_at=at + timedelta(seconds=30))
        return key

    for n in range(1200):
        keys.append(play(n, "Bản tin rất dài " * 40 if n == 599 else "Bản tin"))
    bad = keys[599]

    follower = Follower(data_dir, dev, report=lambda line: None)
    follower.attach(SimpleNamespace(store=store, schedule=None))
    calls = []
    plays = follower.client.plays
    follower.client.plays = lambda rows: calls.append(len(rows)) or plays(rows)
    assert follower.upload_plays() == 1199
    assert follower.outbox.unsent() == 0 and follower.outbox.refused() == 1
    # bisection, not one request per row: 500 → 250 → … → 1 is about two per level
    assert len(calls) < 30, calls

    # once refused, never resent, never logged again
    calls.clear()
    assert follower.upload_plays() == 0 and calls == []
    keys.append(play(1300))
    assert follower.upload_plays() == 1 and calls == [1]
    refused = [e for e in store.events(None) if e[1] == "play-refused"]
    assert len(refused) == 1
    assert "tiêu đề dài quá 500 ký tự" in refused[0][2] and bad in refused[0][2]
    assert "không gửi lại" in refused[0][2]

    body = follower.heartbeat_body()
    assert (body["refused"], body["unsent"]) == (1, 0)
    follower.send_heartbeat()  # the server takes a key it does not know
    follower.outbox.close()
    again = Follower(data_dir, dev, report=lambda line: None)  # a restart: the same
    assert again.outbox.pending() == [] and again.outbox.refused() == 1
    again.outbox.close()
    assert store.events(None) and len([e for e in store.events(None)
                                       if e[1] == "play-refused"]) == 1
    assert len(list(store.iter_raw(ALL))) == 1201  # the refused row stays in the log
    store.close()

    on_server = fleet.sql("SELECT play_key FROM fleet_play WHERE device_id = %s", dev.device)
    got_keys = [k for (k,) in on_server]
    assert len(got_keys) == len(set(got_keys)) == 1200
    assert set(got_keys) == set(keys) - {bad}
    beat = fleet.sql("SELECT unsent, last_heartbeat FROM fleet_device WHERE id = %s",
                     dev.device)[0]
    assert beat[0] == 0 and beat[1]["refused"] == 1


LONG = ("Lũ quét đang về trên suối Đá. Bà con các thôn ven suối di chuyển ngay người già, trẻ "
        "em và gia súc lên chỗ cao, không qua lại ngầm tràn, không vớt củi trên suối. Ai cần "
        "giúp đỡ gọi ngay cho trưởng thôn hoặc công an xã. Nhắc lại: lũ quét đang về, bà con "
        "di chuyển lên chỗ cao ngay.")


def test_kill_9_during_an_emergency_it_never_airs_twice_and_is_acked_failed(fleet, tmp_path):
    """A real `loa run --server` killed with SIGKILL while the emergency is on air: after
    the restart the server (HTTP poll, the broker's session) still offers it, the player
    does not air it again, and acks it failed with what happened."""
    import signal

    from helpers import heartbeat_up, rows_in, wait_for

    from fleet.test_player_fleet import (
        add_station,
        enroll,
        player_env,
        publish,
        start_player,
        stop_player,
        write_schedule,
    )

    add_station(fleet, "xa-dak-o", "Đài xã Đắk Ơ")
    later = datetime.now(DEFAULT_TZ).replace(microsecond=0) + timedelta(hours=3)
    publish(fleet, "xa-dak-o", write_schedule(tmp_path / "v1", {"s": later}))
    data = tmp_path / "player"
    env = player_env(data)
    dev = enroll(fleet, env, "xa-dak-o", "Cụm loa thôn Suối Đá", "thon-1")
    broker_log = fleet.broker.root / "mosquitto.log"
    proc = start_player(fleet, env, sink="wav")

    def emergency_rows():
        return [(r.zone, r.status) for r in rows_in(data) if r.session == "khan-cap"]

    def delivery():
        return fleet.sql("SELECT received_at, started_at, finished_at, failed_at, detail FROM "
                         "fleet_delivery WHERE device_id = %s", dev["device"])

    try:
        assert wait_for(lambda: heartbeat_up(data) and f"as loa-{dev['device']}" in
                        broker_log.read_text(errors="replace"), 60), stop_player(proc)
        sent = fleet.fleet("emergency", LONG, "--title", "Lũ quét", "--station", "xa-dak-o")
        assert sent.returncode == 0, sent.stderr
        assert wait_for(lambda: emergency_rows() == [("thon-1", "playing")], 60), (
            emergency_rows(), stop_player(proc))
    finally:
        proc.send_signal(signal.SIGKILL)
        first_out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert first_out.count("Tin khẩn cấp từ máy chủ: «Lũ quét»") == 1
    assert delivery()[0][3] is None  # not finished, not failed yet

    proc = start_player(fleet, env, sink="wav")
    try:
        assert wait_for(lambda: delivery()[0][3] is not None, 90), (delivery(), stop_player(proc))
        # the server still listed it until the failed ack: polled and redelivered over
        # MQTT meanwhile; a few more rounds of both, then look
        before = len(broker_log.read_text(errors="replace"))
        assert wait_for(lambda: f"as loa-{dev['device']}" in
                        broker_log.read_text(errors="replace")[before - 4000:], 30)
        assert wait_for(lambda: False, 3) is False
    finally:
        out, err = stop_player(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "Tin khẩn cấp" not in out
    assert emergency_rows() == [("thon-1", "interrupted")]
    received, started, finished, failed, detail = delivery()[0]
    assert received <= started <= failed and finished is None
    assert "bị ngắt giữa chừng" in detail and "không tự phát lại" in detail, detail


def _speech(path: Path, words: str) -> Path:
    """A recording as an officer's phone would give it: espeak-ng speaking into a WAV."""
    import subprocess

    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


def recorded_schedule(folder: Path, at: datetime) -> Path:
    """One bulletin read by the officer (a recording), with its Hmong version recorded by a
    translator; thôn 1 hears Vietnamese then Hmong, thôn 2 Vietnamese only."""
    from loa.script.bulletin import approval_hash, version_hash
    from loa.yamlio import write_yaml

    title, text = "Họp thôn", "Tối thứ sáu họp thôn bàn việc làm đường."
    vi = _speech(folder / "ghi-am" / "IV.1.wav", "Tối thứ sáu bà con họp thôn bàn làm đường")
    hmn = _speech(folder / "ghi-am" / "IV.1-hmn.wav", "Nyob zoo txhua tus neeg")
    write_yaml(folder / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.1", "title": title, "status": "approved", "text": text,
         "audio": "ghi-am/IV.1.wav", "approved_by": "Nguyễn Văn An",
         "approved_hash": approval_hash(title, text, vi),
         "versions": {"hmn": {"audio": "ghi-am/IV.1-hmn.wav", "status": "approved",
                              "approved_by": "Lò Văn Páo",
                              "approved_hash": version_hash("hmn", "", hmn)}}}]})
    path = folder / "lich.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": "thon-1", "name": "Thôn 1", "device": "default",
                   "languages": ["vi", "hmn"]},
                  {"id": "thon-2", "name": "Thôn 2", "device": "default"}],
        "sessions": [{"id": "s", "name": "Buổi sáng", "time": at.strftime("%H:%M:%S"),
                      "zones": ["thon-1", "thon-2"]}],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": ["s"], "from": at.date().isoformat(),
                      "until": at.date().isoformat()}],
    })
    return path


def test_an_officers_recording_and_its_hmong_version_air_on_a_player_from_the_bundle(
        fleet, tmp_path):
    """publish produces the recording's clip and the translator's version as loa airs
    them; the player, which never has the recordings, plays each from the bundle by hash
    in the languages its zone asks for."""
    from helpers import events_in, rows_in, soon, wait_for

    from fleet.test_player_fleet import (
        add_station,
        enroll,
        latest_manifest,
        player_env,
        start_player,
        stop_player,
    )
    from loa.script.bulletin import load_bulletins

    add_station(fleet, "xa-loc-ninh", "Đài xã Lộc Ninh")
    at = soon(45, run_s=120)
    schedule = recorded_schedule(tmp_path / "v1", at)
    done = fleet.fleet("station", "publish", "xa-loc-ninh", str(schedule))
    assert done.returncode == 0, done.stderr
    assert "2 đoạn âm thanh (gồm 1 bản tiếng Mông)" in done.stdout, done.stdout
    man = latest_manifest(fleet, "xa-loc-ninh")
    b = load_bulletins(schedule.parent / "bulletins.yaml").get("IV.1")
    clips = {(c["bulletin"], c["lang"]): c for c in man["clips"]}
    assert set(clips) == {("ba-vi-2026/IV.1", "vi"), ("ba-vi-2026/IV.1", "hmn")}
    assert clips["ba-vi-2026/IV.1", "vi"]["text_sha256"] == b.approved_hash
    assert clips["ba-vi-2026/IV.1", "hmn"]["text_sha256"] == b.versions["hmn"].approved_hash
    assert set(man["files"]) == {"lich.yaml", "bulletins.yaml"}  # no recording travels
    for c in clips.values():  # the produced clip (chime, intro, levelled), not the raw file
        produced = fleet.data / "server" / "clips" / c["sha256"][:2] / f"{c['sha256']}.wav"
        assert produced.is_file()
    raw = {(schedule.parent / "ghi-am" / n).read_bytes() for n in ("IV.1.wav", "IV.1-hmn.wav")}
    assert not raw & {(fleet.data / "server" / "clips" / c["sha256"][:2] /
                       f"{c['sha256']}.wav").read_bytes() for c in clips.values()}

    data = tmp_path / "player"
    env = player_env(data)
    enroll(fleet, env, "xa-loc-ninh", "Cụm loa thôn 1", "thon-1")
    proc = start_player(fleet, env, sink="wav")
    try:
        assert wait_for(lambda: len([r for r in rows_in(data) if r.status != "playing"])
                        >= 2, 120), (rows_in(data), stop_player(proc))
    finally:
        out, err = stop_player(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    rows = rows_in(data)
    assert sorted((r.zone, r.language, r.status) for r in rows) == [
        ("thon-1", "hmn", "played"), ("thon-1", "vi", "played")]
    for r in rows:
        assert r.clip_hash == clips["ba-vi-2026/IV.1", r.language]["sha256"][:32]
    assert not list(data.rglob("IV.1*.wav"))  # the recordings never reached the player
    assert not events_in(data, "language-fallback") and not events_in(data, "bundle-refused")
