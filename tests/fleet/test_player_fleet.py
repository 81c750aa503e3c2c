"""Players following a real server: `loa serve --database postgresql://... --mqtt ...` on a
real PostgreSQL and Mosquitto, real `loa enroll` and `loa run --server` processes playing
into a PulseAudio null sink (or WAV files). One server and broker for the module; each test
has its own station. LOA_SYNC_S=1 makes the players pull, upload and beat every second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from helpers import events_in, heartbeat_up, rows_in, soon, wait_for
from services import free_port

from fleet.server_rig import REPO, province_server, sql
from loa.clock import DEFAULT_TZ
from loa.yamlio import write_yaml

TEXT = "Bà con chú ý tiêm phòng cho đàn gia cầm trong tháng này."
ZONES = {"thon-1": "Thôn 1", "thon-2": "Thôn 2", "thon-3": "Thôn 3"}


@pytest.fixture(scope="module")
def fleet(postgres):
    yield from province_server(postgres, "loa-player-")


def add_station(rig, slug: str, name: str) -> None:
    done = rig.fleet("station", "add", slug, "--name", name, "--province", "binh-phuoc")
    assert done.returncode == 0, done.stderr


def write_schedule(folder: Path, sessions: dict[str, datetime], text: str = TEXT) -> Path:
    """Three zones on the default device; each session plays the one approved bulletin."""
    folder.mkdir(parents=True, exist_ok=True)
    write_yaml(folder / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.1", "title": "Tiêm phòng", "status": "approved", "text": text}]})
    days = sorted({at.date() for at in sessions.values()})
    path = folder / "lich.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": z, "name": n, "device": "default"} for z, n in ZONES.items()],
        "sessions": [{"id": sid, "name": f"Buổi {sid}", "time": at.strftime("%H:%M:%S"),
                      "zones": list(ZONES)} for sid, at in sessions.items()],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": list(sessions), "from": days[0].isoformat(),
                      "until": days[-1].isoformat()}],
    })
    return path


def publish(rig, slug: str, schedule: Path) -> None:
    done = rig.fleet("station", "publish", slug, str(schedule))
    assert done.returncode == 0, done.stderr


def latest_manifest(rig, slug: str) -> dict:
    man, etag = sql(rig, "SELECT b.manifest, b.etag FROM fleet_bundle b JOIN fleet_station s "
                         "ON s.id = b.station_id WHERE s.slug = %s ORDER BY b.created_at DESC, "
                         "b.id DESC LIMIT 1", slug)[0]
    man = man if isinstance(man, dict) else json.loads(man)
    return {**man, "version": etag}


def player_env(data: Path, base: dict | None = None) -> dict[str, str]:
    env = {k: v for k, v in (base or os.environ).items()
           if k not in ("LOA_DATABASE_URL", "LOA_SCHEDULE", "DJANGO_SETTINGS_MODULE")}
    return {**env, "LOA_DATA_DIR": str(data), "LOA_SYNC_S": "1", "PYTHONPATH": str(REPO)}


def enroll(rig, env: dict, slug: str, name: str, zone: str) -> dict:
    code = rig.code(slug, name, zone)
    done = subprocess.run([sys.executable, "-m", "loa", "enroll", rig.url, code], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"«{name}»" in done.stdout and "0600" in done.stdout
    path = Path(env["LOA_DATA_DIR"]) / "server" / "device.json"
    assert path.stat().st_mode & 0o077 == 0
    return json.loads(path.read_text("utf-8"))


def start_player(rig, env: dict, *extra: str, sink: str = "device") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "loa", "run", "--server", rig.url, "--sink",
                             sink, "--no-time-sync", "--for", "300", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_player(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return out, err


def current_etag(data: Path) -> str | None:
    try:
        return os.readlink(data / "server" / "bundles" / "current")
    except OSError:
        return None


def test_three_players_play_the_servers_session_once_each_and_ack_an_emergency(
        fleet, pulse, tmp_path):
    add_station(fleet, "xa-ba-vi", "Đài xã Ba Vì")
    far = datetime.now(DEFAULT_TZ).replace(microsecond=0) + timedelta(hours=3)
    publish(fleet, "xa-ba-vi", write_schedule(tmp_path / "v1", {"s": far}))
    players = {}
    for i, zone in enumerate(ZONES, 1):
        data = tmp_path / f"player{i}"
        env = player_env(data, pulse.env)
        dev = enroll(fleet, env, "xa-ba-vi", f"Cụm loa thôn {i}", zone)
        assert dev["zones"] == [zone] and dev["mqtt"]["port"]
        players[dev["device"]] = (data, env, zone)
    procs = {d: start_player(fleet, env) for d, (data, env, _) in players.items()}
    try:
        v1 = latest_manifest(fleet, "xa-ba-vi")["version"]
        assert wait_for(lambda: all(current_etag(p[0]) == v1 and heartbeat_up(p[0])
                                    for p in players.values()), 60)
        # the session the players will play: published while they run, ~25 s ahead
        at = soon(25, run_s=120)
        publish(fleet, "xa-ba-vi", write_schedule(tmp_path / "v2", {"s": at}))
        v2 = latest_manifest(fleet, "xa-ba-vi")["version"]
        assert v2 != v1
        assert wait_for(lambda: all(current_etag(p[0]) == v2 for p in players.values()), 20)

        def played_on_server():
            return sql(fleet, "SELECT device_id, zone, status, play_key FROM fleet_play p JOIN "
                              "fleet_station s ON s.id = p.station_id WHERE s.slug = 'xa-ba-vi'")
        assert wait_for(lambda: len(played_on_server()) >= 3, 90), played_on_server()
        rows = played_on_server()
        assert sorted((d, z, s) for d, z, s, _ in rows) == sorted(
            (d, zone, "played") for d, (_, _, zone) in players.items())
        for data, _, zone in players.values():  # each played its own zone, at the time
            local = rows_in(data)
            assert [(r.zone, r.status) for r in local] == [(zone, "played")]
            assert abs((datetime.fromisoformat(local[0].started_at) - at).total_seconds()) < 1

        # an emergency to the station: over MQTT to every player, played, acknowledged
        sent = fleet.fleet("emergency", "Bão số 3 sắp đổ bộ, bà con chằng chống nhà cửa.",
                           "--title", "Bão số 3", "--station", "xa-ba-vi")
        assert sent.returncode == 0, sent.stderr

        def acks():
            return sql(fleet, "SELECT device_id, received_at, started_at, finished_at, "
                              "failed_at, detail FROM fleet_delivery")
        assert wait_for(lambda: len(acks()) == 3 and all(a[3] for a in acks()), 90), acks()
        for dev, received, started, finished, failed, _ in acks():
            assert dev in players and failed is None
            assert received <= started <= finished
        assert wait_for(lambda: len(played_on_server()) == 6, 30), played_on_server()
        per_device = sql(fleet, "SELECT device_id, count(*), count(DISTINCT play_key), "
                                "count(*) FILTER (WHERE kind = 'khan-cap') FROM fleet_play "
                                "GROUP BY device_id")
        assert sorted(per_device) == sorted((d, 2, 2, 1) for d in players)
        # heartbeats arrived with the player's state
        def beats():
            return sql(fleet, "SELECT id, clock_trusted, unsent, bundle FROM fleet_device "
                              "WHERE id = ANY(%s)", list(players))
        assert wait_for(lambda: all(b[1:] == (True, 0, v2) for b in beats()), 30), beats()
    finally:
        outs = {d: stop_player(p) for d, p in procs.items()}
    for d, proc in procs.items():
        out, err = outs[d]
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        assert "Tin khẩn cấp từ máy chủ: «Bão số 3»" in out
    for data, _, _ in players.values():  # the emergency played once on each
        assert [r.status for r in rows_in(data) if r.session == "khan-cap"] == ["played"]


def test_corrupt_bundle_refused_then_revoked_token_the_last_good_bundle_keeps_playing(
        fleet, tmp_path):
    add_station(fleet, "xa-tan-lap", "Đài xã Tân Lập")
    t1 = soon(40, run_s=120)
    t2 = t1 + timedelta(seconds=35)
    publish(fleet, "xa-tan-lap", write_schedule(tmp_path / "v1", {"s1": t1, "s2": t2}))
    v1 = latest_manifest(fleet, "xa-tan-lap")
    data = tmp_path / "player"
    env = player_env(data)
    dev = enroll(fleet, env, "xa-tan-lap", "Cụm loa thôn Đoài", "thon-2")
    proc = start_player(fleet, env, sink="wav")
    try:
        assert wait_for(lambda: current_etag(data) == v1["version"] and heartbeat_up(data), 60)
        # a new bulletin text whose clip is damaged in the server's store (the player is
        # stopped meanwhile so that it cannot fetch the clip before the damage)
        out1, err1 = stop_player(proc)
        assert proc.returncode == 0, err1
        publish(fleet, "xa-tan-lap", write_schedule(tmp_path / "v2", {"s1": t1, "s2": t2},
                                                    text="Lời mới: bà con họp thôn tối thứ sáu."))
        (bad,) = {c["sha256"] for c in latest_manifest(fleet, "xa-tan-lap")["clips"]} - {
            c["sha256"] for c in v1["clips"]}
        path = fleet.data / "server" / "clips" / bad[:2] / f"{bad}.wav"
        blob = bytearray(path.read_bytes())
        blob[len(blob) // 2: len(blob) // 2 + 64] = b"\x55" * 64
        path.write_bytes(bytes(blob))
        import hashlib
        assert hashlib.sha256(path.read_bytes()).hexdigest() != bad
        served = fleet.call("GET", f"/api/v1/clips/{bad}", dev["token"])
        assert served.status == 200 and hashlib.sha256(served.body).hexdigest() != bad, (
            served.status, len(served.body), len(blob))
        proc = start_player(fleet, env, sink="wav")
        v2 = latest_manifest(fleet, "xa-tan-lap")["version"]
        assert wait_for(lambda: events_in(data, "bundle-refused"), 30), (
            current_etag(data), v2, stop_player(proc))
        refused = events_in(data, "bundle-refused")
        assert len(refused) == 1 and v2 in refused[0][2] and "bị hỏng" in refused[0][2]
        assert current_etag(data) == v1["version"]
        assert not (data / "server" / "clips" / f"{bad}.wav").exists()

        # s1 plays from the last good bundle, and reaches the server
        def on_server():
            return sql(fleet, "SELECT play_key, status FROM fleet_play WHERE device_id = %s",
                       dev["device"])
        assert wait_for(lambda: len(on_server()) == 1, 90), rows_in(data)
        s1 = rows_in(data)
        assert [(r.session, r.status) for r in s1] == [("s1", "played")]
        assert s1[0].clip_hash == v1["clips"][0]["sha256"][:32]

        # the token revoked mid-run: syncing stops, playing does not
        assert fleet.fleet("revoke", dev["device"]).returncode == 0
        assert wait_for(lambda: events_in(data, "server-revoked"), 30)
        assert wait_for(lambda: [r.status for r in rows_in(data) if r.session == "s2"]
                        == ["played"], 90), rows_in(data)
        assert current_etag(data) == v1["version"]
    finally:
        out, err = stop_player(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert "Không nhận gói lịch mới từ máy chủ" in out and "Traceback" not in err1
    assert out.count("Máy chủ đã thu hồi mã của thiết bị này") == 1
    assert [k for k, _ in on_server()] == [s1[0].play_key]  # s2 never sent after the 401
    assert len(events_in(data, "server-revoked")) == 1


def test_three_days_offline_then_back_every_row_arrives_exactly_once(fleet, data_dir,
                                                                     tmp_path):
    """Three days of plays written to the local log as the daemon writes them (LogStore
    claim, then finish), while the server cannot be reached; one batch reached the server
    but its answer was lost; then the player comes back, and restarts once more."""
    from loa import settings
    from loa.fleet.client import Client
    from loa.fleet.follower import Device, Follower
    from loa.log import LogStore
    from loa.report.export import upward_record

    add_station(fleet, "xa-dong-tam", "Đài xã Đồng Tâm")
    publish(fleet, "xa-dong-tam", write_schedule(tmp_path / "v1", {
        "s": datetime.now(DEFAULT_TZ).replace(microsecond=0) + timedelta(hours=5)}))
    got = fleet.enroll(fleet.code("xa-dong-tam", "Cụm loa thôn Bắc", "thon-1"))
    dev = Device(url=fleet.url, device=got["device"], token=got["token"], zones=["thon-1"])

    store = LogStore(settings.db_path())
    start = datetime(2026, 11, 27, 5, 0, tzinfo=DEFAULT_TZ)
    keys = []
    for day in range(3):
        for hour in (6, 9, 11, 14, 17, 19):
            at = start + timedelta(days=day, hours=hour - 5)
            for n in range(100):
                key = f"{at:%Y%m%d%H%M}|thon-1|p|IV.{n}"
                rid = store.claim(play_key=key, station="ba-vi", zone="thon-1", program="p",
                                  session="s", bulletin=f"ba-vi-2026/IV.{n}", title="Bản tin",
                                  field=None, priority=None, scheduled_at=at, now=at)
                store.finish(rid, status="played" if n % 10 else "failed", started_at=at,
                             ended_at=at + timedelta(seconds=30),
                             reason=None if n % 10 else "loa không phát được")
                keys.append(key)
    on_air = start + timedelta(days=3, hours=1)
    live = store.claim(play_key="live|thon-1", station="ba-vi", zone="thon-1", program="p",
                       session="s", bulletin="ba-vi-2026/IV.1", title="Bản tin", field=None,
                       priority=None, scheduled_at=on_air, now=on_air)

    dead = f"http://127.0.0.1:{free_port()}"
    offline = Follower(data_dir, dev, url=dead, report=lambda line: None)
    offline.tick()  # every step fails: nothing is marked sent
    assert offline.outbox.unsent() == len(keys) == 1800
    assert offline.upload.fails == 1 and offline.beat.fails == 1
    offline.outbox.close()

    # the first batch reached the server, its answer did not reach the player
    from loa.log.store import ALL
    lost = [{**upward_record(r), "play_key": r[1]} for r in list(store.iter_raw(ALL))[:500]]
    Client(fleet.url, dev.token).plays(lost)

    back = Follower(data_dir, dev, report=lambda line: None)
    assert back.upload_plays() == 1800
    assert back.outbox.unsent() == 0
    store.finish(live, status="played", started_at=on_air, ended_at=on_air + timedelta(
        seconds=20))
    assert back.upload_plays() == 1
    back.send_heartbeat()
    back.outbox.close()
    again = Follower(data_dir, dev, report=lambda line: None)  # a restart sends nothing twice
    assert again.outbox.pending() == [] and again.upload_plays() == 0
    again.outbox.close()
    store.close()

    counts = sql(fleet, "SELECT count(*), count(DISTINCT play_key), count(*) FILTER (WHERE "
                        "status = 'failed') FROM fleet_play WHERE device_id = %s", dev.device)
    assert counts == [(1801, 1801, 180)]
    assert sql(fleet, "SELECT unsent, version FROM fleet_device WHERE id = %s",
               dev.device)[0][0] == 0


def test_broker_down_during_an_emergency_the_player_polls_then_plays_it_once(fleet, tmp_path):
    """Last in the module: it stops the module's broker. The player is on MQTT first; with
    the broker killed the emergency comes by polling the server; the broker back (and the
    server's bus with its queued message) must not make it play twice."""
    add_station(fleet, "xa-minh-quang", "Đài xã Minh Quang")
    later = datetime.now(DEFAULT_TZ).replace(microsecond=0) + timedelta(hours=3)
    publish(fleet, "xa-minh-quang", write_schedule(tmp_path / "v1", {"s": later}))
    data = tmp_path / "player"
    env = player_env(data)
    dev = enroll(fleet, env, "xa-minh-quang", "Cụm loa thôn Nam", "thon-3")
    broker_log = fleet.broker.root / "mosquitto.log"
    proc = start_player(fleet, env, sink="wav")
    try:
        assert wait_for(lambda: heartbeat_up(data) and f"as loa-{dev['device']}" in
                        broker_log.read_text(errors="replace"), 60), stop_player(proc)
        fleet.broker.stop(kill=True)
        sent = fleet.fleet("emergency", "Lũ quét, bà con tránh xa bờ suối.", "--title",
                           "Lũ quét", "--station", "xa-minh-quang")
        assert sent.returncode == 0, sent.stderr

        def delivery():
            return sql(fleet, "SELECT received_at, started_at, finished_at, failed_at FROM "
                              "fleet_delivery WHERE device_id = %s", dev["device"])
        assert wait_for(lambda: delivery() and delivery()[0][2] is not None, 90), (
            delivery(), rows_in(data))
        def connections(who: str) -> int:
            return broker_log.read_text(errors="replace").count(f"as {who}")
        before = {w: connections(w) for w in (f"loa-{dev['device']}", "loa-server")}
        fleet.broker.start()
        # both back on MQTT (the broker logs each reconnection); a message the server's
        # bus kept for the device would come now: give it a moment to, then look
        assert wait_for(lambda: all(connections(w) > n for w, n in before.items()), 90)
        time.sleep(3)
    finally:
        out, err = stop_player(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    emergency = [r for r in rows_in(data) if r.session == "khan-cap"]
    assert [(r.zone, r.status) for r in emergency] == [("thon-3", "played")]
    assert out.count("Tin khẩn cấp từ máy chủ: «Lũ quét»") == 1
    received, started, finished, failed = delivery()[0]
    assert received <= started <= finished and failed is None
