"""The fleet service layer on the console's default database (SQLite, pytest-django):
scope, enroll codes, idempotent ingestion, heartbeats, emergencies and their acks."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.server_rig import play_row
from loa.errors import LoaError

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet(data_dir):
    from loa.console.fleet import service

    bp = service.add_province("binh-phuoc", "Bình Phước")
    hn = service.add_province("ha-noi", "Hà Nội")
    a = service.add_station("xa-ba-vi", "Đài xã Ba Vì", "binh-phuoc")
    b = service.add_station("xa-tan-lap", "Đài xã Tân Lập", "binh-phuoc")
    c = service.add_station("xa-dong-anh", "Đài xã Đông Anh", "ha-noi")
    return {"bp": bp, "hn": hn, "a": a, "b": b, "c": c}


def enrolled(station, name="Cụm loa thôn Đoài", zones=("thon-doai",)):
    from loa.console.fleet import service

    return service.enroll(service.create_enroll_code(station, name, zones), "pi", "1.0")


def user(username, *roles, superuser=False):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    u = get_user_model().objects.create_user(username, password="Loa-kiem-thu-2026",
                                             is_superuser=superuser)
    u.groups.set([Group.objects.get_or_create(name=r)[0] for r in roles])
    return u


def test_a_province_account_sees_its_communes_a_commune_account_only_its_own(fleet):
    from loa.console.fleet import service

    tinh, xa, khac, nobody = (user("tinh", "admin"), user("xa", "admin"), user("khac", "admin"),
                              user("ai-do", "admin"))
    service.set_scope(tinh, province=fleet["bp"])
    service.set_scope(xa, station=fleet["a"])
    service.set_scope(khac, province=fleet["hn"])
    names = lambda u: sorted(s.name for s in service.stations_for(u))  # noqa: E731
    assert names(tinh) == ["Đài xã Ba Vì", "Đài xã Tân Lập"]
    assert names(xa) == ["Đài xã Ba Vì"]
    assert names(khac) == ["Đài xã Đông Anh"]
    assert names(nobody) == []  # no scope: nothing, not everything
    assert names(user("root", superuser=True)) == ["Đài xã Ba Vì", "Đài xã Tân Lập",
                                                   "Đài xã Đông Anh"]
    assert service.can_see(xa, fleet["a"]) and not service.can_see(xa, fleet["b"])
    assert not service.can_see(khac, fleet["a"])
    # managing (codes, revoking, emergencies) needs the admin or technician role too
    editor = user("bientap", "editor")
    service.set_scope(editor, station=fleet["a"])
    assert service.can_see(editor, fleet["a"]) and not service.can_manage(editor, fleet["a"])
    with pytest.raises(LoaError, match="không được tạo mã đăng ký"):
        service.create_enroll_code(fleet["a"], "Cụm loa", (), user=editor)
    with pytest.raises(LoaError, match="không được tạo mã đăng ký"):
        service.create_enroll_code(fleet["b"], "Cụm loa", (), user=xa)
    with pytest.raises(LoaError, match="không được gửi tin khẩn cấp tới Đài xã Tân Lập"):
        service.send_emergency(xa, "Bão", "Bão số 3", stations=[fleet["b"]])
    with pytest.raises(LoaError, match="một tỉnh hoặc một đài"):
        service.set_scope(xa, province=fleet["bp"], station=fleet["a"])


def test_an_enroll_code_works_once_and_only_until_it_expires(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Device, EnrollCode

    code = service.create_enroll_code(fleet["a"], "Cụm loa thôn Đoài", ["thon-doai"], hours=2)
    done = service.enroll(code.lower().replace("-", ""), "pi-doai", "1.0")  # typed loosely
    dev = done.device
    assert dev.id.startswith("d-") and len(dev.id) == 12
    assert (dev.station, dev.name, dev.zones) == (fleet["a"], "Cụm loa thôn Đoài", ["thon-doai"])
    assert len(done.token) >= 43  # 32 random bytes, urlsafe
    stored = Device.objects.get(pk=dev.pk)
    assert done.token not in stored.token_hash and stored.token_hash == service.digest(done.token)
    assert service.authenticate(done.token) == dev
    assert not EnrollCode.objects.filter(code_hash__contains=code).exists()
    with pytest.raises(service.Refused, match="đã được dùng") as used:
        service.enroll(code)
    assert used.value.status == 403
    late = service.create_enroll_code(fleet["a"], "Cụm loa thôn Đông", ["thon-dong"], hours=1)
    EnrollCode.objects.filter(device__isnull=True).update(
        expires_at=service.now() - timedelta(seconds=1))
    with pytest.raises(service.Refused, match="hết hạn"):
        service.enroll(late)
    with pytest.raises(service.Refused, match="không đúng"):
        service.enroll("AAAA-BBBB-CCCC")
    answer = service.enroll_answer(done)
    assert answer["station"] == {"slug": "xa-ba-vi", "name": "Đài xã Ba Vì"}
    assert answer["mqtt"] is None  # no broker on this server: devices poll


def test_a_revoked_token_no_longer_authenticates(fleet):
    from loa.console.fleet import service

    done = enrolled(fleet["a"])
    service.revoke_device(done.device.id)
    assert service.authenticate(done.token) is None
    with pytest.raises(LoaError, match="không có cụm loa mã 'd-0000000000'"):
        service.revoke_device("d-0000000000")


def test_plays_are_stored_once_per_device_and_play_key(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Play

    a, b = enrolled(fleet["a"]).device, enrolled(fleet["b"], "Cụm loa thôn Bắc").device
    rows = [play_row(f"k{i}", at=f"2026-11-30T06:{i:02d}:00+07:00") for i in range(10)]
    assert service.ingest_plays(a, rows[:6]) == ([f"k{i}" for i in range(6)], 0)
    # a retry overlapping the first batch, with a row twice in itself
    keys, dup = service.ingest_plays(a, rows[4:] + [rows[9]])
    assert keys == [f"k{i}" for i in range(4, 10)] and dup == 2 + 1
    # another device's play keys are its own
    assert service.ingest_plays(b, rows[:3]) == (["k0", "k1", "k2"], 0)
    assert Play.objects.filter(device=a).count() == 10
    assert Play.objects.filter(device=b).count() == 3
    p = Play.objects.get(device=a, play_key="k3")
    assert p.at == datetime(2026, 11, 30, 6, 3, tzinfo=TZ)
    assert (p.station, p.zone, p.status, p.seconds) == (fleet["a"], "thon-doai", "played", 65.0)
    assert (p.plan, p.topic, p.title) == ("ba-vi-2026", "IV.1.a", "Phòng chống bão")
    assert p.row == rows[3]  # the whole upward row is kept


@pytest.mark.parametrize(("row", "message"), [
    ({"TrangThai": "played", "ThoiGianBatDau": "2026-11-30T06:00:00+07:00"}, "thiếu mã lượt phát"),
    ({"play_key": "k", "TrangThai": "playing", "ThoiGianBatDau": "2026-11-30T06:00:00+07:00"},
     "trạng thái 'playing' không hợp lệ"),
    ({"play_key": "k", "TrangThai": "played", "ThoiGianBatDau": "2026-11-30T06:00:00"},
     "thiếu múi giờ"),
    ({"play_key": "k", "TrangThai": "played", "ThoiGianBatDau": "hôm qua"}, "không phải ngày giờ"),
    ({"play_key": "k", "TrangThai": "played"}, "thiếu giờ phát"),
    ({"play_key": "k", "TrangThai": "played", "ThoiGianBatDau": "2026-11-30T06:00:00+07:00",
      "TieuDe": "x" * 501}, "tiêu đề dài quá 500"),
    ({"play_key": "k", "TrangThai": "played", "ThoiGianBatDau": "2026-11-30T06:00:00+07:00",
      "TomTat": "x" * 20000}, "lớn quá 16 KB"),
    ("not a row", "không phải một đối tượng JSON"),
])
def test_a_bad_row_refuses_the_whole_batch_in_vietnamese(fleet, row, message):
    from loa.console.fleet import service
    from loa.console.fleet.models import Play

    dev = enrolled(fleet["a"]).device
    with pytest.raises(service.Refused, match=message) as refused:
        service.ingest_plays(dev, [play_row("good"), row])
    assert "dòng 2" in refused.value.problems[0].message
    assert refused.value.status in (400, 413)
    assert not Play.objects.exists()  # nothing of a refused batch is kept


def test_a_batch_over_1000_rows_is_refused_413(fleet):
    from loa.console.fleet import service

    dev = enrolled(fleet["a"]).device
    with pytest.raises(service.Refused, match="tối đa 1000 dòng") as refused:
        service.ingest_plays(dev, [play_row(f"k{i}") for i in range(1001)])
    assert refused.value.status == 413


def test_a_heartbeat_updates_the_device_and_history_stays_bounded(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Device, Heartbeat

    dev = enrolled(fleet["a"]).device
    old = Heartbeat.objects.create(device=dev, received_at=service.now() - timedelta(days=4),
                                   data={})
    recent = Heartbeat.objects.create(device=dev, data={},
                                      received_at=service.now() - timedelta(hours=20))
    answer = service.record_heartbeat(dev, {
        "at": "2026-11-30T20:00:00+07:00", "clock_trusted": False, "disk_free_mb": 812.5,
        "version": "0.15", "audio": "ok", "last_play": "2026-11-30T19:30:00+07:00",
        "unsent": 42, "signal_dbm": -71, "bundle": None})
    assert answer == {"bundle": None, "emergencies": 0}
    d = Device.objects.get(pk=dev.pk)
    assert (d.clock_trusted, d.unsent, d.version, d.audio, d.signal_dbm, d.disk_free_mb) == (
        False, 42, "0.15", "ok", -71, 812.5)
    assert d.last_play_at == datetime(2026, 11, 30, 19, 30, tzinfo=TZ)
    assert d.heartbeat_at is not None and d.last_heartbeat["unsent"] == 42
    assert not Heartbeat.objects.filter(pk=old.pk).exists()  # older than kept: pruned
    assert Heartbeat.objects.filter(device=dev).count() == 2  # the one of 20 h ago stays
    assert Heartbeat.objects.filter(pk=recent.pk).exists()
    with pytest.raises(service.Refused):
        service.record_heartbeat(dev, ["not", "an", "object"])


def test_an_emergency_reaches_the_chosen_stations_and_devices_and_acks_are_idempotent(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Delivery

    a1, a2 = enrolled(fleet["a"]).device, enrolled(fleet["a"], "Cụm loa thôn Bắc").device
    gone = enrolled(fleet["a"], "Cụm loa cũ").device
    service.revoke_device(gone.id)
    b1 = enrolled(fleet["b"]).device
    c1 = enrolled(fleet["c"]).device
    tinh = user("tinh", "admin")
    service.set_scope(tinh, province=fleet["bp"])
    e = service.send_emergency(tinh, "Bão số 3", "Bão số 3 sắp đổ bộ, người dân vào nơi an toàn.",
                               stations=[fleet["a"]], devices=[b1.id])
    assert sorted(e.deliveries.values_list("device_id", flat=True)) == sorted([a1.id, a2.id, b1.id])
    assert e.sent_at is None  # no bus in this process: `loa serve --mqtt` pushes it
    assert e.created_by_name == "tinh"
    payload = e.payload()
    assert payload["id"] == e.id and payload["zones"] == [] and payload["title"] == "Bão số 3"
    assert service.pending_emergencies(a1) == [payload]
    assert service.pending_emergencies(c1) == []
    t1 = datetime(2026, 11, 30, 20, 0, 1, tzinfo=TZ)
    assert service.record_ack(a1.id, e.id, "received", t1)
    assert service.record_ack(a1.id, e.id, "received", t1 + timedelta(seconds=9))  # again
    assert service.record_ack(a1.id, e.id, "started", "2026-11-30T20:00:02+07:00")
    assert service.record_ack(a1.id, e.id, "finished", t1 + timedelta(seconds=30), "xong")
    d = Delivery.objects.get(emergency=e, device=a1)
    assert (d.received_at, d.started_at, d.finished_at, d.detail) == (
        t1, t1 + timedelta(seconds=1), t1 + timedelta(seconds=30), "xong")
    assert d.received_recorded_at is not None
    assert service.pending_emergencies(a1) == []  # finished: not polled again
    assert service.record_heartbeat(a2, {})["emergencies"] == 1
    # a device cannot ack what it was not sent; unknown stages are refused
    assert not service.record_ack(c1.id, e.id, "received", t1)
    assert not service.record_ack(a1.id, e.id, "exploded", t1)
    assert not Delivery.objects.filter(device=c1).exists()
    with pytest.raises(LoaError, match="không có cụm loa nào nhận tin"):
        service.send_emergency(None, "Bão", "Bão", devices=[gone.id])


def test_acks_in_a_batch_follow_the_same_rules(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Delivery

    devs = [enrolled(fleet["a"], f"Cụm loa {i}").device for i in range(3)]
    stranger = enrolled(fleet["c"]).device
    e = service.send_emergency(None, "Bão", "Bão số 3", stations=[fleet["a"]])
    t = datetime(2026, 11, 30, 20, 0, 1, tzinfo=TZ)
    later = t + timedelta(seconds=5)
    Ack = service.Ack
    matched = service.record_acks([
        Ack(devs[0].id, e.id, "received", t), Ack(devs[0].id, e.id, "received", later),
        Ack(devs[1].id, e.id, "received", t.isoformat()), Ack(devs[1].id, e.id, "failed", later,
                                                               "loa hỏng"),
        Ack(stranger.id, e.id, "received", t), Ack(devs[2].id, e.id, "sung", t),
        Ack(devs[2].id, "e-none", "received", t)])
    assert matched == 4
    rows = {d.device_id: d for d in Delivery.objects.filter(emergency=e)}
    assert rows[devs[0].id].received_at == t  # the first time wins
    assert (rows[devs[1].id].failed_at, rows[devs[1].id].detail) == (later, "loa hỏng")
    assert rows[devs[2].id].received_at is None
    assert not Delivery.objects.filter(device=stranger).exists()
    assert service.ack_from_mqtt(devs[2].id, ["x"]) is None
    a = service.ack_from_mqtt(devs[2].id, {"id": e.id, "stage": "received", "at": None})
    assert service.record_acks([a]) == 1
    d = Delivery.objects.get(emergency=e, device=devs[2])
    assert d.received_at == d.received_recorded_at  # no time from the device: when recorded


def test_publish_carries_the_recordings_and_approved_versions_as_loa_airs_them(fleet, tmp_path):
    """A recorded bulletin's produced clip and each approved recorded version go in the
    bundle, bound to their approvals; a version not approved, a text-only version and a
    version whose recording changed after approval do not (the Vietnamese one airs)."""
    import yaml

    from fleet.test_player_faults import _speech, recorded_schedule
    from loa.console.fleet import service
    from loa.script.bulletin import load_bulletins, version_hash
    from loa.yamlio import write_yaml

    at = datetime.now(TZ).replace(microsecond=0) + timedelta(hours=2)
    path = recorded_schedule(tmp_path / "s", at)
    bfile = path.parent / "bulletins.yaml"
    doc = yaml.safe_load(bfile.read_text("utf-8"))
    versions = doc["bulletins"][0]["versions"]
    _speech(path.parent / "ghi-am" / "tay.wav", "Tày đọc thử")
    versions["tyz"] = {"audio": "ghi-am/tay.wav", "status": "pending"}
    versions["ium"] = {"text": "Lời dịch tiếng Dao", "status": "approved",  # no reader yet
                       "approved_hash": version_hash("ium", "Lời dịch tiếng Dao", None)}
    write_yaml(bfile, doc)
    b = load_bulletins(bfile).get("IV.1")

    bundle, warnings = service.publish(fleet["a"], path)
    assert not any("tiếng Mông" in w for w in warnings), warnings
    clips = {(c["bulletin"], c["lang"]): c["text_sha256"] for c in bundle.manifest["clips"]}
    assert clips == {("ba-vi-2026/IV.1", "vi"): b.approved_hash,
                     ("ba-vi-2026/IV.1", "hmn"): b.versions["hmn"].approved_hash}
    assert "ghi-am/IV.1.wav" not in bundle.manifest["files"]
    again, _ = service.publish(fleet["a"], path)  # produced once: the same bundle
    assert again.etag == bundle.etag

    # the translator's file replaced after approval: that version no longer airs
    _speech(path.parent / "ghi-am" / "IV.1-hmn.wav", "một bản ghi khác")
    changed, warnings = service.publish(fleet["a"], path)
    assert {c["lang"] for c in changed.manifest["clips"]} == {"vi"}
    assert any(w.startswith("vùng Thôn 1 nghe tiếng Mông: 1 bản tin") and "tiếng Việt" in w
               for w in warnings), warnings
