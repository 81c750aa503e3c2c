"""Nhật ký thao tác: newest first, in the station's zone and Vietnamese, by full name and
action label; filters by person, action and dates; paginated; admins and leaders only."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakeclock import FakeClock

from loa.clock import DEFAULT_TZ
from loa.console.accounts.models import AuditEntry
from loa.console.pages.views.audit import action_vi, vi_when

UTC = ZoneInfo("UTC")


@pytest.fixture
def entries(db, settings):
    settings.LOA_CLOCK = FakeClock(datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ))
    AuditEntry.objects.all().delete()
    rows = [
        # 23:30 UTC on the 29th is 06:30 on Monday the 30th in Vietnam
        (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "bientap", "Trần Thị Bình", "plan.upload",
         "kế hoạch «Kiểm soát thủ tục hành chính»", "tệp «KH 56.docx», 19 mục nội dung"),
        (datetime(2026, 11, 30, 2, 0, tzinfo=UTC), "lanhdao", "Nguyễn Văn An",
         "bulletin.approve", "bản tin «Tiêm phòng dại»", ""),
        (datetime(2026, 11, 30, 17, 5, tzinfo=UTC), "quantri", "Phạm Thị Dung", "user.add",
         "Lê Văn Cường", "tạo tài khoản kythuat, vai trò: Kỹ thuật"),
        (datetime(2026, 11, 30, 18, 0, tzinfo=UTC), "kythuat", "Lê Văn Cường", "zone.edit",
         "<b>Thôn</b> Đoài", "<script>alert(1)</script>"),
    ]
    for at, username, full, action, target, detail in rows:
        AuditEntry.objects.create(at=at, username=username, full_name=full, action=action,
                                  target=target, detail=detail)


def rows_of(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
            for r in body.split("<tr>")[1:]]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "leader"])
def test_newest_first_with_names_and_vietnamese_times(client_as, station, entries, role):
    page = client_as(role).get("/thao-tac/").content.decode()
    rows = rows_of(page)
    name, username = {"admin": ("Phạm Thị Dung", "quantri"), "leader": ("Nguyễn Văn An",
                                                                      "lanhdao")}[role]
    assert rows == [
        f"09:00 thứ Ba 01/12/2026 · {name} Đăng nhập: {username} đăng nhập",  # the test's login
        "01:00 thứ Ba 01/12/2026 · Lê Văn Cường Vùng loa: sửa: &lt;b&gt;Thôn&lt;/b&gt; Đoài "
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "00:05 thứ Ba 01/12/2026 · Phạm Thị Dung Thêm tài khoản: Lê Văn Cường "
        "tạo tài khoản kythuat, vai trò: Kỹ thuật",
        "09:00 thứ Hai 30/11/2026 · Nguyễn Văn An Duyệt bản tin: bản tin «Tiêm phòng dại»",
        "06:30 thứ Hai 30/11/2026 · Trần Thị Bình Tải lên kế hoạch: kế hoạch «Kiểm soát thủ tục "
        "hành chính» tệp «KH 56.docx», 19 mục nội dung",
    ]
    assert "<script>alert(1)" not in page and "<b>Thôn" not in page
    assert "5 thao tác, mới nhất trước." in page


@pytest.mark.django_db
def test_filters_by_person_action_and_station_dates(client_as, station, entries):
    admin = client_as("admin")
    page = admin.get("/thao-tac/", {"person": "lanhdao"}).content.decode()
    assert rows_of(page) == [
        "09:00 thứ Hai 30/11/2026 · Nguyễn Văn An Duyệt bản tin: bản tin «Tiêm phòng dại»"]
    page = admin.get("/thao-tac/", {"action": "plan.upload"}).content.decode()
    assert len(rows_of(page)) == 1 and "Trần Thị Bình" in rows_of(page)[0]
    # the person list names people; the action list reads in Vietnamese
    assert '<option value="lanhdao">Nguyễn Văn An</option>' in page
    assert '<option value="plan.upload" selected>Tải lên kế hoạch</option>' in page
    # dates are the station's days: 00:05 on 1/12 there is still 30/11 in UTC
    page = admin.get("/thao-tac/", {"since": "2026-12-01", "until": "2026-12-01",
                                    "action": ["zone.edit"]}).content.decode()
    assert [r[:23] for r in rows_of(page)] == ["01:00 thứ Ba 01/12/2026"]
    page = admin.get("/thao-tac/", {"since": "2026-12-01", "until": "2026-12-01",
                                    "person": "quantri"}).content.decode()
    assert [r[:23] for r in rows_of(page)] == ["09:00 thứ Ba 01/12/2026",  # the test's login
                                                "00:05 thứ Ba 01/12/2026"]
    page = admin.get("/thao-tac/", {"until": "2026-11-30"}).content.decode()
    assert len(rows_of(page)) == 2


@pytest.mark.django_db
def test_one_line_per_kind_of_action_in_the_filter(client_as, station, entries):
    at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    for action in ("bulletin.return", "bulletin.reject"):  # the same thing, two codes
        AuditEntry.objects.create(at=at, username="lanhdao", full_name="Nguyễn Văn An",
                                  action=action, target="bản tin «Tiêm phòng dại»")
    page = client_as("admin").get("/thao-tac/").content.decode()
    assert page.count(">Trả lại bản tin</option>") == 1
    assert page.count(">Tải báo cáo</option>") == 1
    page = client_as("admin").get("/thao-tac/", {"action": "bulletin.return"}).content.decode()
    assert [r.split(" · ", 1)[1] for r in rows_of(page)] == [
        "Nguyễn Văn An Trả lại bản tin: bản tin «Tiêm phòng dại»"] * 2


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "message"), [
    ({"since": "2026-12-02", "until": "2026-12-01"}, "“Từ ngày” phải trước hoặc bằng “Đến ngày”."),
    ({"since": "30/11/2026x"}, "Ngày bắt đầu không hợp lệ."),
    ({"person": "khong-co"}, "Không có người này trong nhật ký."),
    ({"action": "drop.table"}, "Không có loại việc này."),
    ({"until": "9999-12-31"}, "Ngày phải trong khoảng năm 1900 đến 9998."),
    ({"since": "0001-01-01"}, "Ngày phải trong khoảng năm 1900 đến 9998."),
])
def test_bad_filters_say_so(client_as, station, entries, query, message):
    resp = client_as("leader").get("/thao-tac/", query)
    assert resp.status_code == 400
    page = resp.content.decode()
    assert 'class="errors"' in page and message in page and rows_of(page) == []


@pytest.mark.django_db
def test_pages_of_fifty_keep_the_filter(client_as, station, entries):
    start = datetime(2026, 10, 1, 8, 0, tzinfo=DEFAULT_TZ)
    AuditEntry.objects.bulk_create(
        AuditEntry(at=start + timedelta(hours=i), username="bientap", full_name="Trần Thị Bình",
                   action="bulletin.edit", target=f"bản tin «Số {i}»") for i in range(60))
    leader = client_as("leader")
    page = leader.get("/thao-tac/", {"action": "bulletin.edit"}).content.decode()
    rows = rows_of(page)
    assert len(rows) == 50 and "«Số 59»" in rows[0] and "Trang 1/2" in page
    assert "?action=bulletin.edit&amp;trang=2" in page
    page = leader.get("/thao-tac/", {"action": "bulletin.edit", "trang": "2"}).content.decode()
    rows = rows_of(page)
    assert len(rows) == 10 and "«Số 9»" in rows[0] and "«Số 0»" in rows[-1]
    assert "Trang 2/2" in page


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["editor", "technician"])
def test_editors_and_technicians_may_not_read_it(client_as, station, entries, role):
    resp = client_as(role).get("/thao-tac/")
    assert resp.status_code == 403 and "Tiêm phòng dại" not in resp.content.decode()


def test_action_labels_and_times():
    assert action_vi("bulletin.approve") == "Duyệt bản tin"
    assert action_vi("schedule.save") == "Lịch phát: lưu"
    assert action_vi("holiday.delete") == "Ngày nghỉ: xóa"
    assert action_vi("weird.thing_done") == "weird: thing done"  # unknown: still readable
    at = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert vi_when(at, DEFAULT_TZ) == "06:30 thứ Hai 30/11/2026"
    assert vi_when("2026-12-06T07:00:00+07:00", DEFAULT_TZ) == "07:00 Chủ nhật 06/12/2026"
