"""Province and commune pages (Django test client, SQLite): scope on every page, enroll
codes and revoking, emergencies with their acknowledgements, reports across stations
opened with openpyxl and python-docx."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakeclock import FakeClock

from fleet.server_rig import play_row

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=TZ)  # a Monday: both sessions run
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Loa-kiem-thu-2026"
pytestmark = pytest.mark.django_db


def make_user(username, *roles, full_name=""):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    u = get_user_model().objects.create_user(username, password=PASSWORD, first_name=full_name)
    u.groups.set([Group.objects.get_or_create(name=r)[0] for r in roles])
    return u


def client_for(user, csrf=False):
    from django.test import Client

    c = Client(enforce_csrf_checks=csrf)
    c.force_login(user)
    return c


def bundle_files() -> dict[str, str]:
    return {"ba-vi.yaml": (REPO / "schedules" / "ba-vi.yaml").read_text(encoding="utf-8"),
            "bulletins/ba-vi-2026.yaml":
                (REPO / "schedules" / "bulletins" / "ba-vi-2026.yaml").read_text(encoding="utf-8")}


@pytest.fixture
def fleet(data_dir, settings):
    """Bình Phước with two communes (Ba Vì has a schedule and two clusters, one down),
    Hà Nội with one; a province admin, a commune admin, a commune editor, an outsider."""
    from loa.console.fleet import service

    settings.LOA_SCHEDULE = ""
    settings.LOA_CLOCK = FakeClock(NOW)
    bp = service.add_province("binh-phuoc", "Bình Phước")
    service.add_province("ha-noi", "Hà Nội")
    a = service.add_station("xa-ba-vi", "Đài xã Ba Vì", "binh-phuoc")
    b = service.add_station("xa-tan-lap", "Đài xã Tân Lập", "binh-phuoc")
    c = service.add_station("xa-dong-anh", "Đài xã Đông Anh", "ha-noi")
    service.save_bundle(a, "ba-vi.yaml", bundle_files(), [])
    doai = service.enroll(service.create_enroll_code(a, "Cụm loa thôn Đoài", ["toan-xa"]))
    van = service.enroll(service.create_enroll_code(a, "Cụm loa <Văn Hòa>", ["thon-van-hoa"]))
    lap = service.enroll(service.create_enroll_code(b, "Cụm loa Tân Lập", []))
    dong = service.enroll(service.create_enroll_code(c, "Cụm loa Đông Anh", []))
    current = service.current_bundle(a).etag
    service.record_heartbeat(doai.device, {"clock_trusted": True, "unsent": 3, "version": "1.4",
                                           "audio": "ok", "bundle": current, "signal_dbm": -71})
    service.record_heartbeat(van.device, {"clock_trusted": False, "unsent": 2, "version": "1.3",
                                          "audio": "không mở được thiết bị âm thanh",
                                          "bundle": "cu", "refused": 2})
    from loa.console.fleet.models import Device

    # Văn Hòa's last heartbeat was 10 minutes ago: down
    Device.objects.filter(pk=van.device.pk).update(heartbeat_at=NOW - timedelta(minutes=10))
    tinh, xa, bientap, khac, ngoai = (make_user("tinh", "admin", full_name="Hoàng Văn Tỉnh"),
                                      make_user("xa", "admin", full_name="Lê Thị Xã"),
                                      make_user("bientap", "editor"), make_user("khac", "admin"),
                                      make_user("ngoai", "admin"))
    service.set_scope(tinh, province=bp)
    service.set_scope(xa, station=a)
    service.set_scope(bientap, station=a)
    service.set_scope(khac, station=c)
    return {"bp": bp, "a": a, "b": b, "c": c, "doai": doai, "van": van, "lap": lap,
            "dong": dong, "tinh": tinh, "xa": xa, "bientap": bientap, "khac": khac,
            "ngoai": ngoai}


def test_stations_page_province_sees_its_communes_with_health_and_today(fleet):
    from loa.console.fleet import service
    from loa.station.calendar import preview
    from loa.station.core import load_station

    service.ingest_plays(fleet["doai"].device, [
        play_row("k1", "2026-11-30T06:30:00+07:00", zone="toan-xa", bulletin="ba-vi-2026/IV.1.a"),
        play_row("k2", "2026-11-30T06:31:00+07:00", "missed", zone="toan-xa"),
        play_row("k3", "2026-11-29T06:30:00+07:00", zone="toan-xa")])  # yesterday: not today
    service.ingest_plays(fleet["van"].device, [
        play_row("k1", "2026-11-30T06:30:00+07:00", "failed", zone="thon-van-hoa")])
    # what the schedule expects today, per zone, from loa's own preview
    st = load_station(REPO / "schedules" / "ba-vi.yaml")
    day = preview(st, NOW.replace(hour=0), NOW.replace(hour=0) + timedelta(days=1))
    per_zone = sum(len(s.occurrence.items) for s in day if "toan-xa" in s.occurrence.zones)
    assert per_zone > 0

    r = client_for(fleet["tinh"]).get("/dai/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Đài xã Ba Vì" in html and "Đài xã Tân Lập" in html
    assert "Đài xã Đông Anh" not in html  # another province
    rows = {row.station.slug: row for row in r.context["rows"]}
    bavi = rows["xa-ba-vi"]
    assert (bavi.up, bavi.down, bavi.untrusted, bavi.unsent) == (1, 1, 1, 5)
    assert (bavi.today.aired, bavi.today.missed, bavi.today.failed) == (1, 1, 1)
    assert bavi.today.expected == 2 * per_zone  # one cluster per zone, both zones in both sessions
    assert "1 hoạt động" in html and "1 mất liên lạc" in html and "1 cụm chưa đúng giờ" in html
    assert "1 / " + str(2 * per_zone) in html
    assert bavi.last_heartbeat == NOW
    assert "10:00 30/11/2026" in html  # the station's own time
    tl = rows["xa-tan-lap"]
    assert (tl.up, tl.down, tl.has_bundle) == (0, 1, False) and "chưa có lịch phát" in html
    # the menu shows the fleet pages to a fleet account
    assert 'href="/bao-cao/"' in html


def test_a_commune_account_sees_only_its_own_station(fleet):
    c = client_for(fleet["xa"])
    r = c.get("/dai/")
    assert r.status_code == 200
    assert [row.station.slug for row in r.context["rows"]] == ["xa-ba-vi"]
    assert "Tân Lập" not in r.content.decode()
    assert c.get("/dai/xa-ba-vi/").status_code == 200
    for url in ("/dai/xa-tan-lap/", "/dai/xa-dong-anh/", "/dai/khong-co/",
                f"/dai/xa-tan-lap/cum-loa/{fleet['lap'].device.pk}/thu-hoi/",
                # a device of another station under the commune's own slug
                f"/dai/xa-ba-vi/cum-loa/{fleet['lap'].device.pk}/thu-hoi/"):
        assert c.get(url).status_code == 404, url
    assert c.post("/dai/xa-tan-lap/ma-dang-ky/", {"name": "x", "hours": 1}).status_code == 404
    # the province account does see Tân Lập, but not Hà Nội's station
    p = client_for(fleet["tinh"])
    assert p.get("/dai/xa-tan-lap/").status_code == 200
    assert p.get("/dai/xa-dong-anh/").status_code == 404


def test_an_account_outside_the_fleet_gets_404_and_no_menu(fleet):
    c = client_for(fleet["ngoai"])
    for url in ("/dai/", "/tin-khan-cap/", "/bao-cao/"):
        assert c.get(url).status_code == 404, url
    r = c.get("/dai/")
    assert 'href="/dai/"' not in r.content.decode()


def test_station_page_lists_clusters_escaped_with_their_state(fleet):
    r = client_for(fleet["xa"]).get("/dai/xa-ba-vi/")
    html = r.content.decode()
    assert "Cụm loa &lt;Văn Hòa&gt;" in html and "<Văn Hòa>" not in html
    assert "Toàn xã" in html  # the cluster's zone by its name
    assert "không mở được thiết bị âm thanh" in html
    assert "-71 dBm" in html and "1.4" in html
    assert "chưa nhận lịch mới" in html and "mới nhất" in html
    assert "chưa đúng giờ" in html and "mất liên lạc" in html
    # rows the server refused, kept on the cluster: said once, on that cluster only
    assert html.count("Bị máy chủ từ chối") == 1 and "2 lượt</span>" in html
    assert "Tạo mã đăng ký" in html  # an admin
    assert "Tạo mã đăng ký" not in client_for(fleet["bientap"]).get("/dai/xa-ba-vi/").content.decode()


def test_an_admin_makes_an_enroll_code_shown_once_that_enrolls_a_cluster(fleet):
    from loa.console.fleet import service

    c = client_for(fleet["xa"])
    r = c.post("/dai/xa-ba-vi/ma-dang-ky/", {"name": "Cụm loa thôn Mới", "zones": "toan-xa",
                                             "hours": 24})
    assert r.status_code == 200
    code = r.context["code"]["code"]
    assert code in r.content.decode() and r["Cache-Control"] == "no-store"
    assert code not in c.get("/dai/xa-ba-vi/").content.decode()  # only once
    dev = service.enroll(code, "pi-moi", "1.4").device
    assert (dev.name, dev.station.slug, dev.zones) == ("Cụm loa thôn Mới", "xa-ba-vi", ["toan-xa"])
    # bad input: a Vietnamese message, no code
    r = c.post("/dai/xa-ba-vi/ma-dang-ky/", {"name": "", "hours": 9999})
    assert r.status_code == 400 and r.context["code"] is None
    assert "cần tên cụm loa" in r.content.decode() and "tối đa 720 giờ" in r.content.decode()
    # zones are ticked by name from the station's schedule; a zone it does not have is refused
    page = c.get("/dai/xa-ba-vi/").content.decode()
    assert "Thôn Văn Hòa" in page and 'value="thon-van-hoa"' in page
    r = c.post("/dai/xa-ba-vi/ma-dang-ky/", {"name": "X", "zones": "thon-khac", "hours": 1})
    assert r.status_code == 400 and "vùng &#x27;thon-khac&#x27; không có trong lịch phát" in (
        r.content.decode())
    # a station with no schedule yet: zone ids typed, checked
    p = client_for(fleet["tinh"])
    r = p.post("/dai/xa-tan-lap/ma-dang-ky/", {"name": "X", "zone_ids": "Thôn Đoài", "hours": 1})
    assert r.status_code == 400 and "không hợp lệ: chỉ chữ thường không dấu" in r.content.decode()
    r = p.post("/dai/xa-tan-lap/ma-dang-ky/", {"name": "Cụm 2", "zone_ids": "thon-a, thon-b",
                                               "hours": 1})
    assert service.enroll(r.context["code"]["code"]).device.zones == ["thon-a", "thon-b"]
    # an editor of the same station may not
    assert client_for(fleet["bientap"]).post(
        "/dai/xa-ba-vi/ma-dang-ky/", {"name": "x", "hours": 1}).status_code == 403


def test_revoking_a_cluster_asks_first_needs_csrf_and_stops_its_token(fleet):
    from loa.console.fleet import service
    from loa.console.fleet.models import Device

    dev, token = fleet["doai"].device, fleet["doai"].token
    url = f"/dai/xa-ba-vi/cum-loa/{dev.pk}/thu-hoi/"
    c = client_for(fleet["xa"], csrf=True)
    r = c.get(url)
    assert r.status_code == 200 and "Thu hồi Cụm loa thôn Đoài?" in r.content.decode()
    assert c.post(url).status_code == 403  # no CSRF token
    assert Device.objects.get(pk=dev.pk).revoked_at is None
    csrf = c.cookies["csrftoken"].value
    r = c.post(url, {"csrfmiddlewaretoken": csrf})
    assert r.status_code == 302 and r["Location"] == "/dai/xa-ba-vi/"
    assert Device.objects.get(pk=dev.pk).revoked_at is not None
    assert service.authenticate(token) is None
    from loa.console.accounts.models import AuditEntry

    entry = AuditEntry.objects.get(action="fleet.revoke")
    assert (entry.target, entry.full_name) == ("Cụm loa thôn Đoài", "Lê Thị Xã")
    assert "đã thu hồi" in c.get("/dai/xa-ba-vi/").content.decode()
    # an editor cannot revoke
    other = fleet["van"].device
    assert client_for(fleet["bientap"]).post(
        f"/dai/xa-ba-vi/cum-loa/{other.pk}/thu-hoi/").status_code == 403


def test_an_emergency_to_communes_and_clusters_shows_each_ack_and_who_sent_it(fleet):
    from loa.console.fleet import service

    c = client_for(fleet["tinh"])
    form = c.get("/tin-khan-cap/").context["form"]
    assert {s.name for s in form.station_map.values()} == {"Đài xã Ba Vì", "Đài xã Tân Lập"}
    r = c.post("/tin-khan-cap/", {"title": "Bão số 9", "text": "Bà con <chằng chống> nhà cửa.",
                                  "stations": [str(fleet["a"].pk)],
                                  "devices": [fleet["lap"].device.pk]})
    assert r.status_code == 302
    eid = r["Location"].rstrip("/").rsplit("/", 1)[1]
    r = c.get(f"/tin-khan-cap/{eid}/")
    html = r.content.decode()
    assert len(r.context["deliveries"]) == 3
    assert "Hoàng Văn Tỉnh" in html and "&lt;chằng chống&gt;" in html
    assert '<meta http-equiv="refresh"' in html  # incomplete: follows itself
    assert "0/3 cụm đã nhận" in html
    at = NOW + timedelta(seconds=2)
    for d in (fleet["doai"], fleet["van"], fleet["lap"]):
        service.record_ack(d.device.pk, eid, "received", at.isoformat())
        service.record_ack(d.device.pk, eid, "started", (at + timedelta(seconds=1)).isoformat())
    service.record_ack(fleet["doai"].device.pk, eid, "finished", at + timedelta(seconds=30))
    service.record_ack(fleet["van"].device.pk, eid, "finished", at + timedelta(seconds=31))
    service.record_ack(fleet["lap"].device.pk, eid, "failed", at + timedelta(seconds=5),
                       "loa không mở được")
    html = c.get(f"/tin-khan-cap/{eid}/").content.decode()
    assert "3/3 cụm đã nhận" in html and "2 đã phát xong" in html and "1 lỗi" in html
    assert "10:00:32" in html and "10:00:03" in html and "lỗi lúc 10:00:07: loa không mở được" in html
    assert '<meta http-equiv="refresh"' not in html  # complete: stops
    # the Ba Vì commune sees its own two clusters only; Hà Nội sees nothing
    r = client_for(fleet["xa"]).get(f"/tin-khan-cap/{eid}/")
    assert r.status_code == 200
    assert {d.device.name for d in r.context["deliveries"]} == {"Cụm loa thôn Đoài",
                                                                "Cụm loa <Văn Hòa>"}
    assert "Tân Lập" not in r.content.decode()
    assert client_for(fleet["khac"]).get(f"/tin-khan-cap/{eid}/").status_code == 404
    assert client_for(fleet["khac"]).get("/tin-khan-cap/").context["recent"].count() == 0


def test_an_unfinished_emergency_is_followed_for_an_hour_then_shown_without_polling(
        fleet, settings):
    c = client_for(fleet["tinh"])
    r = c.post("/tin-khan-cap/", {"text": "Lũ về.", "devices": [fleet["lap"].device.pk]})
    url = r["Location"]
    html = c.get(url).content.decode()
    assert '<meta http-equiv="refresh" content="5">' in html
    # the red header button leads a fleet account to the fleet's emergencies
    assert '<a class="emergency" href="/tin-khan-cap/">' in html
    settings.LOA_CLOCK.advance(timedelta(hours=1, seconds=1))
    html = c.get(url).content.decode()
    assert '<meta http-equiv="refresh"' not in html
    assert "chưa xong; tải lại trang để xem mới nhất" in html


def test_emergency_form_refuses_in_vietnamese_and_scope_is_enforced(fleet):
    c = client_for(fleet["xa"])
    r = c.post("/tin-khan-cap/", {"title": "x", "text": "Lời", "stations": []})
    assert r.status_code == 400 and "hãy chọn ít nhất một xã hoặc một cụm loa" in r.content.decode()
    # another commune's station or device is not a choice
    r = c.post("/tin-khan-cap/", {"text": "Lời", "stations": [str(fleet["b"].pk)]})
    assert r.status_code == 400 and "lựa chọn không còn hợp lệ" in r.content.decode()
    r = c.post("/tin-khan-cap/", {"text": "Lời", "devices": [fleet["dong"].device.pk]})
    assert r.status_code == 400
    from loa.console.fleet.models import Emergency

    assert Emergency.objects.count() == 0
    # an editor has no form (sending is for admins and technicians)
    r = client_for(fleet["bientap"]).get("/tin-khan-cap/")
    assert r.status_code == 200 and r.context["form"] is None
    assert client_for(fleet["bientap"]).post("/tin-khan-cap/", {"text": "x"}).status_code == 403


def _plays(fleet):
    from loa.console.fleet import service

    service.ingest_plays(fleet["doai"].device, [
        play_row("a1", "2026-10-05T06:30:00+07:00", bulletin="ba-vi-2026/IV.1.a"),
        play_row("a2", "2026-10-06T06:30:00+07:00", bulletin="ba-vi-2026/IV.1.a"),
        play_row("a3", "2026-10-07T06:30:00+07:00", "missed", bulletin="ba-vi-2026/IV.1.b"),
        play_row("a4", "2026-07-07T06:30:00+07:00", bulletin="ba-vi-2026/IV.1.b")])  # Q3
    service.ingest_plays(fleet["van"].device, [
        play_row("v1", "2026-11-05T17:00:00+07:00", "failed", bulletin="ba-vi-2026/IV.1.b")])
    service.ingest_plays(fleet["dong"].device, [  # another province
        play_row("d1", "2026-10-05T06:30:00+07:00", bulletin="ba-vi-2026/IV.1.a")])


def _topics():
    import yaml

    doc = yaml.safe_load((REPO / "schedules" / "bulletins" / "ba-vi-2026.yaml").read_text())
    from loa.log.store import topic_of

    return {topic_of(b["id"]) for b in doc["bulletins"]}


def test_report_page_and_xlsx_per_commune_with_the_plan_share(fleet):
    import openpyxl

    _plays(fleet)
    n = len(_topics())
    c = client_for(fleet["tinh"])
    r = c.get("/bao-cao/", {"ky": "quy", "nam": "2026", "quy": "4"})
    assert r.status_code == 200
    rep = r.context["rep"]
    assert [t.station.name for t in rep.rows] == ["Đài xã Ba Vì", "Đài xã Tân Lập"]
    bavi = rep.rows[0]
    assert (bavi.aired, bavi.missed, bavi.failed, bavi.seconds) == (2, 1, 1, 130.0)
    assert rep.plan_id == "ba-vi-2026" and len(rep.topics) == n
    assert bavi.topics_aired == 1 and bavi.share == pytest.approx(1 / n)
    assert rep.rows[1].share == 0.0
    assert r.context["plans"][0][1].startswith("Thông tin, tuyên truyền về Kiểm soát")

    x = c.get("/bao-cao/", {"ky": "quy", "nam": "2026", "quy": "4", "tai": "xlsx"})
    assert x.status_code == 200 and x["Content-Disposition"].endswith('2026Q4.xlsx"')
    wb = openpyxl.load_workbook(io.BytesIO(x.content))
    ws = wb["Theo xã"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][0] == "Báo cáo phát thanh quý IV năm 2026 — Bình Phước"
    body = {r[0]: r for r in rows[3:]}
    assert body["Đài xã Ba Vì"][1:4] == [2, 1, 1]
    assert body["Đài xã Ba Vì"][4] == timedelta(seconds=130)
    assert body["Đài xã Ba Vì"][5:] == [1, round(100 / n, 1)]
    assert body["Đài xã Tân Lập"][1:4] == [0, 0, 0] and body["Đài xã Tân Lập"][6] == 0.0
    assert body["Tổng cộng"][1:4] == [2, 1, 1]
    assert "Đài xã Đông Anh" not in body
    wt = wb["Chủ đề kế hoạch"]
    topic_rows = {r[0].value: [c.value for c in r] for r in wt.iter_rows(min_row=2)}
    assert len(topic_rows) == n
    assert topic_rows["IV.1.a"][2:] == ["đã phát", "chưa phát"]
    assert topic_rows["IV.1.b"][2] == "chưa phát"  # missed, and Q3's play is outside the period


def test_report_docx_and_custom_period_and_vietnamese_errors(fleet):
    import docx

    _plays(fleet)
    c = client_for(fleet["tinh"])
    r = c.get("/bao-cao/", {"ky": "khoang", "tu": "2026-07-01", "den": "2026-12-31",
                            "tai": "docx"})
    assert r.status_code == 200
    d = docx.Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in d.paragraphs)
    assert "từ ngày 01/07/2026 đến ngày 31/12/2026 — Bình Phước" in text
    table = [[cell.text for cell in row.cells] for row in d.tables[0].rows]
    assert table[1][:4] == ["Đài xã Ba Vì", "3", "1", "1"]
    n = len(_topics())
    share = [[cell.text for cell in row.cells] for row in d.tables[1].rows]
    assert share[1][:2] == ["Đài xã Ba Vì", f"2/{n}"]  # IV.1.a and, in Q3, IV.1.b
    r = c.get("/bao-cao/", {"ky": "khoang", "tu": "2026-12-31", "den": "2026-01-01"})
    assert r.status_code == 400 and "ngày kết thúc 01/01/2026 trước ngày bắt đầu" in r.content.decode()
    r = c.get("/bao-cao/", {"ky": "nam", "nam": "hai nghìn"})
    assert r.status_code == 400 and "năm 'hai nghìn' không hợp lệ" in unescape(
        r.content.decode())


def test_commune_report_rows_and_upward_json_stay_in_scope(fleet):
    _plays(fleet)
    c = client_for(fleet["xa"])
    r = c.get("/bao-cao/", {"ky": "nam", "nam": "2026"})
    assert [t.station.name for t in r.context["rep"].rows] == ["Đài xã Ba Vì"]
    r = c.get("/bao-cao/", {"ky": "quy", "nam": "2026", "quy": "4", "tai": "json",
                            "dai": "xa-ba-vi"})
    assert r.status_code == 200
    doc = json.loads(b"".join(r.streaming_content))
    assert (doc["version"], doc["station"], doc["station_name"]) == (1, "xa-ba-vi", "Đài xã Ba Vì")
    assert [p["MaLuotPhat"] for p in doc["plays"]] == ["a1", "a2", "a3", "v1"]
    assert doc["plays"][0] == {k: v for k, v in play_row(
        "a1", "2026-10-05T06:30:00+07:00", bulletin="ba-vi-2026/IV.1.a").items() if k != "play_key"}
    for other in ("xa-tan-lap", "xa-dong-anh"):
        assert c.get("/bao-cao/", {"tai": "json", "dai": other}).status_code == 404
    # a province account gets another province's station as 404 too
    assert client_for(fleet["tinh"]).get("/bao-cao/", {"tai": "json", "dai": "xa-dong-anh"}
                                          ).status_code == 404


def test_operator_text_stays_text_in_xlsx_and_docx(fleet):
    import docx
    import openpyxl

    from loa.console.fleet.models import Station

    Station.objects.filter(pk=fleet["b"].pk).update(name="=HYPERLINK(\"http://x\")\x07")
    c = client_for(fleet["tinh"])
    x = c.get("/bao-cao/", {"ky": "nam", "nam": "2026", "tai": "xlsx"})
    ws = openpyxl.load_workbook(io.BytesIO(x.content))["Theo xã"]
    cells = [r[0] for r in ws.iter_rows(min_row=4)]
    hit = [cell for cell in cells if str(cell.value).startswith("=HYPERLINK")]
    assert hit and hit[0].data_type == "s" and hit[0].value == "=HYPERLINK(\"http://x\")"
    d = docx.Document(io.BytesIO(c.get("/bao-cao/", {"ky": "nam", "nam": "2026",
                                                      "tai": "docx"}).content))
    assert any(row.cells[0].text == "=HYPERLINK(\"http://x\")" for row in d.tables[0].rows)
