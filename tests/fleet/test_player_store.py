"""The player's bundle store, outbox and device file, on real files and real SQLite."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from datetime import datetime, timedelta

import numpy as np
import pytest
from helpers import one_session_station

from loa.audio.wav import write_wav
from loa.clock import DEFAULT_TZ
from loa.fleet.bundle import (
    BundleClips,
    BundleRefused,
    BundleStore,
    only_zones,
    text_binding,
)
from loa.fleet.follower import Device, Outbox, load_device, save_device
from loa.log import LogStore
from loa.station.core import load_station

TEXTS = ["Bà con tiêm phòng cho đàn gia cầm.", "Họp thôn tối thứ sáu."]


def _wav(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    path = f"/tmp/loa-test-{os.getpid()}-{seed}.wav"
    write_wav(path, (rng.standard_normal(4800) * 3000).astype(np.int16), 48000)
    with open(path, "rb") as fh:
        buf.write(fh.read())
    os.unlink(path)
    return buf.getvalue()


def _manifest(tmp_path, texts=TEXTS, seed=0, at=None):
    """A bundle as the server sends it: the station's YAML files and a clip per bulletin;
    returns (manifest, {sha: bytes})."""
    folder = tmp_path / f"src{seed}"
    at = at or datetime.now(DEFAULT_TZ) + timedelta(hours=1)
    one_session_station(folder, at, texts)
    files = {"lich.yaml": (folder / "lich.yaml").read_text("utf-8"),
             "bulletins.yaml": (folder / "bulletins.yaml").read_text("utf-8")}
    clips, blobs = [], {}
    for i, text in enumerate(texts):
        data = _wav(seed * 100 + i)
        sha = hashlib.sha256(data).hexdigest()
        blobs[sha] = data
        clips.append({"bulletin": f"ba-vi-2026/IV.{i + 1}", "lang": "vi", "sha256": sha,
                      "bytes": len(data), "text_sha256": text_binding(text)})
    return {"version": f"v{seed}", "schedule": "lich.yaml", "files": files, "clips": clips,
            "zones": ["thon-1"]}, blobs


def _fetcher(blobs, calls=None):
    def fetch(sha, out):
        if calls is not None:
            calls.append(sha)
        out.write(blobs[sha])
        return len(blobs[sha])
    return fetch


def test_a_whole_bundle_becomes_current_and_its_clips_air(tmp_path):
    store = BundleStore(tmp_path / "server")
    manifest, blobs = _manifest(tmp_path)
    calls: list[str] = []
    done = store.accept("v0", manifest, _fetcher(blobs, calls))
    assert done.downloaded == 2 and sorted(calls) == sorted(blobs)
    assert store.current_etag() == "v0"
    assert os.readlink(store.current_link) == "v0"
    path = store.schedule_path()
    assert path == store.current_link / "lich.yaml"
    loaded = load_station(path)
    clips = BundleClips(store)
    for pool in loaded.bulletins.values():
        for b in pool:
            clip = clips.at_air(b)
            assert clip.path.read_bytes() == blobs[hashlib.sha256(clip.path.read_bytes())
                                                    .hexdigest()]
            assert clip.seconds == pytest.approx(0.1)
    # the same bundle again downloads nothing
    calls.clear()
    assert store.accept("v0", manifest, _fetcher(blobs, calls)).downloaded == 0
    assert calls == []


def test_a_corrupt_clip_is_refused_and_the_last_good_bundle_stays(tmp_path):
    store = BundleStore(tmp_path / "server")
    good, blobs = _manifest(tmp_path, seed=0)
    store.accept("v0", good, _fetcher(blobs))
    bad, bad_blobs = _manifest(tmp_path, texts=["Lời mới cho bản tin một.", TEXTS[1]], seed=1)
    sha = bad["clips"][0]["sha256"]
    bad_blobs[sha] = bad_blobs[sha][:-10] + b"\x00" * 10  # damaged on the way
    with pytest.raises(BundleRefused, match="bị hỏng"):
        store.accept("v1", bad, _fetcher(bad_blobs))
    assert store.current_etag() == "v0"
    assert not store.clip_path(sha).exists()
    assert not [f for f in store.clips.iterdir() if f.name.endswith(".part")]
    assert not (store.bundles / "v1").exists()
    loaded = load_station(store.schedule_path())
    b = loaded.bulletins["p"][0]
    assert b.text == TEXTS[0]
    assert BundleClips(store).at_air(b).path.is_file()


def test_a_bundle_whose_schedule_does_not_load_or_lacks_a_clip_is_refused(tmp_path):
    store = BundleStore(tmp_path / "server")
    good, blobs = _manifest(tmp_path)
    store.accept("v0", good, _fetcher(blobs))
    broken = {**good, "files": {**good["files"], "lich.yaml": "station: [\n"}}
    with pytest.raises(BundleRefused, match="không đọc được"):
        store.accept("v2", broken, _fetcher(blobs))
    short = {**good, "clips": good["clips"][:1]}
    with pytest.raises(BundleRefused, match="thiếu đoạn âm thanh"):
        store.accept("v3", short, _fetcher(blobs))
    # a clip bound to other words than the bulletin's is no clip for it
    rebound = {**good, "clips": [dict(good["clips"][0], text_sha256="0" * 64),
                                 good["clips"][1]]}
    with pytest.raises(BundleRefused, match="thiếu đoạn âm thanh"):
        store.accept("v4", rebound, _fetcher(blobs))
    for name in ("../evil.yaml", "/etc/x.yaml", "a/../../b.yaml", ".bundle.json"):
        bad = {**good, "files": {**good["files"], name: "x: 1\n"}}
        with pytest.raises(BundleRefused, match="tên tệp"):
            store.accept("v5", bad, _fetcher(blobs))
    with pytest.raises(BundleRefused, match="mã phiên bản"):
        store.accept("../x", good, _fetcher(blobs))
    assert store.current_etag() == "v0"
    assert sorted(p.name for p in store.bundles.iterdir()) == ["current", "v0"]
    assert not (tmp_path / "evil.yaml").exists()


def test_a_clip_damaged_on_disk_after_acceptance_does_not_air(tmp_path):
    from loa.audio.cache import ClipError

    store = BundleStore(tmp_path / "server")
    good, blobs = _manifest(tmp_path)
    store.accept("v0", good, _fetcher(blobs))
    b = load_station(store.schedule_path()).bulletins["p"][0]
    path = BundleClips(store).at_air(b).path
    with open(path, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff\xff\xff\xff")
    with pytest.raises(ClipError, match="bị hỏng"):
        BundleClips(store).at_air(b)
    # the next pull notices and fetches it again
    calls: list[str] = []
    store.accept("v0", good, _fetcher(blobs, calls))
    assert calls == [good["clips"][0]["sha256"]]
    assert BundleClips(store).at_air(b).path == path


def test_prune_keeps_the_last_two_bundles_and_their_clips(tmp_path):
    store = BundleStore(tmp_path / "server")
    shas = []
    for seed in range(4):
        man, blobs = _manifest(tmp_path, texts=[f"Bản tin số {seed}."], seed=seed)
        store.accept(f"v{seed}", man, _fetcher(blobs))
        shas.append(man["clips"][0]["sha256"])
        os.utime(store.bundles / f"v{seed}" / ".bundle.json", (1000 + seed, 1000 + seed))
    gone, removed = store.prune()
    assert (gone, removed) == (2, 2)
    assert sorted(p.name for p in store.bundles.iterdir()) == ["current", "v2", "v3"]
    assert sorted(p.stem for p in store.clips.iterdir()) == sorted(shas[2:])
    assert store.current_etag() == "v3"


def test_only_the_devices_zones_play(tmp_path):
    man, blobs = _manifest(tmp_path)
    store = BundleStore(tmp_path / "server")
    store.accept("v0", man, _fetcher(blobs))
    loaded = load_station(store.schedule_path())
    mine = only_zones(loaded, ["thon-1"])
    assert list(mine.schedule.zones) == ["thon-1"]
    assert mine.schedule.sessions["s"].zones == ("thon-1",)
    assert only_zones(loaded, ["thon-9"]).schedule.sessions == {}
    assert only_zones(loaded, []) is loaded


def _play(store: LogStore, key: str, at: datetime, final: str | None = "played") -> None:
    rid = store.claim(play_key=key, station="ba-vi", zone="thon-1", program="p", session="s",
                      bulletin="ba-vi-2026/IV.1", title="Bản tin", field=None, priority=None,
                      scheduled_at=at, now=at)
    if final:
        store.finish(rid, status=final, started_at=at, ended_at=at + timedelta(seconds=5))


def test_the_outbox_sends_final_rows_once_in_order(tmp_path):
    log_db = tmp_path / "loa.sqlite3"
    store = LogStore(log_db)
    t0 = datetime(2026, 4, 6, 6, 30, tzinfo=DEFAULT_TZ)
    _play(store, "k1", t0)
    _play(store, "k2", t0, final=None)  # still on air: not final, not sent
    for i in range(3, 8):
        _play(store, f"k{i}", t0 + timedelta(minutes=i))
    box = Outbox(tmp_path / "server" / "outbox.sqlite3", log_db)
    assert [r[1] for r in box.pending(3)] == ["k1", "k3", "k4"]
    assert box.unsent() == 6
    box.mark_sent(["k1", "k3", "k4"], t0)
    assert box.floor == 1  # k2 is still playing: the floor waits under it
    assert [r[1] for r in box.pending()] == ["k5", "k6", "k7"]
    box.mark_sent(["k5", "k6", "k7"], t0)
    assert box.pending() == [] and box.unsent() == 0
    store.finish(2, status="interrupted", started_at=t0, ended_at=t0 + timedelta(seconds=1))
    assert [r[1] for r in box.pending()] == ["k2"]
    box.mark_sent(["k2"], t0)
    assert box.floor == 7 and box.unsent() == 0
    box.close()
    # a restart reads the same state back
    again = Outbox(tmp_path / "server" / "outbox.sqlite3", log_db)
    assert again.floor == 7 and again.pending() == []
    again.close()
    store.close()


def test_emergencies_are_taken_once_ever(tmp_path):
    box = Outbox(tmp_path / "outbox.sqlite3", tmp_path / "loa.sqlite3")
    at = datetime(2026, 4, 6, 6, 30, tzinfo=DEFAULT_TZ)
    payload = {"id": "e-1", "title": "Bão", "text": "Bão số 3", "zones": []}
    assert box.take_emergency(payload, at) is True
    assert box.take_emergency(payload, at) is False
    box.add_ack("e-1", "received", at)
    box.add_ack("e-1", "received", at)
    assert [a[:2] for a in box.unsent_acks()] == [("e-1", "received")]
    box.ack_sent("e-1", "received")
    assert box.unsent_acks() == []
    box.close()
    again = Outbox(tmp_path / "outbox.sqlite3", tmp_path / "loa.sqlite3")
    assert again.take_emergency(payload, at) is False
    again.close()


def test_device_file_is_readable_only_by_its_user(tmp_path):
    dev = Device(url="https://loa.example.vn", device="d-0123456789", token="t" * 43,
                 name="Cụm loa thôn Đoài", station={"slug": "ba-vi", "name": "Xã Ba Vì"},
                 zones=["thon-doai"], mqtt={"host": "mqtt.example.vn", "port": 8883, "tls": True})
    path = save_device(tmp_path, dev)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_device(tmp_path) == dev
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".part")]


def test_a_recording_and_its_version_stand_in_only_for_the_approval_their_clip_binds(tmp_path):
    """The bundle has the YAML naming recordings that are not on the player, and clips
    bound to the approval hashes the server computed with the files: the bulletin and its
    Hmong version air from those clips; a clip bound to another approval does not."""
    import json

    from loa.fleet.bundle import load_bundled
    from loa.script.bulletin import approval_hash, version_hash
    from loa.yamlio import write_yaml

    src = tmp_path / "src"
    (src / "ghi-am").mkdir(parents=True)
    vi, hmn = _wav(7), _wav(8)
    (src / "ghi-am" / "a.wav").write_bytes(vi)
    (src / "ghi-am" / "a-hmn.wav").write_bytes(hmn)
    title, text = "Họp thôn", "Họp thôn tối thứ sáu."
    good = approval_hash(title, text, src / "ghi-am" / "a.wav")
    good_hmn = version_hash("hmn", "", src / "ghi-am" / "a-hmn.wav")
    at = datetime.now(DEFAULT_TZ) + timedelta(hours=1)
    one_session_station(src, at, ["x"])
    write_yaml(src / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.1", "title": title, "status": "approved", "text": text,
         "audio": "ghi-am/a.wav", "approved_hash": good,
         "versions": {"hmn": {"audio": "ghi-am/a-hmn.wav", "status": "approved",
                              "approved_hash": good_hmn}}}]})
    files = {n: (src / n).read_text("utf-8") for n in ("lich.yaml", "bulletins.yaml")}
    produced = {"vi": _wav(9), "hmn": _wav(10)}
    blobs = {hashlib.sha256(b).hexdigest(): b for b in produced.values()}

    def manifest(bind_vi: str) -> dict:
        return {"schedule": "lich.yaml", "files": files, "zones": [], "clips": [
            {"bulletin": "ba-vi-2026/IV.1", "lang": lang,
             "sha256": hashlib.sha256(produced[lang]).hexdigest(),
             "bytes": len(produced[lang]), "text_sha256": bind}
            for lang, bind in (("vi", bind_vi), ("hmn", good_hmn))]}

    store = BundleStore(tmp_path / "server")
    man = manifest(good)
    store.accept("v1", man, _fetcher(blobs))
    assert not list((tmp_path / "server").rglob("a*.wav"))
    plain = load_station(store.schedule_path())  # loa's own model: the file is missing
    assert plain.bulletins["p"] == [] and len(plain.bulletins.refused) == 1
    loaded = load_bundled(store.schedule_path(), man)
    (b,) = loaded.bulletins["p"]
    assert loaded.bulletins.refused == []
    assert b.is_approved and b.audio == "ghi-am/a.wav"
    aired = b.for_air("hmn")
    assert aired is not None and aired.language == "hmn"
    clips = BundleClips(store)
    assert clips.at_air(b).path.read_bytes() == produced["vi"]
    assert clips.at_air(aired).path.read_bytes() == produced["hmn"]

    # a clip bound to another approval (the bulletin's YAML says otherwise) vouches nothing
    other = manifest(hashlib.sha256(b"something else").hexdigest()[:16])
    store.accept("v2", other, _fetcher(blobs))
    loaded = load_bundled(store.schedule_path(), json.loads(json.dumps(other)))
    assert loaded.bulletins["p"] == []
    assert [r.bulletin.id for r in loaded.bulletins.refused] == ["IV.1"]


def test_an_emergency_is_on_disk_as_handed_over_before_it_airs_and_never_again(
        rig, data_dir):
    """Write-ahead: at the moment the daemon would start the sound, another connection to
    the outbox file already reads the daemon's id for it. A restart after a crash at that
    moment (nothing in the log) never hands it over again: it is acked failed."""
    import sqlite3

    from fakeclock import FakeClock
    from services import free_port

    from loa import settings
    from loa.fleet.follower import NOT_AIRED_VI, Follower

    clock = FakeClock(datetime(2026, 11, 30, 9, 0, tzinfo=DEFAULT_TZ))
    r = rig(clock, store=LogStore(settings.db_path()))
    dev = Device(url=f"http://127.0.0.1:{free_port()}", device="d1", token="t" * 43)
    outbox = data_dir / "server" / "outbox.sqlite3"
    seen = []

    class Crash(Exception):
        pass

    def crash_on_air(occ):  # the moment before a sound: what is on disk? then "power cut"
        with sqlite3.connect(outbox) as con:
            seen.append(con.execute("SELECT id, local, closed FROM emergencies").fetchall())
        raise Crash

    r.daemon._start_emergency = crash_on_air
    payload = {"id": "e-1", "title": "Lũ quét", "text": "Lũ quét, bà con tránh xa bờ suối.",
               "zones": [], "sent_at": "2026-11-30T09:00:00+07:00"}
    first = Follower(data_dir, dev, report=lambda line: None)
    first.attach(r.daemon)
    with pytest.raises(Crash):
        first._take(payload)
    ((eid, local, closed),), = seen
    assert (eid, closed) == ("e-1", 0) and local.startswith("khan-cap-")
    first.outbox.close()

    again = Follower(data_dir, dev, report=lambda line: None)  # the restart
    again.attach(r.daemon)
    again.start()
    try:
        again._take(payload)  # the server offers it again (poll, MQTT redelivery)
        again.tick()
        assert wait_on(lambda: again.outbox.open_emergencies() == [])
    finally:
        again.stop()
    assert len(seen) == 1  # handed to the daemon once, ever
    acks = {(stage, detail) for e, stage, _, detail in Outbox(
        outbox, settings.db_path()).unsent_acks() if e == "e-1"}
    assert acks == {("received", ""), ("failed", NOT_AIRED_VI)}


def wait_on(predicate, seconds: float = 10) -> bool:
    from helpers import wait_for

    return wait_for(predicate, seconds)


def test_a_server_dying_mid_answer_is_offline_not_a_crash():
    """Headers sent, then the server is gone (kill -9 mid-response): the client says the
    server is unreachable, as for any lost connection, and the rows stay unsent."""
    import socket
    import threading

    from loa.fleet.client import Client, Offline

    srv = socket.create_server(("127.0.0.1", 0))

    def half_answer():
        for _ in range(2):
            conn, _ = srv.accept()
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"accepted\": [")
            conn.close()

    t = threading.Thread(target=half_answer, daemon=True)
    t.start()
    client = Client(f"http://127.0.0.1:{srv.getsockname()[1]}", token="t", timeout=10)
    try:
        with pytest.raises(Offline, match="không"):
            client.plays([{"play_key": "k"}])
        # a clip cut short arrives short (http.client reads what came): the store's
        # SHA-256 check refuses it (test_a_corrupt_clip_is_refused_...)
        got = io.BytesIO()
        assert client.clip("ab" * 32, got) == len(got.getvalue()) < 100
    finally:
        srv.close()
