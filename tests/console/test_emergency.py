"""Khẩn cấp: a message or an approved bulletin, villages by name (an unknown one refused),
a confirm page that repeats what will be read and where, then "Phát ngay" through the real
`loa run` (WAV sink) and its progress read from the log until every village has aired.
Without a running daemon the page says the message was NOT aired. Every send audited."""

from __future__ import annotations

import json
import re
import time
from html import unescape

import pytest
from helpers import heartbeat_up, loa_env, one_session_station, rows_in, start_daemon, wait_for

from console.conftest import login, screenshot

TEXTS = ["Bà con nộp hồ sơ trực tuyến tại nhà.", "Điểm phục vụ có wifi miễn phí."]
STORM = "Bão số ba sắp đổ bộ, bà con không ra đồng."


def text_of(resp) -> str:
    return unescape(resp.content.decode())


def _audit(action):
    from loa.console.accounts.models import AuditEntry

    return list(AuditEntry.objects.filter(action=action))


@pytest.fixture
def small(station, settings, tmp_path):
    """Two villages (Toàn xã, Thôn 1) read by espeak-ng, two approved bulletins; the data
    folder is the station fixture's. Returns (schedule, data folder)."""
    path = one_session_station(tmp_path / "small", None, TEXTS)
    settings.LOA_SCHEDULE = str(path)
    return path, tmp_path / "data"


@pytest.fixture
def daemon(small):
    """The real `loa run` on the small station, writing what it plays to WAV files."""
    schedule, data = small
    proc = start_daemon(loa_env(data), schedule, "--wav-dir", str(schedule.parent / "played"),
                        sink="wav")
    try:
        assert wait_for(lambda: heartbeat_up(data), 90), proc.stderr.read()
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, err


# --- the form, without a daemon --------------------------------------------------------------

@pytest.mark.django_db
def test_the_form_offers_villages_by_name_and_approved_bulletins_by_title(client_as, station):
    resp = client_as("editor").get("/khan-cap/")
    html = text_of(resp)
    assert resp.status_code == 200
    assert 'value="toan-xa"' in html and "> Toàn xã</label>" in html
    assert "> Thôn Văn Hòa</label>" in html
    assert "Tuyên truyền về vai trò và tầm quan trọng" in html  # approved, by title
    assert "KHÔNG CHẠY" in html  # no daemon on this machine: said before anything is typed
    assert 'id="id_text"' in html and ">Xác nhận</button>" in html


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "message"), [
    ({"text": STORM, "zones": ["toan-xa", "thon-gia"]},
     "không có vùng 'thon-gia' trong lịch phát"),
    ({"text": STORM}, "hãy chọn ít nhất một vùng phát"),
    ({"zones": ["toan-xa"]}, "hãy nhập lời tin khẩn cấp hoặc chọn một bản tin đã duyệt"),
    ({"text": STORM, "bulletin": "ba-vi-2026:IV.1.a", "zones": ["toan-xa"]},
     "chỉ nhập lời hoặc chọn một bản tin, không cả hai"),
    ({"bulletin": "ba-vi-2026:../../etc/passwd", "zones": ["toan-xa"]},
     "bản tin đã chọn không có hoặc chưa được duyệt"),
    ({"text": "!!! ...", "zones": ["toan-xa"]}, "lời tin khẩn cấp không có chữ nào"),
    ({"text": "a" * 5001, "zones": ["toan-xa"]}, "lời tin quá dài"),
])
@pytest.mark.parametrize("step", ["confirm", "send"])
def test_mistakes_are_refused_in_vietnamese_and_nothing_is_sent(client_as, station, tmp_path,
                                                              data, message, step):
    resp = client_as("leader").post("/khan-cap/", {**data, "step": step})
    assert resp.status_code == 400
    html = text_of(resp)
    assert message.casefold() in html.casefold(), html[-3000:]
    assert "Phát ngay" not in html  # back on the form, not the confirm page
    assert not (tmp_path / "data" / "control").exists()  # no request reached the channel
    assert not _audit("emergency.send")


@pytest.mark.django_db
def test_a_draft_bulletin_cannot_be_picked(client_as, station):
    draft_key = None
    html = text_of(client_as("editor").get("/khan-cap/"))
    for key in re.findall(r'<option value="([^"]+)"', html):
        assert key == "" or key.startswith("ba-vi-2026:")
    from loa.script.bulletin import load_bulletins

    bfile = load_bulletins(station.parent / "bulletins" / "ba-vi-2026.yaml")
    drafts = [b for b in bfile.bulletins if not b.is_approved]
    assert drafts, "the sample station has drafts"
    draft_key = f"ba-vi-2026:{drafts[0].id}"
    assert f'value="{draft_key}"' not in html
    resp = client_as("editor").post("/khan-cap/", {"bulletin": draft_key, "zones": ["toan-xa"],
                                                   "step": "send"})
    assert resp.status_code == 400 and "chưa được duyệt" in text_of(resp)


@pytest.mark.django_db
def test_confirm_repeats_what_and_where_and_sends_nothing(client_as, station, tmp_path):
    resp = client_as("editor").post("/khan-cap/", {
        "text": STORM + " <script>alert(1)</script>", "zones": ["thon-van-hoa", "toan-xa"],
        "step": "confirm"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert 'id="vung-phat">Toàn xã, Thôn Văn Hòa</span>' in html
    assert ">Phát ngay</button>" in html and ">Sửa lại</button>" in html
    assert not (tmp_path / "data" / "control").exists()
    back = client_as("editor").post("/khan-cap/", {"text": STORM, "zones": ["toan-xa"],
                                                   "step": "edit"})
    assert back.status_code == 200 and STORM in text_of(back) and "Phát ngay" not in text_of(back)


@pytest.mark.django_db
def test_without_a_daemon_the_page_says_it_was_not_aired(client_as, station):
    resp = client_as("editor").post("/khan-cap/", {"text": STORM, "zones": ["toan-xa"],
                                                   "step": "send"})
    assert resp.status_code == 400
    html = text_of(resp)
    assert "Tin khẩn cấp CHƯA được phát." in html
    assert "Không thấy 'loa run' đang chạy trên máy này" in html
    entry, = _audit("emergency.failed")
    assert entry.full_name == "Trần Thị Bình" and entry.target == STORM
    assert "Toàn xã" in entry.detail and not _audit("emergency.send")


@pytest.mark.django_db
def test_a_long_message_without_a_title_is_named_by_its_first_whole_words(client_as, station):
    flood = ("Bà con chú ý, nước sông Đà đang lên nhanh, bà con thôn Văn Hòa di chuyển "
             "người và tài sản lên chỗ cao ngay.")
    resp = client_as("editor").post("/khan-cap/", {"text": flood, "zones": ["thon-van-hoa"],
                                                   "step": "confirm"})
    assert resp.status_code == 200
    title = "Bà con chú ý, nước sông Đà đang lên nhanh, bà con thôn Văn…"  # whole words
    assert title in text_of(resp) and "Văn H<" not in text_of(resp)
    client_as("editor").post("/khan-cap/", {"text": flood, "zones": ["thon-van-hoa"],
                                            "step": "send"})  # no daemon: refused, audited
    assert _audit("emergency.failed")[-1].target == title


@pytest.mark.django_db
def test_an_unknown_emergency_is_not_found(client_as, station):
    client = client_as("leader")
    assert client.get("/khan-cap/khan-cap-20261130-063000/").status_code == 404
    assert client.get("/khan-cap/..%2F..%2Fetc/trang-thai.json").status_code == 404


def test_progress_from_the_log_and_the_daemon(tmp_path, monkeypatch):
    """Without Django: waiting -> playing -> finished/failed; a daemon gone -> stopped."""
    from datetime import datetime

    from console.log_rows import play, write_plays
    from loa.clock import DEFAULT_TZ
    from loa.station import Names, emergency_progress

    monkeypatch.setenv("LOA_DATA_DIR", str(tmp_path))
    names = Names(DEFAULT_TZ, {"toan-xa": "Toàn xã", "thon-1": "Thôn 1"})
    eid = "khan-cap-20261130-063000"
    p = emergency_progress(eid, ["toan-xa", "thon-1"], names, running=True)
    assert (p.state, p.state_vi, p.done) == ("waiting", "đang chờ phát", False)
    assert emergency_progress(eid, ["toan-xa"], names, running=False).state == "stopped"
    at = datetime(2026, 11, 30, 6, 30, tzinfo=DEFAULT_TZ)
    write_plays(tmp_path / "loa.sqlite3", [
        play("toan-xa", at, (eid, "Bão"), session="khan-cap", program="khan-cap"),
        play("thon-1", at, (eid, "Bão"), "failed", reason="lỗi thiết bị", session="khan-cap",
             program="khan-cap")])
    p = emergency_progress(eid, ["toan-xa", "thon-1"], names, running=True)
    assert (p.state, p.title, p.done) == ("failed", "Bão", True)
    assert [(z.zone_name, z.status_vi, z.reason) for z in p.zones] == [
        ("Toàn xã", "đã phát", ""), ("Thôn 1", "lỗi", "lỗi thiết bị")]


# --- the real daemon ---------------------------------------------------------------------------

def _follow(client, url: str, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        p = json.loads(client.get(url).content)
        if not seen or seen[-1] != p["state"]:
            seen.append(p["state"])
        if p["done"]:
            p["seen"] = seen
            return p
        time.sleep(0.3)
    raise AssertionError(f"the emergency did not finish: {seen}")


@pytest.mark.django_db(transaction=True)
def test_phat_ngay_airs_through_the_real_daemon_and_the_page_follows_it(client_as, small,
                                                                       daemon):
    schedule, data = small
    client = client_as("editor")
    form = text_of(client.get("/khan-cap/"))
    assert "KHÔNG CHẠY" not in form and "> Thôn 1</label>" in form
    assert "Đang chạy" in text_of(client.get("/"))  # Tổng quan sees the same daemon
    confirm = client.post("/khan-cap/", {"text": STORM, "title": "Bão số 3",
                                         "zones": ["toan-xa", "thon-1"], "step": "confirm"})
    assert confirm.status_code == 200 and "Phát ngay" in text_of(confirm)
    sent = client.post("/khan-cap/", {"text": STORM, "title": "Bão số 3",
                                      "zones": ["toan-xa", "thon-1"], "step": "send"})
    assert sent.status_code == 302, text_of(sent)[-2000:]
    eid = re.fullmatch(r"/khan-cap/(khan-cap-\d{8}-\d{6}(?:-\d+)?)/", sent["Location"])[1]
    page = client.get(sent["Location"])
    assert page.status_code == 200
    html = text_of(page)
    assert "Máy phát đã nhận tin khẩn cấp “Bão số 3” và phát ngay tới Toàn xã, Thôn 1." in html
    assert f'data-url="/khan-cap/{eid}/trang-thai.json"' in html
    done = _follow(client, f"/khan-cap/{eid}/trang-thai.json")
    assert done["state"] == "finished", done
    assert done["zones"] == [
        {"zone": "Toàn xã", "status": "played", "status_vi": "đã phát", "reason": ""},
        {"zone": "Thôn 1", "status": "played", "status_vi": "đã phát", "reason": ""}]
    rows = [r for r in rows_in(data) if r.bulletin.endswith(eid)]
    assert sorted((r.zone, r.status, r.title) for r in rows) == [
        ("thon-1", "played", "Bão số 3"), ("toan-xa", "played", "Bão số 3")]
    assert "Đã phát xong" in text_of(client.get(sent["Location"]))
    entry, = _audit("emergency.send")
    assert entry.full_name == "Trần Thị Bình" and entry.target == "Bão số 3"
    assert f"phát ngay tới Toàn xã, Thôn 1 (mã {eid}); lời: {STORM}" == entry.detail

    # an approved bulletin, to one village, by a leader
    leader = client_as("leader")
    sent = leader.post("/khan-cap/", {"bulletin": "bulletins:IV.1", "zones": ["thon-1"],
                                      "step": "send"})
    assert sent.status_code == 302, text_of(sent)[-2000:]
    eid2 = sent["Location"].strip("/").split("/")[-1]
    done = _follow(leader, f"/khan-cap/{eid2}/trang-thai.json")
    assert done["state"] == "finished" and [z["zone"] for z in done["zones"]] == ["Thôn 1"]
    row, = [r for r in rows_in(data) if r.bulletin.endswith(eid2)]
    assert (row.zone, row.status, row.title) == ("thon-1", "played", "Bản tin 1")


@pytest.mark.django_db(transaction=True)
def test_a_double_click_on_phat_ngay_airs_once(client_as, small, daemon):
    """Two "Phát ngay" of the same words to the same villages at once (a double click, or
    two officers): one emergency airs; the other request follows that one's progress."""
    import threading

    schedule, data = small
    clients = [client_as("editor"), client_as("leader")]
    form = {"text": STORM, "zones": ["toan-xa"], "step": "send"}
    answers = [None, None]

    def click(i):
        answers[i] = clients[i].post("/khan-cap/", form)

    clicks = [threading.Thread(target=click, args=(i,)) for i in range(2)]
    for t in clicks:
        t.start()
    for t in clicks:
        t.join(60)
    assert [a.status_code for a in answers] == [302, 302]
    assert answers[0]["Location"] == answers[1]["Location"]
    eid = answers[0]["Location"].strip("/").split("/")[-1]
    for c in clients:
        assert _follow(c, f"/khan-cap/{eid}/trang-thai.json")["state"] == "finished"
    assert [r.zone for r in rows_in(data) if "khan-cap" in r.bulletin] == ["toan-xa"]
    assert len(_audit("emergency.send")) == 1


@pytest.mark.browser
def test_khan_cap_on_a_phone_with_the_real_daemon(live_console, phone, tmp_path):
    schedule = one_session_station(tmp_path / "small", None, TEXTS)
    live = live_console(schedule=schedule)
    proc = start_daemon(loa_env(live.data), schedule, "--wav-dir", str(tmp_path / "played"),
                        sink="wav")
    try:
        assert wait_for(lambda: heartbeat_up(live.data), 90)
        login(phone, live, "leader")
        phone.click("header.top a.emergency")  # one tap from any page
        phone.fill("#id_text", STORM)
        phone.check("text=Thôn 1")
        screenshot(phone, "khan-cap")
        phone.get_by_role("button", name="Xác nhận").click()
        assert phone.inner_text("#vung-phat") == "Thôn 1"
        assert phone.inner_text("#loi-doc") == STORM
        screenshot(phone, "khan-cap-xac-nhan")
        phone.get_by_role("button", name="Phát ngay").click()
        phone.wait_for_selector("#trang-thai[data-state=finished]", timeout=90000)
        assert phone.inner_text("#cac-vung tbody") == "Thôn 1\tĐã phát"
        screenshot(phone, "khan-cap-da-phat")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    # the daemon is gone: the same message is refused, saying it was not aired
    phone.goto(live.url + "/khan-cap/")
    assert "KHÔNG CHẠY" in phone.inner_text("#khong-chay")
    screenshot(phone, "khan-cap-khong-chay")
    phone.fill("#id_text", STORM)
    phone.check("text=Toàn xã")
    phone.get_by_role("button", name="Xác nhận").click()
    phone.get_by_role("button", name="Phát ngay").click()
    assert "Tin khẩn cấp CHƯA được phát." in phone.inner_text("#loi-gui")
    screenshot(phone, "khan-cap-chua-phat")
