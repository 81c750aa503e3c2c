"""The device API through Django's test client (SQLite): the protocol of common.md,
isolation between devices, revoked tokens, rate limits and refusals in Vietnamese. The
same API on PostgreSQL through a real `loa serve` is in test_server_pg.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from fleet.server_rig import play_row

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_limits():
    """Rate limits live in process memory: each test starts with full buckets."""
    from loa.console.fleet import auth

    auth.reset_limits()
    yield
    auth.reset_limits()


def api_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)
    return [r for r in walk(get_resolver().url_patterns) if r.startswith("api/")]


class Device:
    """A device's view of the API: its token on every request."""

    def __init__(self, client: Client, answer: dict):
        self.client, self.answer = client, answer
        self.id, self.token = answer["device"], answer["token"]

    def get(self, path, **headers):
        return self.client.get(path, HTTP_AUTHORIZATION=f"Bearer {self.token}", **headers)

    def post(self, path, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
        return self.client.post(path, data=data, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Bearer {self.token}")


@pytest.fixture
def world(data_dir, tmp_path):
    """Two stations with a published bundle each (one clip each) and one device each."""
    from loa.console.fleet import service

    service.add_province("binh-phuoc", "Bình Phước")
    stations, devices, clips = {}, {}, {}
    client = Client()
    for slug, name, zone in (("xa-ba-vi", "Đài xã Ba Vì", "thon-doai"),
                             ("xa-tan-lap", "Đài xã Tân Lập", "thon-bac")):
        st = service.add_station(slug, name, "binh-phuoc")
        wav = tmp_path / f"{slug}.wav"
        wav.write_bytes(b"RIFF" + slug.encode() * 100)
        clip = service.store_clip(wav)
        service.save_bundle(st, "lich.yaml", {"lich.yaml": f"station: {name}\n",
                                              "bulletins/b.yaml": "bulletins: []\n"},
                            [{"bulletin": "kh/IV.1", "lang": "vi", "sha256": clip.sha256,
                              "bytes": clip.bytes, "text_sha256": "0" * 16}])
        code = service.create_enroll_code(st, f"Cụm loa {zone}", [zone])
        r = client.post("/api/v1/enroll", data=json.dumps({"code": code, "hostname": "pi",
                                                           "version": "1"}),
                        content_type="application/json")
        assert r.status_code == 201, r.content
        stations[slug], devices[slug], clips[slug] = st, Device(Client(), r.json()), clip
    return stations, devices, clips


def test_enroll_answers_the_protocol_and_a_code_is_one_time(world):
    from loa.console.fleet import service

    stations, devices, _ = world
    a = devices["xa-ba-vi"].answer
    assert set(a) == {"device", "token", "name", "station", "zones", "mqtt"}
    assert a["station"] == {"slug": "xa-ba-vi", "name": "Đài xã Ba Vì"}
    assert a["zones"] == ["thon-doai"] and a["name"] == "Cụm loa thon-doai"
    code = service.create_enroll_code(stations["xa-ba-vi"], "Cụm loa mới", [])
    c = Client()
    first = c.post("/api/v1/enroll", {"code": code}, content_type="application/json")
    again = c.post("/api/v1/enroll", {"code": code}, content_type="application/json")
    assert first.status_code == 201
    assert again.status_code == 403
    assert again.json() == {"error": "code_used",
                            "message": "mã đăng ký này đã được dùng; xin mã mới ở đài."}


def test_bundle_with_etag_and_304(world):
    _, devices, clips = world
    dev = devices["xa-ba-vi"]
    r = dev.get("/api/v1/bundle")
    assert r.status_code == 200
    doc = r.json()
    assert r["ETag"] == f'"{doc["version"]}"'
    assert doc["station"] == {"slug": "xa-ba-vi", "name": "Đài xã Ba Vì",
                              "tz": "Asia/Ho_Chi_Minh"}
    assert doc["schedule"] == "lich.yaml" and set(doc["files"]) == {"lich.yaml",
                                                                   "bulletins/b.yaml"}
    assert doc["clips"][0]["sha256"] == clips["xa-ba-vi"].sha256
    assert doc["zones"] == ["thon-doai"]
    assert dev.get("/api/v1/bundle", HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    assert dev.get("/api/v1/bundle", HTTP_IF_NONE_MATCH='"old"').status_code == 200


def test_a_device_cannot_read_or_write_another_devices_data(world):
    from loa.console.fleet import service
    from loa.console.fleet.models import Delivery, Play

    stations, devices, clips = world
    a, b = devices["xa-ba-vi"], devices["xa-tan-lap"]
    own = a.get(f"/api/v1/clips/{clips['xa-ba-vi'].sha256}")
    body = b"".join(own.streaming_content)
    assert own.status_code == 200 and own["Content-Type"] == "audio/wav"
    assert hashlib.sha256(body).hexdigest() == clips["xa-ba-vi"].sha256
    other = a.get(f"/api/v1/clips/{clips['xa-tan-lap'].sha256}")
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    assert a.get("/api/v1/clips/..%2F..%2Fconsole-secret.txt").status_code == 404
    # each device gets its own station's bundle
    assert b.get("/api/v1/bundle").json()["station"]["slug"] == "xa-tan-lap"
    # the same play key from two devices is two plays; each device only stores its own
    assert a.post("/api/v1/plays", {"rows": [play_row("k1")]}).json()["accepted"] == ["k1"]
    assert b.post("/api/v1/plays", {"rows": [play_row("k1")]}).json() == {
        "accepted": ["k1"], "duplicates": 0}
    assert Play.objects.filter(device_id=a.id).count() == 1
    assert Play.objects.filter(device_id=b.id, station=stations["xa-tan-lap"]).count() == 1
    # B's emergency: A does not see it and cannot ack it
    e = service.send_emergency(None, "Bão", "Bão số 3", stations=[stations["xa-tan-lap"]])
    assert a.get("/api/v1/emergencies").json() == {"emergencies": []}
    assert b.get("/api/v1/emergencies").json()["emergencies"][0]["id"] == e.id
    r = a.post(f"/api/v1/emergencies/{e.id}/ack", {"stage": "received",
                                                  "at": "2026-11-30T20:00:00+07:00"})
    assert r.status_code == 404 and "không có tin khẩn cấp này" in r.json()["message"]
    assert not Delivery.objects.filter(device_id=a.id).exists()
    ok = b.post(f"/api/v1/emergencies/{e.id}/ack", {"stage": "finished",
                                                   "at": "2026-11-30T20:00:30+07:00"})
    assert ok.status_code == 200
    assert b.get("/api/v1/emergencies").json() == {"emergencies": []}


def test_a_revoked_token_is_refused_at_once(world):
    from loa.console.fleet import service

    dev = world[1]["xa-ba-vi"]
    assert dev.get("/api/v1/bundle").status_code == 200
    service.revoke_device(dev.id)
    for r in (dev.get("/api/v1/bundle"), dev.post("/api/v1/plays", {"rows": []}),
              dev.post("/api/v1/heartbeat", {}), dev.get("/api/v1/emergencies")):
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized" and "thu hồi" in r.json()["message"]


def test_every_api_route_refuses_a_missing_or_wrong_token(world):
    c = Client()
    routes = [r.replace("<str:sha256>", "0" * 64).replace("<str:emergency_id>", "e-1")
              for r in api_routes() if r != "api/v1/enroll"]
    assert len(routes) == 6
    for route in routes:
        for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer not-a-token"},
                        {"HTTP_AUTHORIZATION": "Basic YTpi"}):
            r = (c.get if route in ("api/v1/bundle", "api/v1/emergencies")
                 or "clips" in route else c.post)("/" + route, **headers)
            assert r.status_code == 401, (route, headers, r.status_code)
            assert r.json()["error"] == "unauthorized"


def test_bad_json_and_oversized_batches_are_refused_in_vietnamese(world):
    from loa.console.fleet import auth

    dev = world[1]["xa-ba-vi"]
    bad = dev.post("/api/v1/plays", raw="{rows: [")
    assert bad.status_code == 400
    assert bad.json() == {"error": "bad_json",
                          "message": "nội dung gửi lên không phải JSON hợp lệ (UTF-8)."}
    assert dev.post("/api/v1/plays", {"rows": "x"}).status_code == 400
    assert dev.post("/api/v1/plays", {"no": "rows"}).json()["error"] == "bad_request"
    many = dev.post("/api/v1/plays", {"rows": [play_row(f"k{i}") for i in range(1001)]})
    assert many.status_code == 413 and "tối đa 1000 dòng" in many.json()["message"]
    huge = dev.post("/api/v1/plays", raw=" " * (auth.MAX_BODY + 1))
    assert huge.status_code == 413 and "lớn quá 4 MB" in huge.json()["message"]
    row = dev.post("/api/v1/plays", {"rows": [play_row("a"), {**play_row("b"),
                                                               "TrangThai": "vui"}]})
    assert row.status_code == 400
    assert row.json()["message"].startswith("dòng 2: trạng thái 'vui' không hợp lệ")
    ack = dev.post("/api/v1/emergencies/e-x/ack", {"stage": "danced"})
    assert ack.status_code == 400 and "giai đoạn" in ack.json()["message"]
    assert dev.post("/api/v1/heartbeat", raw="[1,").status_code == 400


def test_upload_answer_counts_duplicates(world):
    dev = world[1]["xa-ba-vi"]
    rows = [play_row(f"k{i}") for i in range(5)]
    assert dev.post("/api/v1/plays", {"rows": rows[:3]}).json() == {
        "accepted": ["k0", "k1", "k2"], "duplicates": 0}
    assert dev.post("/api/v1/plays", {"rows": rows}).json() == {
        "accepted": ["k0", "k1", "k2", "k3", "k4"], "duplicates": 3}


def test_heartbeat_answers_the_current_bundle_and_pending_emergencies(world):
    from loa.console.fleet import service

    stations, devices, _ = world
    dev = devices["xa-ba-vi"]
    etag = dev.get("/api/v1/bundle").json()["version"]
    service.send_emergency(None, "Lũ", "Lũ về", stations=[stations["xa-ba-vi"]])
    r = dev.post("/api/v1/heartbeat", {"at": "2026-11-30T20:00:00+07:00", "clock_trusted": True,
                                       "disk_free_mb": 900.0, "version": "0.15",
                                       "audio": "ok", "last_play": None, "unsent": 0,
                                       "signal_dbm": None, "bundle": etag})
    assert r.status_code == 200 and r.json() == {"bundle": etag, "emergencies": 1}


def test_too_many_requests_for_one_token_get_429_with_retry_after(world, settings):
    from loa.console.fleet import auth

    settings.LOA_API_RATE_PER_MIN, settings.LOA_API_BURST = 60, 5
    auth.reset_limits()
    try:
        a, b = world[1]["xa-ba-vi"], world[1]["xa-tan-lap"]
        codes = [a.get("/api/v1/emergencies").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        r = a.get("/api/v1/emergencies")
        assert r.status_code == 429 and int(r["Retry-After"]) >= 1
        assert r.json()["error"] == "rate_limited"
        assert b.get("/api/v1/emergencies").status_code == 200  # per token
    finally:
        del settings.LOA_API_RATE_PER_MIN, settings.LOA_API_BURST
        auth.reset_limits()


def test_guessing_enroll_codes_is_slowed_but_right_codes_are_not(world):
    from loa.console.fleet import service

    stations = world[0]
    c = Client()
    codes = [service.create_enroll_code(stations["xa-ba-vi"], f"Cụm {i}", []) for i in range(15)]
    for code in codes:  # a technician enrolling a commune's clusters in a row
        assert c.post("/api/v1/enroll", {"code": code},
                      content_type="application/json").status_code == 201
    wrong = [c.post("/api/v1/enroll", {"code": f"AAAA-BBBB-{i:04d}"},
                    content_type="application/json").status_code for i in range(12)]
    assert wrong[:10] == [403] * 10 and wrong[10:] == [429, 429]
    late = service.create_enroll_code(stations["xa-ba-vi"], "Cụm muộn", [])
    r = c.post("/api/v1/enroll", {"code": late}, content_type="application/json")
    assert r.status_code == 429 and "Retry-After" in r
