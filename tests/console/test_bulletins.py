"""Bản tin: the list by status, the editor (reading beside the words, Nghe thử, Gửi duyệt),
permissions per role, concurrent edits refused without losing words, operator text escaped."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import pytest

from console.conftest import login, screenshot
from loa import station as svc
from loa.script.bulletin import load_bulletins

KEY = "ba-vi-2026"  # the sample station's bulletins file, by its key
DRAFT, APPROVED = "IV.1.b", "IV.1.a"


def bfile(station: Path) -> Path:
    return station.parent / "bulletins" / f"{KEY}.yaml"


def url(bid: str, action: str = "") -> str:
    return f"/ban-tin/{KEY}/{bid}/" + (f"{action}/" if action else "")


def airing(station: Path) -> set[str]:
    return {b.id for pool in svc.load_station(station).bulletins.values() for b in pool}


def audit_actions():
    from loa.console.accounts.models import AuditEntry

    return [(e.action, e.full_name, e.target) for e in AuditEntry.objects.order_by("id")]


def html(resp) -> str:
    return resp.content.decode()


@pytest.mark.django_db
def test_the_list_groups_by_status_with_counts_and_filters(station, client_as):
    listed = svc.list_bulletins(bfile(station))
    approved = [b for b in listed.items if b.status == "approved"]
    drafts = [b for b in listed.items if b.status == "draft"]
    client = client_as("technician")  # everyone logged in reads
    page = html(client.get("/ban-tin/"))
    assert f"Bản nháp ({len(drafts)})" in page and f"Đã duyệt ({len(approved)})" in page
    assert f"Tất cả ({len(listed.items)})" in page
    for b in listed.items:
        assert b.title in page
    only = html(client.get("/ban-tin/?trang-thai=approved"))
    assert all(b.title in only for b in approved)
    assert not any(b.title in only for b in drafts)
    assert 'class="list"' in only


@pytest.mark.django_db
def test_the_editor_saves_and_sees_the_words_as_the_voice_reads_them(station, client_as):
    client = client_as("editor")
    page = client.get(url(DRAFT))
    body = html(page)
    assert page.status_code == 200 and 'id="id_title"' in body and 'id="id_text"' in body
    version = re.search(r'name="version" value="([0-9a-f]+)"', body).group(1)
    resp = client.post(url(DRAFT, "luu"), {
        "title": "Tiêm phòng cho đàn gia súc",
        "text": "Ngày 09/6/2025 xã tiêm phòng lúc 7h30 tại 3 thôn.", "version": version})
    assert resp.status_code == 302 and resp["Location"] == url(DRAFT)
    b = load_bulletins(bfile(station)).get(DRAFT)
    assert b.title == "Tiêm phòng cho đàn gia súc"
    page = html(client.get(url(DRAFT)))
    assert "Đã lưu “Tiêm phòng cho đàn gia súc”" in page
    expected = svc.reading(station, b.text)
    assert "chín tháng sáu năm hai nghìn" in expected  # the reading is the normalizer's
    assert expected in page
    preview = client.post(url(DRAFT, "cach-doc"), {"text": "Lúc 7h30"})
    assert preview.json()["reading"] == svc.reading(station, "Lúc 7h30")
    assert ("bulletin.edit", "Trần Thị Bình", "Tiêm phòng cho đàn gia súc") in audit_actions()


@pytest.mark.django_db
def test_editing_an_approved_bulletin_puts_it_back_to_chờ_duyệt_lại(station, client_as):
    assert APPROVED in airing(station)
    client = client_as("editor")
    body = html(client.get(url(APPROVED)))
    version = re.search(r'name="version" value="([0-9a-f]+)"', body).group(1)
    b = load_bulletins(bfile(station)).get(APPROVED)
    resp = client.post(url(APPROVED, "luu"), {"title": b.title, "text": b.text + " Xin cảm ơn.",
                                              "version": version})
    assert resp.status_code == 302
    page = html(client.get(url(APPROVED)))
    assert "chờ duyệt lại" in page and "chưa duyệt lại thì không được phát" in page
    assert APPROVED not in airing(station)
    assert load_bulletins(bfile(station)).get(APPROVED).status == "pending"


@pytest.mark.django_db
def test_a_concurrent_edit_is_refused_and_the_officers_words_are_kept(station, client_as):
    one, two = client_as("editor"), client_as("editor", "technician")
    opened = re.search(r'name="version" value="([0-9a-f]+)"',
                       html(one.get(url(DRAFT)))).group(1)
    assert two.post(url(DRAFT, "luu"), {"title": "Bản của người thứ hai", "text": "Lời hai.",
                                        "version": opened}).status_code == 302
    saved = bfile(station).read_bytes()
    resp = one.post(url(DRAFT, "luu"), {"title": "Bản của người thứ nhất",
                                        "text": "Lời một, gõ cả buổi sáng.", "version": opened})
    assert resp.status_code == 409
    body = html(resp)
    assert "đã được sửa ở nơi khác sau khi bạn mở nó; chưa lưu gì" in body
    assert "Lời một, gõ cả buổi sáng." in body  # still in the form: nothing lost
    assert "Lời hai." in body  # and what the other saved is shown beside it
    assert bfile(station).read_bytes() == saved
    # saving again, knowingly, overwrites
    fresh = re.search(r'name="version" value="([0-9a-f]+)"', body).group(1)
    assert one.post(url(DRAFT, "luu"), {"title": "Bản của người thứ nhất",
                                        "text": "Lời một, gõ cả buổi sáng.",
                                        "version": fresh}).status_code == 302
    assert load_bulletins(bfile(station)).get(DRAFT).text == "Lời một, gõ cả buổi sáng."


@pytest.mark.django_db
def test_submit_and_empty_fields_refused_in_vietnamese(station, client_as):
    client = client_as("editor")
    version = re.search(r'name="version" value="([0-9a-f]+)"',
                        html(client.get(url(DRAFT)))).group(1)
    before = bfile(station).read_bytes()
    resp = client.post(url(DRAFT, "luu"), {"title": "  ", "text": "", "version": version})
    assert resp.status_code == 400 and bfile(station).read_bytes() == before
    assert "Tiêu đề không được để trống." in html(resp)
    assert "Lời đọc không được để trống." in html(resp)
    assert client.post(url(DRAFT, "gui-duyet")).status_code == 302
    b = load_bulletins(bfile(station)).get(DRAFT)
    assert b.status == "pending" and b.submitted_by == "Trần Thị Bình"
    assert "chờ duyệt" in html(client.get(url(DRAFT)))
    assert ("bulletin.submit", "Trần Thị Bình", b.title) in audit_actions()
    again = client.post(url(APPROVED, "gui-duyet"))
    assert again.status_code == 400 and "đã được duyệt, không cần gửi duyệt" in html(again)


@pytest.mark.django_db
def test_a_double_click_on_luu_saves_once_without_a_conflict(station, client_as):
    client = client_as("editor")
    version = re.search(r'name="version" value="([0-9a-f]+)"',
                        html(client.get(url(DRAFT)))).group(1)
    form = {"title": "Tiêm phòng  dại", "text": "Mời bà con\r\nđưa chó đi tiêm.", "version": version}
    first, second = client.post(url(DRAFT, "luu"), form), client.post(url(DRAFT, "luu"), form)
    assert (first.status_code, second.status_code) == (302, 302)
    b = load_bulletins(bfile(station)).get(DRAFT)
    assert (b.title, b.text) == ("Tiêm phòng dại", "Mời bà con đưa chó đi tiêm.")
    # different words over the same old version are still a conflict
    form["text"] = "Lời khác."
    assert client.post(url(DRAFT, "luu"), form).status_code == 409


@pytest.mark.django_db
def test_a_nul_character_is_refused_in_vietnamese(station, client_as):
    client = client_as("editor")
    version = re.search(r'name="version" value="([0-9a-f]+)"',
                        html(client.get(url(DRAFT)))).group(1)
    before = bfile(station).read_bytes()
    resp = client.post(url(DRAFT, "luu"), {"title": "Tin\x00 mới", "text": "Lời",
                                          "version": version})
    assert resp.status_code == 400 and bfile(station).read_bytes() == before
    assert "ký tự NUL" in html(resp) and "Null characters" not in html(resp)


@pytest.mark.django_db
def test_roles_editor_edits_leader_reads_and_listens_others_only_read(station, client_as):
    leader, tech, admin = client_as("leader"), client_as("technician"), client_as("admin")
    before = bfile(station).read_bytes()
    page = html(leader.get(url(DRAFT)))
    assert 'id="id_text"' not in page and "Nghe thử" in page and "Gửi duyệt" not in page
    page = html(tech.get(url(DRAFT)))
    assert 'id="id_text"' not in page and "Nghe thử" not in page
    for client in (leader, tech, admin):
        assert client.post(url(DRAFT, "luu"), {"title": "x", "text": "y",
                                               "version": "0"}).status_code == 403
        assert client.post(url(DRAFT, "gui-duyet")).status_code == 403
        assert client.post(url(DRAFT, "cach-doc"), {"text": "x"}).status_code == 403
    for client in (tech, admin):
        assert client.post(url(DRAFT, "nghe-thu")).status_code == 403
        assert client.get(url(DRAFT) + "nghe-thu.wav").status_code == 403
    assert bfile(station).read_bytes() == before
    assert client_as("editor").get("/ban-tin/khong-co/IV.1.a/").status_code == 404
    assert client_as("editor").get(url("IV.9.z")).status_code == 404


@pytest.mark.django_db
def test_listening_serves_the_clip_of_the_bulletin_as_it_is(station, client_as):
    client = client_as("leader")
    assert client.get(url(DRAFT) + "nghe-thu.wav").status_code == 404  # not made yet
    resp = client.post(url(DRAFT, "nghe-thu"))
    assert resp.status_code == 302 and resp["Location"].endswith("#nghe-thu")
    page = html(client.get(resp["Location"]))
    src = re.search(r'<audio id="nghe-thu"[^>]* src="([^"]+)"', page).group(1)
    wav = client.get(src.replace("&amp;", "&"))
    assert wav.status_code == 200 and wav["Content-Type"] == "audio/wav"
    data = b"".join(wav.streaming_content)
    clip = svc.find_listen_clip(station, load_bulletins(bfile(station)).get(DRAFT))
    assert data == clip.path.read_bytes()
    with wave.open(io.BytesIO(data)) as w:
        assert abs(w.getnframes() / w.getframerate() - clip.seconds) < 0.05
    assert any(a[0] == "bulletin.listen" for a in audit_actions())


@pytest.mark.django_db
def test_a_title_with_html_is_escaped_everywhere(station, client_as):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    svc.edit_bulletin(bfile(station), DRAFT, title=evil)
    assert load_bulletins(bfile(station)).get(DRAFT).title == evil
    client = client_as("editor")
    for page in (html(client.get("/ban-tin/")), html(client.get(url(DRAFT)))):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_a_broken_bulletins_file_is_reported_on_the_page(station, client_as):
    path = bfile(station)
    path.write_text(path.read_text(encoding="utf-8").replace("status: draft", "status: nháp", 1),
                    encoding="utf-8")
    client = client_as("editor")
    page = client.get("/ban-tin/")
    assert page.status_code == 200 and "trạng thái &#x27;nháp&#x27; không hợp lệ" in html(page)
    assert "class=\"errors\"" in html(page) and "dòng" in html(page)
    detail = client.get(url(DRAFT))
    assert detail.status_code == 400 and "trạng thái &#x27;nháp&#x27; không hợp lệ" in html(detail)


@pytest.mark.browser
def test_phone_editor_nghe_thu_plays_the_real_clip(live_console, phone):
    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + url(DRAFT))
    phone.get_by_role("button", name="Nghe thử").click()
    audio = phone.locator("audio#nghe-thu")
    audio.wait_for()
    phone.wait_for_function(
        "() => { const a = document.getElementById('nghe-thu'); return a && a.readyState >= 1 "
        "&& isFinite(a.duration) && a.duration > 0; }", timeout=30000)
    duration = phone.evaluate("document.getElementById('nghe-thu').duration")
    src = audio.evaluate("a => a.currentSrc")
    wav = phone.request.get(src)
    assert wav.ok and wav.headers["content-type"] == "audio/wav"
    # the clip file in the console's clip store, named by the hash the URL carries
    clip_file = live.data / "clips" / (src.rsplit("?v=", 1)[1] + ".wav")
    assert wav.body() == clip_file.read_bytes()
    with wave.open(str(clip_file)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 5 and abs(duration - seconds) < 0.1, (duration, seconds)
    assert phone.locator("#cach-doc").inner_text().strip()  # the reading beside the words
    screenshot(phone, "ban-tin-nghe-thu")
    phone.get_by_role("button", name="Gửi duyệt").click()
    phone.wait_for_load_state()
    assert "Đã gửi duyệt" in phone.content()
    screenshot(phone, "ban-tin-gui-duyet")
    phone.goto(live.url + "/ban-tin/")
    screenshot(phone, "ban-tin-danh-sach")


@pytest.mark.browser
def test_back_after_gui_duyet_shows_the_bulletin_as_it_is_now(live_console, phone):
    live = live_console()
    login(phone, live, "editor")
    phone.goto(live.url + url(DRAFT))
    phone.get_by_role("button", name="Nghe thử").click()  # a page of its own in the history
    phone.locator("audio#nghe-thu").wait_for()
    assert phone.inner_text("#trang-thai") == "bản nháp"
    phone.get_by_role("button", name="Gửi duyệt").click()
    phone.wait_for_load_state()
    assert "Đã gửi duyệt" in phone.content()
    phone.go_back()  # the page as it was before Gửi duyệt, unless the browser asks again
    phone.wait_for_load_state()
    assert phone.inner_text("#trang-thai") == "chờ duyệt"
    # after Đăng xuất, Back shows no page of the station
    phone.click("header.top summary")
    phone.get_by_role("button", name="Đăng xuất").click()
    phone.wait_for_url(lambda u: "/dang-nhap/" in u or u.endswith(f":{live.port}/"))
    phone.go_back()
    phone.wait_for_load_state()
    assert phone.locator("#trang-thai").count() == 0 and "/dang-nhap/" in phone.url
