"""Lịch phát through the console: forms judged by loa's own rules (all problems at once, in
Vietnamese, status 400, nothing half-saved), roles, a stale form refused, comments kept,
the week and month calendars, and a session added with the time picker on a phone."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest
from fakeclock import FakeClock

from loa.clock import DEFAULT_TZ
from loa.schedule import load_schedule

MONDAY = datetime(2026, 4, 6, 5, 0, tzinfo=DEFAULT_TZ)  # inside the sample program's dates
FIRST_TITLE = "Tuyên truyền về vai trò và tầm quan trọng của nhiệm vụ kiểm soát thủ tục hành"

@pytest.fixture(autouse=True)
def clock(settings):
    settings.LOA_CLOCK = FakeClock(MONDAY)
    return settings.LOA_CLOCK


def version_in(page: str) -> str:
    return re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)


def errors_in(page: str) -> str:
    """The text of the page's one list of errors (class "errors")."""
    m = re.search(r'<ul class="errors"[^>]*>(.*?)</ul>', page, re.S)
    assert m, "no list of errors on the page"
    return re.sub(r"<[^>]+>", " ", m.group(1))


def audit_entries(action: str):
    from loa.console.accounts.models import AuditEntry

    return list(AuditEntry.objects.filter(action=action))


def get(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, resp.status_code
    return resp.content.decode()


def test_the_page_names_villages_sessions_and_programs(client_as):
    page = get(client_as("leader"), "/lich-phat/")
    for name in ("Buổi sáng", "06:30", "Toàn xã, Thôn Văn Hòa", "T2-T6",
                 "Tuyên truyền kiểm soát thủ tục hành chính năm 2026", "02/09/2026",
                 "từ 01/04/2026 đến 31/12/2026",
                 # a program's file by its plan's title
                 "Thông tin, tuyên truyền về Kiểm soát thủ tục hành chính trên địa bàn xã Ba Vì "
                 "năm 2026 (bulletins/ba-vi-2026.yaml) · Buổi sáng"):
        assert name in page
    assert "Thêm buổi phát" not in page and "/xoa/" not in page  # a leader only reads
    page = get(client_as("editor"), "/lich-phat/")
    assert "Thêm buổi phát" in page and "Thêm vùng" not in page
    # the menu says where the officer is, on the list and on its forms
    for url in ("/lich-phat/", "/lich-phat/buoi/them/"):
        page = get(client_as("editor"), url)
        assert page.count('aria-current="page"') == 1
        assert 'aria-current="page">Lịch phát</a>' in page
    page = get(client_as("technician"), "/lich-phat/")
    assert "Thêm vùng" in page and "Thêm buổi phát" not in page
    assert "thiết bị: mặc định của máy" in page and "thiết bị: default" not in page


def test_an_editor_adds_a_session_and_comments_are_kept(client_as, station):
    before = station.read_text(encoding="utf-8")
    client = client_as("editor")
    form = get(client, "/lich-phat/buoi/them/")
    assert 'type="time"' in form and 'id="id_time"' in form
    assert 'type="checkbox" name="days" value="T2"' in form
    assert re.search(r'<input type="checkbox" name="zones" value="thon-van-hoa"[^>]*>\s*'
                     r'Thôn Văn Hòa', form)  # villages by name, only existing ones
    assert ">Lưu</button>" in form
    resp = client.post("/lich-phat/buoi/them/", {
        "version": version_in(form), "name": "Buổi trưa", "time": "11:30",
        "days": ["T2", "T4"], "zones": ["toan-xa"]})
    assert resp.status_code == 302 and resp["Location"] == "/lich-phat/"
    after = station.read_text(encoding="utf-8")
    for line in before.splitlines():
        assert line in after.splitlines()  # every comment and line kept
    session = load_schedule(station).sessions["buoi-trua"]  # an id made from the name
    assert (session.name, session.time, sorted(session.days), session.zones) == (
        "Buổi trưa", time(11, 30), [0, 2], ("toan-xa",))
    (entry,) = audit_entries("schedule.sessions.add")
    assert entry.target == "buổi phát “Buổi trưa”" and entry.full_name == "Trần Thị Bình"
    assert entry.detail == "thêm buổi phát: 11:30, T2, T4, Toàn xã"
    page = get(client, "/lich-phat/")
    assert "Đã lưu buổi phát “Buổi trưa”." in page
    assert page.count("chưa có chương trình nào phát vào buổi này") == 1  # the new one


def test_a_bad_session_gets_every_problem_at_once_and_nothing_is_saved(client_as, station):
    before = station.read_bytes()
    client = client_as("editor")
    version = version_in(get(client, "/lich-phat/buoi/them/"))
    resp = client.post("/lich-phat/buoi/them/", {
        "version": version, "name": "Buổi đêm", "time": "22:00", "days": ["T2", "T9"],
        "zones": ["toan-xa", "thon-ma"]})  # a village that does not exist (a forged box)
    assert resp.status_code == 400
    errors = errors_in(resp.content.decode())
    assert "Giờ phát: buổi phát “Buổi đêm” lúc 22:00 rơi vào giờ yên tĩnh " \
        "(21:00-05:30)" in errors
    assert "Vùng phát: không có vùng &#x27;thon-ma&#x27;." in errors
    assert "Ngày trong tuần: ngày trong tuần &#x27;T9&#x27; không hợp lệ" in errors
    assert station.read_bytes() == before and not audit_entries("schedule.sessions.add")
    resp = client.post("/lich-phat/buoi/them/", {"version": version, "name": "Sáng sớm",
                                                 "time": "25:00"})
    assert resp.status_code == 400
    assert "Giờ phát: giờ phát &#x27;25:00&#x27; không hợp lệ (dạng 06:30)." in \
        errors_in(resp.content.decode())
    assert station.read_bytes() == before


def test_a_session_sent_without_its_time_is_told_once_on_the_time_field(client_as, station):
    before = station.read_bytes()
    client = client_as("editor")
    version = version_in(get(client, "/lich-phat/buoi/them/"))
    resp = client.post("/lich-phat/buoi/them/", {"version": version, "name": "Buổi trưa",
                                                 "days": ["T2", "T3", "T4", "T5", "T6"]})
    assert resp.status_code == 400
    page = resp.content.decode()
    # named by its label, not the YAML key, and not pinned on "Mã buổi"
    assert errors_in(page).split() == ["Giờ", "phát:", "cần", "điền."]
    assert "&#x27;time&#x27;" not in page and "Mã buổi: " not in page
    # every weekday unticked: said with the boxes, not the YAML key
    resp = client.post("/lich-phat/buoi/them/", {"version": version, "name": "Buổi trưa",
                                                 "time": "11:30"})
    assert resp.status_code == 400
    assert errors_in(resp.content.decode()).split() == (
        "Ngày trong tuần: chưa chọn ngày nào nên buổi phát không bao giờ phát; "
        "đánh dấu ít nhất một ngày.").split()
    assert station.read_bytes() == before


def test_two_clients_editing_at_once_the_second_is_told(client_as, make_user, station):
    from django.test import Client

    first = client_as("editor")
    second = Client()
    second.force_login(make_user("bientap2", "editor", full_name="Đỗ Văn Em"))
    form_1 = get(first, "/lich-phat/buoi/sang/sua/")
    form_2 = get(second, "/lich-phat/buoi/sang/sua/")
    assert 'value="06:30"' in form_1 and 'value="T2" id="id_days_0" checked' in form_1
    data = {"name": "Sáng sớm", "time": "06:30", "days": ["T2", "T3", "T4", "T5", "T6",
                                                          "T7", "CN"],
            "zones": ["toan-xa", "thon-van-hoa"]}
    assert first.post("/lich-phat/buoi/sang/sua/", {**data, "version": version_in(form_1)}
                      ).status_code == 302
    saved = station.read_bytes()
    resp = second.post("/lich-phat/buoi/sang/sua/", {**data, "name": "Sáng muộn",
                                                     "version": version_in(form_2)})
    assert resp.status_code == 400
    page = resp.content.decode()
    assert "Lịch phát đã được sửa lúc" in errors_in(page)
    assert "bởi nơi khác (máy khác hoặc tay); tải lại trang" in errors_in(page)
    assert 'value="Sáng muộn"' in page  # what the officer typed is still there
    assert station.read_bytes() == saved
    assert load_schedule(station).sessions["sang"].name == "Sáng sớm"
    # unchanged boxes keep the file's own text: only the name line differs
    assert "    name: Sáng sớm\n    time: \"06:30\"\n    days: [T2, T3, T4, T5, T6, T7, CN]\n" \
        in saved.decode()


def test_yaml_looking_operator_text_is_data_everywhere(client_as, station):
    client = client_as("editor")
    text = 'Họp dân: 19:30 # tại "nhà văn hóa" & * ! { - % \\ <b>đậm</b>'
    form = get(client, "/lich-phat/thong-bao/them/")
    assert 'type="datetime-local"' in form
    resp = client.post("/lich-phat/thong-bao/them/", {
        "version": version_in(form), "at": "2026-04-07T07:15", "title": "<script>x</script>",
        "text": text, "zones": ["thon-van-hoa"], "priority": "2"})
    assert resp.status_code == 302
    (a,) = load_schedule(station).announcements
    assert (a.text, a.title, a.zones, a.priority) == (text, "<script>x</script>",
                                                      ("thon-van-hoa",), 2)
    assert a.at == datetime(2026, 4, 7, 7, 15, tzinfo=DEFAULT_TZ)
    page = get(client, "/lich-phat/")
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "07:15 thứ Ba 07/04/2026" in page and "Thôn Văn Hòa · ưu tiên" in page
    edit = get(client, f"/lich-phat/thong-bao/{a.id}/sua/")
    assert 'value="2026-04-07T07:15"' in edit and "&lt;b&gt;đậm&lt;/b&gt;" in edit


def test_roles_are_enforced_on_every_form(client_as, station):
    before = station.read_bytes()
    zone = {"name": "Thôn Đoài", "device": "default", "volume": "70"}
    session = {"name": "Buổi trưa", "time": "11:30", "days": ["T2"]}
    for role in ("editor", "leader"):
        client = client_as(role)
        assert client.get("/lich-phat/vung/them/").status_code == 403
        assert client.post("/lich-phat/vung/them/", zone).status_code == 403
        assert client.post("/lich-phat/vung/toan-xa/xoa/").status_code == 403
    for role in ("technician", "leader", "admin"):
        client = client_as(role)
        assert client.post("/lich-phat/buoi/them/", session).status_code == 403
        assert client.post("/lich-phat/buoi/sang/xoa/").status_code == 403
        assert client.post("/lich-phat/ngay-nghi/them/", {"day": "2026-05-01"}
                           ).status_code == 403
    assert station.read_bytes() == before
    tech = client_as("technician")
    version = version_in(get(tech, "/lich-phat/vung/them/"))
    assert tech.post("/lich-phat/vung/them/", {**zone, "version": version}).status_code == 302
    assert load_schedule(station).zones["thon-doai"].name == "Thôn Đoài"
    assert audit_entries("schedule.zones.add")[0].target == "vùng “Thôn Đoài”"


def test_a_village_in_use_is_not_deleted(client_as, station):
    before = station.read_bytes()
    tech = client_as("technician")
    version = version_in(get(tech, "/lich-phat/"))
    resp = tech.post("/lich-phat/vung/thon-van-hoa/xoa/", {"version": version})
    assert resp.status_code == 400
    assert "Không xóa được vùng “Thôn Văn Hòa”: buổi phát “Buổi sáng”, buổi phát “Buổi " \
        "chiều” đang dùng" in errors_in(resp.content.decode())
    assert station.read_bytes() == before
    # deleted by another officer meanwhile: told, not a crash
    resp = tech.post("/lich-phat/vung/thon-da-xoa/xoa/", {"version": version})
    assert resp.status_code == 400
    assert "Không tìm thấy vùng &#x27;thon-da-xoa&#x27; (có thể vừa bị xóa ở nơi khác)" in \
        errors_in(resp.content.decode())
    assert tech.get("/lich-phat/vung/thon-da-xoa/sua/").status_code == 404


def test_programs_choose_files_and_bulletins_by_name(client_as, station):
    client = client_as("editor")
    form = get(client, "/lich-phat/chuong-trinh/them/")
    assert "bulletins/ba-vi-2026.yaml" in form and FIRST_TITLE in form
    assert 'type="date"' in form
    version = version_in(form)
    bad = {"version": version, "name": "Mùa mưa", "bulletins": "ba-vi-2026",
           "sessions": ["chieu"], "from": "2026-10-01", "until": "2026-09-01",
           "per_session": "0"}
    resp = client.post("/lich-phat/chuong-trinh/them/", bad)
    assert resp.status_code == 400
    errors = errors_in(resp.content.decode())
    assert "Đến ngày: &#x27;until&#x27; phải sau &#x27;from&#x27;." in errors
    assert "Số bản tin mỗi buổi" in errors
    # a path typed into the request is never a file: only the station's own, by key
    resp = client.post("/lich-phat/chuong-trinh/them/", {**bad, "bulletins": "/etc/passwd",
                                                         "until": "", "per_session": "1"})
    assert resp.status_code == 400 and "/etc/passwd" not in station.read_text(encoding="utf-8")
    # a bulletin the file does not have: `loa validate`'s rule, told at the save
    resp = client.post("/lich-phat/chuong-trinh/them/", {**bad, "until": "", "per_session": "1",
                                                         "only": ["KHONG-CO"]})
    assert resp.status_code == 400
    assert "không có bản tin KHONG-CO trong ba-vi-2026.yaml" in errors_in(resp.content.decode())
    good = {**bad, "until": "2026-12-31", "per_session": "1", "only": ["IV.1.a"]}
    assert client.post("/lich-phat/chuong-trinh/them/", good).status_code == 302
    program = load_schedule(station).programs["mua-mua"]
    assert program.bulletins_file == (station.parent / "bulletins/ba-vi-2026.yaml").resolve()
    assert (program.start, program.end, program.only) == (date(2026, 10, 1),
                                                          date(2026, 12, 31), ("IV.1.a",))
    assert "    bulletins: bulletins/ba-vi-2026.yaml\n" in station.read_text(encoding="utf-8")


def test_holidays_and_days_off(client_as, station):
    client = client_as("editor")
    version = version_in(get(client, "/lich-phat/"))
    assert client.post("/lich-phat/ngay-nghi/them/", {"version": version, "day": "2026-05-01"}
                       ).status_code == 302
    version = version_in(get(client, "/lich-phat/"))
    resp = client.post("/lich-phat/ngay-nghi/them/", {"version": version, "day": "2026-05-01"})
    assert resp.status_code == 400
    assert "Ngày nghỉ: ngày 01/05/2026 đã có." in errors_in(resp.content.decode())
    assert client.post("/lich-phat/ngay-nghi/2026-09-02/xoa/", {"version": version}
                       ).status_code == 302
    form = get(client, "/lich-phat/ngay-le/them/")
    assert client.post("/lich-phat/ngay-le/them/", {
        "version": version_in(form), "date": "2026-09-02", "name": "Quốc khánh"}
        ).status_code == 302
    schedule = load_schedule(station)
    assert schedule.skip_dates == {date(2026, 5, 1)}
    assert schedule.holidays == {date(2026, 9, 2): "Quốc khánh"}
    assert [e.target for e in audit_entries("schedule.skip_date.add")] == [
        "ngày nghỉ 01/05/2026"]


def test_days_written_the_vietnamese_way_are_listed_edited_and_removed(client_as, station):
    text = station.read_text(encoding="utf-8").replace(
        "skip_dates: [2026-09-02]", "skip_dates: [02/09/2026]") + \
        "holidays:\n  - date: 30/04/2026\n    name: Giải phóng\n"
    station.write_text(text, encoding="utf-8")
    client = client_as("editor")
    page = get(client, "/lich-phat/")
    assert "/lich-phat/ngay-le/2026-04-30/sua/" in page
    assert "/lich-phat/ngay-nghi/2026-09-02/xoa/" in page
    form = get(client, "/lich-phat/ngay-le/2026-04-30/sua/")
    assert 'value="2026-04-30"' in form
    assert client.post("/lich-phat/ngay-le/2026-04-30/sua/", {
        "version": version_in(form), "date": "2026-04-30", "name": "Giải phóng miền Nam"}
        ).status_code == 302
    assert client.post("/lich-phat/ngay-nghi/2026-09-02/xoa/", {
        "version": version_in(get(client, "/lich-phat/"))}).status_code == 302
    schedule = load_schedule(station)
    assert schedule.holidays == {date(2026, 4, 30): "Giải phóng miền Nam"}
    assert not schedule.skip_dates
    assert "date: 30/04/2026\n" in station.read_text(encoding="utf-8")  # as written


def test_week_and_month_show_times_titles_and_villages(client_as):
    client = client_as("leader")
    week = get(client, "/lich-phat/tuan/")  # the week of the (injected) clock
    assert "Tuần 06/04 – 12/04/2026" in week
    assert "Thứ Hai 06/04" in week and "Chủ nhật 12/04" in week
    assert "06:30</strong> Buổi sáng" in week and "Toàn xã, Thôn Văn Hòa" in week
    assert FIRST_TITLE in week
    month = get(client, "/lich-phat/thang/?thang=2026-09")
    assert "Tháng 9/2026" in month
    day_off = re.search(r"02/09.*?</li>", month, re.S).group(0)
    assert "nghỉ" in day_off and "06:30" not in day_off  # the sample's day off plays nothing
    assert month.count("06:30</strong>") == 29  # every other day of September


@pytest.mark.browser
def test_a_session_added_on_a_phone_with_the_time_picker(live_console, phone):
    from console.conftest import login, screenshot

    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + "/lich-phat/")
    phone.get_by_role("link", name="Thêm buổi phát").click()
    phone.fill("#id_name", "Buổi trưa")
    phone.fill("#id_time", "11:45")
    for day in ("T7", "CN"):
        phone.get_by_label(day, exact=True).uncheck()
    phone.get_by_label("Thôn Văn Hòa").uncheck()
    screenshot(phone, "schedule-add-session")
    phone.get_by_role("button", name="Lưu").click()
    phone.wait_for_url(live.url + "/lich-phat/")
    assert "Đã lưu buổi phát “Buổi trưa”." in phone.content()
    session = load_schedule(live.schedule).sessions["buoi-trua"]
    assert (session.time, sorted(session.days), session.zones) == (time(11, 45),
                                                                   [0, 1, 2, 3, 4],
                                                                   ("toan-xa",))
    screenshot(phone, "schedule")
    # the program plays in it too (a session with no program plays nothing)
    phone.goto(live.url + "/lich-phat/chuong-trinh/kstthc-2026/sua/")
    phone.get_by_label("Buổi trưa (11:45)").check()
    screenshot(phone, "schedule-program")
    phone.get_by_role("button", name="Lưu").click()
    phone.wait_for_url(live.url + "/lich-phat/")
    assert load_schedule(live.schedule).programs["kstthc-2026"].sessions == (
        "sang", "chieu", "buoi-trua")
    phone.goto(live.url + "/lich-phat/tuan/?ngay=2026-04-06")
    assert "11:45</strong> Buổi trưa" in phone.content() and FIRST_TITLE in phone.content()
    screenshot(phone, "schedule-week")
    phone.goto(live.url + "/lich-phat/thang/?thang=2026-04")
    assert "Tháng 4/2026" in phone.content()
    screenshot(phone, "schedule-month")
    # a time in quiet hours: told on the page, in Vietnamese, nothing saved
    before = live.schedule.read_bytes()
    phone.goto(live.url + "/lich-phat/buoi/them/")
    phone.fill("#id_name", "Buổi đêm")
    phone.fill("#id_time", "22:15")
    phone.get_by_role("button", name="Lưu").click()
    errors = phone.locator(".errors")
    assert "rơi vào giờ yên tĩnh (21:00-05:30)" in errors.inner_text()
    assert phone.input_value("#id_name") == "Buổi đêm"
    screenshot(phone, "schedule-errors")
    assert live.schedule.read_bytes() == before


def test_a_broken_file_is_told_in_vietnamese_never_a_traceback(client_as, station):
    station.write_text(station.read_text(encoding="utf-8").replace(
        "  name: Đài truyền thanh xã Ba Vì", "  name: [Đài truyền thanh"), encoding="utf-8")
    before = station.read_bytes()
    client = client_as("editor")
    page = get(client, "/lich-phat/")
    assert "lỗi cú pháp YAML" in page and "dòng 7" in page
    resp = client.post("/lich-phat/buoi/them/", {"version": version_in(
        get(client, "/lich-phat/buoi/them/")), "name": "Trưa", "time": "11:00"})
    assert resp.status_code == 400 and "lỗi cú pháp YAML" in errors_in(resp.content.decode())
    assert station.read_bytes() == before
    assert "lỗi cú pháp YAML" in get(client, "/lich-phat/tuan/")
    # readable but wrong: an item without an id is listed, its problem told, no crash
    station.write_text(before.decode().replace("  name: [Đài truyền thanh", "  name: Đài")
                       .replace("  - id: chieu\n", "  - \n"), encoding="utf-8")
    page = get(client, "/lich-phat/")
    assert "Buổi chiều" in page and "buổi phát thiếu &#x27;id&#x27;" in page


def test_a_form_built_from_the_schema_uses_its_widgets_and_its_rules():
    from loa.console.pages.schema_forms import schema_form
    from loa.schedule.schema import SESSION, ZONE

    zone_form = schema_form(ZONE, "zones", ["name", "volume", "relay"])()
    html = str(zone_form)
    assert re.search(r'type="number" name="volume"[^>]*min="0"[^>]*max="100"', html)
    assert 'step="1"' in html and "Âm lượng (%)" in html
    form = schema_form(SESSION, "sessions", ["id", "time", "days", "zones"])(
        {"id": "trua", "time": "25:00", "days": ["T2", "T9"]})
    assert 'type="time"' in str(form["time"])
    assert 'type="checkbox" name="days" value="CN"' in str(form["days"])
    assert not form.is_valid()  # without a draft: the schema alone, in loa's words
    assert form.errors["time"] == ["Giờ phát: giờ phát '25:00' không hợp lệ (dạng 06:30)."]
    assert form.errors["days"][0].startswith("Ngày trong tuần: ngày trong tuần 'T9' không")
    assert schema_form(SESSION, "sessions", ["id", "time"])({"id": "a", "time": "6:30"}
                                                            ).is_valid()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/lich-phat/tuan/?ngay=9999-12-31", "/lich-phat/tuan/?ngay=0001-01-01",
                                 "/lich-phat/thang/?thang=9999-12", "/lich-phat/thang/?thang=0001-01"])
def test_a_day_out_of_range_shows_this_week_or_month(client_as, url):
    resp = client_as("editor").get(url)
    assert resp.status_code == 200
    assert "2026" in resp.content.decode()  # the clock's week/month, not year 1 or 9999


@pytest.mark.browser
def test_a_double_tap_on_save_saves_once_and_says_so(live_console, phone):
    from console.conftest import login, screenshot

    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + "/lich-phat/buoi/them/")
    # two taps in a row: the page lets one submission through (counted, held back here)
    sent = phone.evaluate("""() => {
        let n = 0;
        window.addEventListener('submit', e => { if (!e.defaultPrevented) n++;
                                                 e.preventDefault(); });
        const b = [...document.querySelectorAll('button')].find(x => x.textContent === 'Lưu');
        b.click(); b.click();
        return n; }""")
    assert sent == 1
    phone.reload()
    phone.fill("#id_name", "Buổi trưa")
    phone.fill("#id_time", "11:45")
    phone.get_by_role("button", name="Lưu").dblclick()
    phone.wait_for_url(live.url + "/lich-phat/")
    page = phone.content()
    # the second tap is not sent: no "sửa bởi nơi khác" for the officer's own change
    assert "Đã lưu buổi phát “Buổi trưa”." in page and "nơi khác" not in page
    assert list(load_schedule(live.schedule).sessions).count("buoi-trua") == 1
    # every tap target of the header and the rows is a finger's size
    small = phone.evaluate("""() => [...document.querySelectorAll(
        'header a, header summary, .actions .btn, .actions button')]
        .filter(e => e.getBoundingClientRect().height < 44).map(e => e.textContent.trim())""")
    assert small == []
    screenshot(phone, "schedule-double-tap")
