"""Duyệt: the leader's queue (chờ duyệt, chờ duyệt lại), approval bound to the words on the
page and recorded with the full name and web account, return with a required note that the
editor then reads, permissions, escaping."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from fakeclock import FakeClock

from console.conftest import login, screenshot
from loa import station as svc
from loa.clock import DEFAULT_TZ
from loa.script.bulletin import load_bulletins

KEY = "ba-vi-2026"
DRAFT, APPROVED = "IV.1.b", "IV.1.a"
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=DEFAULT_TZ)


def bfile(station: Path) -> Path:
    return station.parent / "bulletins" / f"{KEY}.yaml"


def html(resp) -> str:
    return resp.content.decode()


def airing(station: Path) -> set[str]:
    return {b.id for pool in svc.load_station(station).bulletins.values() for b in pool}


def version_in(page: str) -> str:
    return re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)


def audit_rows():
    from loa.console.accounts.models import AuditEntry

    return [(e.action, e.full_name, e.target, e.detail) for e in AuditEntry.objects.order_by("id")]


@pytest.fixture
def clocked(settings):
    settings.LOA_CLOCK = FakeClock(NOON)
    return settings.LOA_CLOCK


@pytest.mark.django_db
def test_the_queue_holds_pending_and_changed_since_approved_only(station, client_as):
    path = bfile(station)
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    b = load_bulletins(path).get(APPROVED)
    svc.approve_bulletins(path, [APPROVED], "Nguyễn Văn An", account="web:lanhdao")
    text = path.read_text(encoding="utf-8")
    last = b.text.split()[-1]
    path.write_text(text.replace(last, "thêm-chữ", 1), encoding="utf-8")  # a hand edit
    page = html(client_as("leader").get("/duyet/"))
    titles = {x.title: x for x in svc.list_bulletins(path).items}
    assert load_bulletins(path).get(DRAFT).title in page
    assert load_bulletins(path).get(APPROVED).title in page
    assert "chờ duyệt lại" in page and "chờ duyệt" in page
    others = [t for t, v in titles.items()
              if v.id not in (DRAFT, APPROVED) and v.status in ("draft", "approved", "retired")]
    assert others and not any(f">{t}<" in page for t in others)
    assert svc.reading(station, load_bulletins(path).get(DRAFT).text) in page  # the reading


@pytest.mark.django_db
def test_approve_records_full_name_web_account_and_the_hash_of_what_airs(
        station, client_as, clocked):
    path = bfile(station)
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    assert DRAFT not in airing(station)
    leader = client_as("leader")
    page = html(leader.get("/duyet/"))
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": version_in(page)})
    assert resp.status_code == 302 and resp["Location"] == "/duyet/"
    b = load_bulletins(path).get(DRAFT)
    assert b.status == "approved" and b.approved_by == "Nguyễn Văn An"
    assert b.approved_account == "web:lanhdao"
    assert b.approved_at == "2026-11-30T12:00:00+07:00"
    assert b.approved_hash == b.approval_hash()
    assert DRAFT in airing(station)
    assert ("bulletin.approve", "Nguyễn Văn An", b.title,
            f"duyệt (dấu nội dung {b.approved_hash})") in audit_rows()
    assert "Đã duyệt" in html(leader.get("/duyet/"))

    # edited after approval through the console: back in the queue, not airing
    editor = client_as("editor")
    v = version_in(html(editor.get(f"/ban-tin/{KEY}/{DRAFT}/")))
    assert editor.post(f"/ban-tin/{KEY}/{DRAFT}/luu/", {
        "title": b.title, "text": b.text + " Thêm một câu.", "version": v}).status_code == 302
    assert DRAFT not in airing(station)
    page = html(leader.get("/duyet/"))
    assert "chờ duyệt lại" in page and "Thêm một câu." in page
    assert leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/",
                       {"version": version_in(page)}).status_code == 302
    assert DRAFT in airing(station)


@pytest.mark.django_db
def test_approving_words_changed_since_the_page_was_opened_is_refused(station, client_as):
    path = bfile(station)
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    leader = client_as("leader")
    seen = version_in(html(leader.get("/duyet/")))
    svc.edit_bulletin(path, DRAFT, text="Lời khác hẳn, sửa sau khi lãnh đạo mở trang.")
    before = path.read_bytes()
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": seen})
    assert resp.status_code == 409
    assert "đã được sửa sau khi bạn mở trang; chưa duyệt" in html(resp)
    assert "Lời khác hẳn, sửa sau khi lãnh đạo mở trang." in html(resp)  # the new words shown
    assert path.read_bytes() == before and DRAFT not in airing(station)


@pytest.mark.django_db
def test_return_needs_a_note_and_the_editor_reads_it(station, client_as, clocked):
    path = bfile(station)
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    leader = client_as("leader")
    before = path.read_bytes()
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/tra-lai/", {"note": "   "})
    assert resp.status_code == 400 and path.read_bytes() == before
    assert "Cần ghi lý do trả lại để người biên tập biết cần sửa gì." in html(resp)
    assert 'class="errors"' in html(resp)
    note = "Ghi rõ giờ tiêm & địa điểm <thôn Đông>"
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/tra-lai/", {"note": note})
    assert resp.status_code == 302
    b = load_bulletins(path).get(DRAFT)
    assert b.status == "returned" and b.review_note == note and b.returned_by == "Nguyễn Văn An"
    assert b.returned_at == "2026-11-30T12:00:00+07:00"
    assert ("bulletin.return", "Nguyễn Văn An", b.title, f"trả lại: {note}") in audit_rows()
    page = html(client_as("editor").get(f"/ban-tin/{KEY}/{DRAFT}/"))
    assert "bị trả lại" in page and "Lý do trả lại" in page
    assert "Ghi rõ giờ tiêm &amp; địa điểm &lt;thôn Đông&gt;" in page  # escaped
    assert "12:00 thứ Hai 30/11/2026" in page  # when, in the station's words
    queue = html(leader.get("/duyet/"))
    assert "Đã trả lại" in queue  # the leader's own message, once
    assert "Không có bản tin nào chờ duyệt." in queue  # out of the queue until sent again


@pytest.mark.django_db
def test_only_leaders_review(station, client_as):
    path = bfile(station)
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    before = path.read_bytes()
    for role in ("editor", "technician", "admin"):
        client = client_as(role)
        assert client.get("/duyet/").status_code == 403
        assert client.get(f"/duyet/{KEY}/{DRAFT}/").status_code == 403
        assert client.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": "x"}).status_code == 403
        assert client.post(f"/duyet/{KEY}/{DRAFT}/tra-lai/", {"note": "x"}).status_code == 403
    assert path.read_bytes() == before
    assert client_as("leader").get(f"/duyet/khong-co/{DRAFT}/").status_code == 404


@pytest.mark.django_db
def test_a_title_with_html_is_escaped_in_the_queue(station, client_as):
    path = bfile(station)
    svc.edit_bulletin(path, DRAFT, title='<b onmouseover="alert(1)">Tin</b>')
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    leader = client_as("leader")
    for page in (html(leader.get("/duyet/")), html(leader.get(f"/duyet/{KEY}/{DRAFT}/"))):
        assert '<b onmouseover' not in page
        assert "&lt;b onmouseover=&quot;alert(1)&quot;&gt;Tin&lt;/b&gt;" in page


@pytest.mark.browser
def test_phone_leader_listens_and_approves(live_console, phone):
    live = live_console()
    path = live.schedule.parent / "bulletins" / f"{KEY}.yaml"
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    login(phone, live, "leader")
    phone.goto(live.url + "/duyet/")
    phone.get_by_role("button", name="Nghe thử").click()
    phone.wait_for_function(
        "() => { const a = document.getElementById('nghe-thu'); return a && a.readyState >= 1 "
        "&& isFinite(a.duration) && a.duration > 0; }", timeout=30000)
    screenshot(phone, "duyet-hang-cho")
    phone.get_by_role("button", name="Duyệt", exact=True).click()
    phone.wait_for_load_state()
    assert "Đã duyệt" in phone.content() and "Không có bản tin nào chờ duyệt" in phone.content()
    b = load_bulletins(path).get(DRAFT)
    assert b.status == "approved" and b.approved_account == "web:lanhdao"
    screenshot(phone, "duyet-xong")


@pytest.mark.django_db
def test_garbled_words_need_the_leader_to_confirm_them(station, client_as):
    path = bfile(station)
    svc.edit_bulletin(path, DRAFT, text="Kinh thua ba con nhan dan, xa to chuc hop dan vao "
                                        "sang chu nhat tai nha van hoa thon.")  # no diacritics
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    leader = client_as("leader")
    version = version_in(html(leader.get(f"/duyet/{KEY}/{DRAFT}/")))
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": version})
    assert resp.status_code == 400 and "có vẻ bị lỗi chữ" in html(resp)
    assert 'name="force"' in html(resp) and "Lời đã đúng, vẫn duyệt" in html(resp)
    assert load_bulletins(path).get(DRAFT).status == "pending"
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": version, "force": "1"})
    assert resp.status_code == 302 and load_bulletins(path).get(DRAFT).status == "approved"
    assert "xác nhận lời đúng" in audit_rows()[-1][3]


@pytest.mark.django_db
def test_times_and_units_written_the_vietnamese_way_are_not_garbled(station, client_as):
    path = bfile(station)
    svc.edit_bulletin(path, DRAFT, text="Bà con chú ý: từ ngày 01/12/2026 lúc 6h30, UBND xã "
                                        "nhận hồ sơ trực tuyến; đường dài 5km, thửa 300m2.")
    svc.submit_bulletins(path, [DRAFT], "Trần Thị Bình")
    leader = client_as("leader")
    version = version_in(html(leader.get(f"/duyet/{KEY}/{DRAFT}/")))
    resp = leader.post(f"/duyet/{KEY}/{DRAFT}/duyet/", {"version": version})
    assert resp.status_code == 302, html(resp)
    assert load_bulletins(path).get(DRAFT).status == "approved"
