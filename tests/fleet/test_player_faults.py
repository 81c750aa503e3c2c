"""Players against a real server (`loa serve` on PostgreSQL, Mosquitto): a row the server
refuses, an emergency cut by kill -9, officer recordings and other-language versions
from publish to the loudspeaker. One server and broker for the module."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from services import start_broker

from fleet.server_rig import ServerRig
from loa.clock import DEFAULT_TZ


@pytest.fixture(scope="module")
def fleet(postgres):
    from fleet.test_player_fleet import sql

    root = Path(tempfile.mkdtemp(prefix="loa-faults-"))
    broker = start_broker(root / "broker")
    name = postgres.create_database()
    rig = ServerRig(postgres.url(name), root / "server", extra=["--mqtt", broker.url])
    done = rig.fleet("province", "add", "binh-phuoc", "--name", "Bình Phước")
    assert done.returncode == 0, done.stderr
    rig.start()
    rig.pg = (postgres, name)
    rig.root = root
    rig.broker = broker
    rig.sql = lambda query, *args: sql(rig, query, *args)
    yield rig
    err = rig.stop()
    broker.stop()
    postgres.drop_database(name)
    shutil.rmtree(root, ignore_errors=True)
    assert "Traceback" not in err, err


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
