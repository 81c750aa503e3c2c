"""The server role on a real PostgreSQL: a real `loa serve --database postgresql://...`
process, `loa fleet` commands on the same database, devices talking HTTP to it."""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import io
import re
import shutil
import socket
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from helpers import wait_for
from services import free_port

from fleet.server_rig import REPO, play_row, serve, sql

PASSWORD = "Loa-kiem-thu-2026"


@pytest.fixture
def rig(pg_db, tmp_path, fake_google):
    yield from serve(pg_db, tmp_path / "server",
                     's.add_province("binh-phuoc", "Bình Phước")\n'
                     's.add_station("xa-ba-vi", "Đài xã Ba Vì", "binh-phuoc")\n'
                     's.add_station("xa-tan-lap", "Đài xã Tân Lập", "binh-phuoc")\n',
                     env_extra={"LOA_GTTS_ENDPOINT": fake_google.endpoint})


def test_publish_enroll_bundle_clips_plays_emergency_on_postgresql(rig, tmp_path):
    added = rig.fleet("station", "add", "xa-moi", "--name", "Đài xã Mới", "--province",
                      "binh-phuoc")
    assert added.returncode == 0 and "Đã thêm đài Đài xã Mới (xa-moi), thuộc Bình Phước" in (
        added.stdout)
    twice = rig.fleet("station", "add", "xa-moi", "--name", "Đài xã Mới")
    assert twice.returncode == 2 and "đã có đài mã 'xa-moi'" in twice.stderr
    listed = rig.fleet("stations")
    assert "Đài xã Tân Lập" in listed.stdout and "Bình Phước" in listed.stdout
    station = tmp_path / "lich"
    shutil.copytree(REPO / "schedules", station)
    pub = rig.fleet("station", "publish", "xa-ba-vi", str(station / "ba-vi.yaml"))
    assert pub.returncode == 0, pub.stderr
    assert "Đã gửi gói phát cho Đài xã Ba Vì" in pub.stdout
    # a second station with the same schedule file under another name
    other = tmp_path / "lich2"
    shutil.copytree(REPO / "schedules", other)
    (other / "ba-vi.yaml").rename(other / "tan-lap.yaml")
    assert rig.fleet("station", "publish", "xa-tan-lap", str(other / "tan-lap.yaml")).returncode == 0

    a = rig.enroll(rig.code("xa-ba-vi", "Cụm loa thôn Đoài", "thon-doai"))
    b = rig.enroll(rig.code("xa-tan-lap", "Cụm loa thôn Bắc", "thon-bac"))
    assert a["station"] == {"slug": "xa-ba-vi", "name": "Đài xã Ba Vì"} and a["mqtt"] is None
    listed = rig.fleet("devices")
    assert "Cụm loa thôn Đoài" in listed.stdout and a["device"] in listed.stdout

    r = rig.call("GET", "/api/v1/bundle", a["token"])
    assert r.status == 200
    doc = r.json
    assert doc["schedule"] == "ba-vi.yaml"
    assert set(doc["files"]) == {"ba-vi.yaml", "bulletins/ba-vi-2026.yaml"}
    assert doc["files"]["ba-vi.yaml"] == (station / "ba-vi.yaml").read_text(encoding="utf-8")
    assert doc["clips"] and all(c["lang"] == "vi" for c in doc["clips"])
    assert rig.call("GET", "/api/v1/bundle", a["token"],
                    headers={"If-None-Match": r.headers["ETag"]}).status == 304
    for c in doc["clips"]:
        got = rig.call("GET", f"/api/v1/clips/{c['sha256']}", a["token"])
        assert got.status == 200 and got.headers["Content-Type"] == "audio/wav"
        assert len(got.body) == c["bytes"] and got.body[:4] == b"RIFF"
        assert hashlib.sha256(got.body).hexdigest() == c["sha256"]
    # B's station has the same clips (same bulletins): it may fetch them; a clip of no
    # bundle of B's station is refused
    doc_b = rig.call("GET", "/api/v1/bundle", b["token"]).json
    assert doc_b["schedule"] == "tan-lap.yaml" and doc_b["version"] != doc["version"]
    assert rig.call("GET", "/api/v1/clips/" + "ab" * 32, b["token"]).status == 404

    # plays: idempotent per device, each device its own
    rows = [play_row(f"p{i}", at=f"2026-11-30T06:{i:02d}:00+07:00") for i in range(50)]
    first = rig.call("POST", "/api/v1/plays", a["token"], {"rows": rows[:30]}).json
    again = rig.call("POST", "/api/v1/plays", a["token"], {"rows": rows}).json
    assert (first["duplicates"], again["duplicates"]) == (0, 30)
    assert again["accepted"] == [f"p{i}" for i in range(50)]
    assert rig.call("POST", "/api/v1/plays", b["token"], {"rows": rows[:5]}).json[
        "duplicates"] == 0
    assert sql(rig, "SELECT d.name, count(*), count(DISTINCT p.play_key) FROM fleet_play p "
                    "JOIN fleet_device d ON d.id = p.device_id GROUP BY d.name ORDER BY 1") == [
        ("Cụm loa thôn Bắc", 5, 5), ("Cụm loa thôn Đoài", 50, 50)]
    at = sql(rig, "SELECT at FROM fleet_play WHERE play_key = 'p7' AND device_id = %s",
             a["device"])[0][0]
    assert at == datetime(2026, 11, 30, 6, 7, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))

    hb = rig.call("POST", "/api/v1/heartbeat", a["token"], {
        "at": "2026-11-30T20:00:00+07:00", "clock_trusted": True, "disk_free_mb": 900.0,
        "version": "0.15", "audio": "ok", "last_play": None, "unsent": 0, "signal_dbm": None,
        "bundle": doc["version"]})
    assert hb.json == {"bundle": doc["version"], "emergencies": 0}

    # an emergency from the CLI reaches A by polling; B cannot ack it; A's acks are kept
    sent = rig.fleet("emergency", "Bão số 3 sắp đổ bộ.", "--title", "Bão số 3",
                     "--station", "xa-ba-vi")
    assert sent.returncode == 0 and "tới 1 cụm loa" in sent.stdout, sent.stderr
    pending = rig.call("GET", "/api/v1/emergencies", a["token"]).json["emergencies"]
    assert [e["title"] for e in pending] == ["Bão số 3"] and pending[0]["zones"] == []
    eid = pending[0]["id"]
    assert rig.call("GET", "/api/v1/emergencies", b["token"]).json == {"emergencies": []}
    ack = {"stage": "received", "at": "2026-11-30T20:00:01+07:00", "detail": ""}
    assert rig.call("POST", f"/api/v1/emergencies/{eid}/ack", b["token"], ack).status == 404
    for stage in ("received", "received", "started", "finished"):
        assert rig.call("POST", f"/api/v1/emergencies/{eid}/ack", a["token"],
                        {**ack, "stage": stage}).status == 200
    assert sql(rig, "SELECT device_id, received_at IS NOT NULL, finished_at IS NOT NULL "
                    "FROM fleet_delivery") == [(a["device"], True, True)]
    assert rig.call("GET", "/api/v1/emergencies", a["token"]).json == {"emergencies": []}

    # revoked from the CLI: refused at the very next request
    rv = rig.fleet("revoke", a["device"])
    assert rv.returncode == 0 and "Đã thu hồi Cụm loa thôn Đoài (Đài xã Ba Vì)" in rv.stdout
    gone = rig.call("GET", "/api/v1/bundle", a["token"])
    assert gone.status == 401 and "thu hồi" in gone.json["message"]
    assert rig.call("GET", "/api/v1/bundle", b["token"]).status == 200


def test_bad_requests_get_vietnamese_json_not_a_500_on_postgresql(rig):
    a = rig.enroll(rig.code("xa-ba-vi", "Cụm loa thôn Đoài", "thon-doai"))
    bad = rig.call("POST", "/api/v1/plays", a["token"], raw=b"\xff\xfe not json")
    assert bad.status == 400 and bad.json["error"] == "bad_json"
    big = rig.call("POST", "/api/v1/plays", a["token"],
                   {"rows": [play_row(f"k{i}") for i in range(1001)]})
    assert big.status == 413 and "tối đa 1000 dòng" in big.json["message"]
    naive = rig.call("POST", "/api/v1/plays", a["token"],
                     {"rows": [{**play_row("k"), "ThoiGianBatDau": "2026-11-30T06:00:00"}]})
    assert naive.status == 400 and "thiếu múi giờ" in naive.json["message"]
    assert rig.call("POST", "/api/v1/enroll", body={"code": "sai"}).json["error"] == "bad_code"
    # what PostgreSQL cannot store is refused up front, never a 500
    nul = rig.call("POST", "/api/v1/plays", a["token"], {"rows": [{**play_row("k"),
                                                                 "TieuDe": "a\x00b"}]})
    assert nul.status == 400 and "NUL" in nul.json["message"]
    half = rig.call("POST", "/api/v1/heartbeat", a["token"],
                    raw=b'{"audio": "\\ud800 loa"}')
    assert half.status == 400 and "surrogate" in half.json["message"]
    pair = rig.call("POST", "/api/v1/heartbeat", a["token"], body={"audio": "loa 🔊"})
    assert pair.status == 200
    assert sql(rig, "SELECT count(*) FROM fleet_play") == [(0,)]


def test_server_killed_during_uploads_then_resent_keeps_every_row_exactly_once(rig):
    """kill -9 while devices upload (one request half sent, others in flight), restart,
    resend everything: each play key is stored once, none lost."""
    devs = [rig.enroll(c) for c in rig.codes("xa-ba-vi", [f"Cụm loa {i}" for i in range(4)])]
    batches = {d["device"]: [[play_row(f"{d['device']}-{b:03d}-{i:03d}",
                                       at=f"2026-11-{1 + b % 28:02d}T06:{i % 60:02d}:00+07:00")
                              for i in range(500)] for b in range(8)] for d in devs}
    confirmed: dict[str, set[int]] = {d["device"]: set() for d in devs}
    failures = []
    enough = threading.Event()

    def upload(dev):
        for n, rows in enumerate(batches[dev["device"]]):
            try:
                r = rig.call("POST", "/api/v1/plays", dev["token"], {"rows": rows}, timeout=30)
            except (OSError, http.client.HTTPException) as exc:  # the server died under it
                failures.append(exc)
                return
            assert r.status == 200, r.body
            confirmed[dev["device"]].add(n)
            if sum(map(len, confirmed.values())) >= 6:
                enough.set()

    # a request whose body is half sent when the server dies
    half = socket.create_connection(("127.0.0.1", rig.port))
    body = ('{"rows": [' + ",".join(
        __import__("json").dumps(play_row(f"half-{i}")) for i in range(500)) + "]}").encode()
    half.sendall((f"POST /api/v1/plays HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  f"{devs[0]['token']}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:len(body) // 2])
    with ThreadPoolExecutor(len(devs)) as pool:
        running = [pool.submit(upload, d) for d in devs]
        assert enough.wait(120)
        rig.kill9()
        for f in running:
            f.result()
    half.close()
    assert failures, "the kill must interrupt the uploads"
    done_before = sum(map(len, confirmed.values()))
    assert done_before < 32  # the kill came mid-upload
    # a statement in flight when the server died may still commit (PostgreSQL notices the
    # lost client only when it answers): count once the dead server's sessions are gone
    assert wait_for(lambda: sql(rig, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND pid <> pg_backend_pid() AND "
                                     "backend_type = 'client backend'") == [(0,)], 120)
    stored_before = sql(rig, "SELECT count(*) FROM fleet_play")[0][0]
    rig.start()  # same port, same database
    assert stored_before >= done_before * 500  # every confirmed batch survived the kill
    dup_total = 0
    for d in devs:  # the devices resend every batch they have not seen confirmed
        for n, rows in enumerate(batches[d["device"]]):
            if n in confirmed[d["device"]]:
                continue
            r = rig.call("POST", "/api/v1/plays", d["token"], {"rows": rows})
            assert r.status == 200 and len(r.json["accepted"]) == 500
            dup_total += r.json["duplicates"]
    # ... and everything once more, as a device that lost its outbox state would
    for d in devs:
        for rows in batches[d["device"]]:
            assert rig.call("POST", "/api/v1/plays", d["token"],
                            {"rows": rows}).json["duplicates"] == 500
    # rows of unconfirmed batches that were committed before the kill: recognised, not re-added
    assert dup_total == stored_before - done_before * 500
    total, distinct = sql(rig, "SELECT count(*), count(DISTINCT (device_id, play_key)) "
                               "FROM fleet_play")[0]
    assert total == distinct == 4 * 8 * 500
    assert sql(rig, "SELECT count(*) FROM fleet_play WHERE play_key LIKE 'half-%%'") == [(0,)]
    # the daily rollup (concurrent uploads, a kill, resends) counted each stored row once
    assert sql(rig, "SELECT sum(plays) FROM fleet_play_daily") == [(4 * 8 * 500,)]
    assert sql(rig, "SELECT day, sum(plays) FROM fleet_play_daily GROUP BY 1 EXCEPT "
                    "SELECT (at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date, count(*) FROM fleet_play "
                    "GROUP BY 1") == []


def test_the_console_runs_on_postgresql(rig):
    """migrate + log in + pages over HTTP on `loa serve --database` with no schedule."""
    add = rig.loa("users", "add", "quantri", "--role", "admin", "--name", "Phạm Thị Dung",
                  "--password-stdin", "--database", rig.db_url, stdin=PASSWORD + "\n")
    assert add.returncode == 0, add.stderr
    assert sql(rig, "SELECT username FROM auth_user") == [("quantri",)]
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = browser.open(rig.url + "/dang-nhap/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "quantri",
                                   "password": PASSWORD}).encode()
    req = urllib.request.Request(rig.url + "/dang-nhap/", data=data,
                                 headers={"Referer": rig.url + "/dang-nhap/"})
    with browser.open(req) as resp:  # follows the redirect to the overview
        page = resp.read().decode()
        assert resp.status == 200 and "/dang-nhap/" not in resp.url
    assert "Phạm Thị Dung" in page
    # a station page with no station schedule on this server explains itself
    assert "Máy chủ chưa có lịch phát riêng" in page and "Máy chủ truyền thanh" in page
    users = browser.open(rig.url + "/nguoi-dung/").read().decode()
    assert "quantri" in users and "Quản trị" in users
    assert sql(rig, "SELECT count(*) FROM django_session")[0][0] == 1
    assert sql(rig, "SELECT count(*) FROM accounts_auditentry")[0][0] >= 1


def test_a_province_account_lands_on_its_stations_and_reports_from_the_rollup(rig):
    """`loa serve --database` (no schedule): a province account logs in to /dai/; the year
    report (page and XLSX) counts each uploaded play once, read from the daily rollup."""
    from openpyxl import load_workbook

    add = rig.loa("users", "add", "tinh", "--role", "leader", "--name", "Lê Văn Tỉnh",
                  "--password-stdin", "--database", rig.db_url, stdin=PASSWORD + "\n")
    assert add.returncode == 0, add.stderr
    assert rig.fleet("scope", "tinh", "--province", "binh-phuoc").returncode == 0
    dev = rig.enroll(rig.code("xa-ba-vi", "Cụm loa thôn Đoài"))
    statuses = ["played"] * 5 + ["late", "missed", "failed"]
    rows = [play_row(f"k-{i}", at=f"2026-0{1 + i % 8}-1{i % 10}T06:00:00+07:00",
                     status=statuses[i % 8]) for i in range(40)]
    for _ in range(2):  # a retried upload
        assert rig.call("POST", "/api/v1/plays", dev["token"], {"rows": rows}).status == 200
    assert sql(rig, "SELECT sum(plays) FROM fleet_play_daily") == [(40,)]
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = browser.open(rig.url + "/dang-nhap/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "tinh",
                                   "password": PASSWORD}).encode()
    req = urllib.request.Request(rig.url + "/dang-nhap/", data=data,
                                 headers={"Referer": rig.url + "/dang-nhap/"})
    with browser.open(req) as resp:
        assert resp.url == rig.url + "/dai/"
        page = resp.read().decode()
    assert "Đài xã Ba Vì" in page and "Đài xã Tân Lập" in page
    # the report must come from the rollup: change the plays behind its back (triggers off)
    with rig.pg[0].connect(rig.pg[1]) as conn:
        conn.execute("ALTER TABLE fleet_play DISABLE TRIGGER USER")
        conn.execute("UPDATE fleet_play SET status = 'skipped'")
    year = rig.url + "/bao-cao/?ky=nam&nam=2026"
    report = browser.open(year).read().decode()
    assert "<td>Đài xã Ba Vì</td><td>30</td><td>5</td><td>5</td>" in report, report
    wb = load_workbook(io.BytesIO(browser.open(year + "&tai=xlsx").read()))
    cells = {r[0]: r[1:4] for r in wb["Theo xã"].iter_rows(values_only=True) if r and r[0]}
    assert cells["Đài xã Ba Vì"] == (30, 5, 5) and cells["Đài xã Tân Lập"] == (0, 0, 0)


def test_serve_refuses_bad_setups_in_vietnamese(rig, tmp_path):
    none = rig.loa("serve", "--port", str(free_port()))
    assert none.returncode == 2 and "cần tệp lịch phát của đài" in none.stderr
    bad = rig.loa("serve", "--database", "mysql://x@y/z", "--port", str(free_port()))
    assert bad.returncode == 2 and "postgresql://người_dùng" in bad.stderr
    down = rig.loa("serve", "--database", f"postgresql://loa@127.0.0.1:{free_port()}/x",
                   "--port", str(free_port()))
    assert down.returncode == 2 and "không kết nối được cơ sở dữ liệu PostgreSQL" in down.stderr
    no_broker = rig.loa("serve", "--database", rig.db_url, "--mqtt",
                        f"mqtt://quantri:x@127.0.0.1:{free_port()}", "--port", str(free_port()))
    assert no_broker.returncode == 2
    assert "Không kết nối được máy chủ MQTT 127.0.0.1" in no_broker.stderr, no_broker.stderr
    alone = rig.loa("serve", str(tmp_path / "x.yaml"), "--mqtt", "mqtt://a:b@h:1")
    assert alone.returncode == 2 and "--mqtt chỉ dùng cho máy chủ tỉnh/xã" in alone.stderr
    assert "Traceback" not in bad.stderr + down.stderr + none.stderr + no_broker.stderr
