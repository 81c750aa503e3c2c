"""Tổng quan: is `loa run` running (its real lock and heartbeat), is the clock trusted, what
plays now and next (titles, village names, Vietnamese times), last errors, disk, clips in
the backup voice, a broken schedule's problems (file and line), bulletins waiting for
approval; the status part refreshes itself."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from fakeclock import FakeClock

from console.conftest import login, screenshot
from console.log_rows import BULLETINS, play, write_plays
from loa.clock import DEFAULT_TZ

MONDAY = datetime(2026, 11, 30, 5, 0, tzinfo=DEFAULT_TZ)


def text_of(resp) -> str:
    """The page as read: tags dropped, spaces collapsed."""
    assert resp.status_code == 200
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", resp.content.decode())).split())


def section(resp, sid: str) -> str:
    """The text of one <section id=...> of the page."""
    html = resp.content.decode()
    start = html.index(f'id="{sid}"')
    return " ".join(unescape(re.sub(r"<[^>]+>", " ",
                                    html[start:html.index("</section>", start)])).split())


@pytest.fixture
def clock(settings):
    settings.LOA_CLOCK = FakeClock(MONDAY)
    return settings.LOA_CLOCK


@pytest.mark.django_db
def test_without_a_daemon_it_says_so_and_shows_what_comes_next(client_as, station, clock):
    resp = client_as("technician").get("/")
    html = text_of(resp)
    assert "KHÔNG CHẠY trên máy này" in html
    assert "Cập nhật lúc 05:00 thứ Hai 30/11/2026" in html
    upcoming = section(resp, "sap-phat")
    assert "06:30 thứ Hai 30/11/2026 · Buổi sáng — Toàn xã, Thôn Văn Hòa" in upcoming
    assert "17:00 thứ Hai 30/11/2026 · Buổi chiều — Toàn xã, Thôn Văn Hòa" in upcoming
    assert "Tuyên truyền về vai trò và tầm quan trọng" in upcoming
    assert "toan-xa" not in upcoming and "IV.1.a" not in upcoming  # names, not ids
    assert "Không có gì đang phát." in html and "Không có lỗi nào." in html
    assert "trống trên" in html  # disk space
    assert "Không có bản tin nào chờ duyệt." in html
    assert "Không có bản tin nào đọc bằng giọng dự phòng." in html


@pytest.mark.django_db
def test_a_running_daemon_its_clock_and_what_plays_now(client_as, station, clock, tmp_path):
    from loa.player import control

    data = tmp_path / "data"
    control.request_dirs(data / "control")
    lock = control.DaemonLock(data)
    lock.acquire()  # the real lock `loa run` holds for its whole life
    try:
        control.write_heartbeat(data / "control", MONDAY - timedelta(seconds=3), station,
                                {"toan-xa": "Toàn xã"}, 0,
                                {"clock_problem": "chưa đồng bộ giờ qua mạng"})
        from loa.log import LogStore

        store = LogStore(data / "loa.sqlite3")
        store.claim(play_key="k1", station="ba-vi", zone="thon-van-hoa", program="kstthc-2026",
                    session="sang", bulletin=BULLETINS[1][0], title=BULLETINS[1][1], field=1,
                    priority=3, scheduled_at=MONDAY - timedelta(minutes=1),
                    now=MONDAY - timedelta(seconds=50))
        store.event("device-error", MONDAY - timedelta(minutes=2), "loa Thôn Văn Hòa: mất kết nối")
        store.close()
        resp = client_as("editor").get("/")
    finally:
        lock.release()
    daemon = section(resp, "may-phat")
    assert "Đang chạy (nhịp tim 3 giây trước)" in daemon
    assert "Đồng hồ chưa tin được : chưa đồng bộ giờ qua mạng" in daemon
    now = section(resp, "dang-phat")
    assert "Dịch vụ công trực tuyến — Thôn Văn Hòa (từ 04:59 thứ Hai 30/11/2026)" in now
    errors = section(resp, "loi-gan-day")
    assert "04:58:00 thứ Hai 30/11/2026 — lỗi thiết bị : loa Thôn Văn Hòa: mất kết nối" in errors
    # the lock released (the daemon died): the same heartbeat no longer counts
    assert "KHÔNG CHẠY" in text_of(client_as("editor").get("/tong-quan/khung/"))


@pytest.mark.django_db
def test_a_broken_schedule_shows_its_problems_to_fix(client_as, station, clock):
    text = station.read_text(encoding="utf-8")
    station.write_text(text.replace("zones: [toan-xa, thon-van-hoa]\n  - id: chieu",
                                    "zones: [toan-xa, thon-gia]\n  - id: chieu", 1),
                       encoding="utf-8")
    resp = client_as("technician").get("/")
    box = section(resp, "loi-lich")
    line = next(i for i, s in enumerate(station.read_text().splitlines(), 1) if "thon-gia" in s)
    assert f"ba-vi.yaml, dòng {line}, cột 12: không có vùng 'thon-gia'" in box
    assert str(station.parent) not in resp.content.decode()  # named from the station's folder
    assert 'href="/lich-phat/"' in resp.content.decode()
    assert "Không có buổi phát nào" not in text_of(resp)  # nothing claims an empty week


@pytest.mark.django_db
def test_bulletins_waiting_for_approval_are_counted_and_leaders_get_a_link(client_as, station,
                                                                          clock):
    bfile = station.parent / "bulletins" / "ba-vi-2026.yaml"
    text = bfile.read_text(encoding="utf-8")
    # an approved bulletin whose words changed since (its hash no longer matches)
    bfile.write_text(text.replace("  status: approved\n",
                                  "  status: approved\n  approved_hash: 0123456789abcdef\n", 1),
                     encoding="utf-8")
    leader = client_as("leader").get("/")
    assert "1 bản tin đang chờ duyệt." in section(leader, "cho-duyet")
    assert 'href="/duyet/">Mở Duyệt' in leader.content.decode()
    editor = section(client_as("editor").get("/"), "cho-duyet")
    assert "1 bản tin đang chờ duyệt." in editor and "Mở Duyệt" not in editor


@pytest.mark.django_db
def test_clips_in_the_backup_voice_are_counted(client_as, station, clock, tmp_path):
    from loa import settings as loa_settings
    from loa.audio import ClipStore, read_wav
    from loa.station import say

    said = say("Xin chào bà con.", tmp_path / "chao.wav", engines=("espeak",))
    samples, rate = read_wav(said.path)
    store = ClipStore(loa_settings.clips_dir())
    store.put("a" * 32, samples, rate, engine="espeak", voice=said.voice, preferred="gtts",
              text="Xin chào bà con.", lufs=None, true_peak=None)
    store.close()
    box = section(client_as("editor").get("/"), "giong-du-phong")
    assert "espeak-ng (ngoại tuyến): 1 đoạn" in box


@pytest.mark.django_db
def test_the_status_part_alone_for_the_refresh(client_as, station, clock):
    part = client_as("admin").get("/tong-quan/khung/")
    assert "<html" not in part.content.decode() and 'id="may-phat"' in part.content.decode()
    assert "Cập nhật lúc 05:00 thứ Hai 30/11/2026" in text_of(part)
    page = client_as("admin").get("/")
    assert 'data-url="/tong-quan/khung/"' in page.content.decode()


@pytest.mark.browser
def test_tong_quan_on_a_phone_refreshes_itself(live_console, phone):
    live = live_console()
    write_plays(live.data / "loa.sqlite3", [play("toan-xa", MONDAY, BULLETINS[0])])
    login(phone, live, "leader")
    assert phone.url.rstrip("/") == live.url  # Tổng quan is the landing page
    assert "KHÔNG CHẠY" in phone.inner_text("#may-phat")
    assert phone.locator("#sap-phat li").count() >= 2
    screenshot(phone, "tong-quan")
    with phone.expect_response(lambda r: r.url.endswith("/tong-quan/khung/"), timeout=30000) as r:
        pass
    assert r.value.status == 200
    phone.wait_for_function("document.querySelector('#tinh-trang .help') !== null")
    assert "Cập nhật lúc" in phone.inner_text("#tinh-trang .help")


@pytest.mark.django_db
def test_tong_quan_with_a_year_of_log(client_as, station, tmp_path):
    """~36,000 plays in the log: the pages still answer (their speed is measured by
    benchmarks/console.py, not here)."""
    from console.log_rows import year_of_plays

    write_plays(tmp_path / "data" / "loa.sqlite3",
                year_of_plays([f"thon-{i}" for i in range(10)], per_day=100))
    client = client_as("leader")
    for url in ("/", "/tong-quan/khung/", "/khan-cap/"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert "Traceback" not in resp.content.decode()


@pytest.mark.django_db
def test_what_loa_validate_warns_about_is_shown(client_as, station, clock):
    text = station.read_text(encoding="utf-8")
    station.write_text(text.replace("max_session_minutes: 45", "max_session_minutes: 1"),
                       encoding="utf-8")
    resp = client_as("editor").get("/")
    box = section(resp, "canh-bao-lich")
    assert "Buổi phát 'Buổi sáng' ngày 30/11/2026" in box and "quá giới hạn 1 phút" in box
    assert "loi-lich" not in resp.content.decode()  # the file itself reads fine
