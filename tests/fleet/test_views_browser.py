"""The stations page and an emergency's page on a phone-sized Chromium (Debian's, through
Playwright), served by a real `loa serve --database postgresql://...` whose clusters
enroll, beat and acknowledge over the device API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleet.server_rig import ServerRig, add_province_admin

PASSWORD = "Loa-kiem-thu-2026"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "fleet"
pytestmark = pytest.mark.browser


@pytest.fixture
def rig(pg_db, tmp_path):
    server, name = pg_db
    r = ServerRig(server.url(name), tmp_path / "server")
    for args in (("province", "add", "binh-phuoc", "--name", "Bình Phước"),
                 ("station", "add", "xa-ba-vi", "--name", "Đài xã Ba Vì", "--province",
                  "binh-phuoc"),
                 ("station", "add", "xa-tan-lap", "--name", "Đài xã Tân Lập", "--province",
                  "binh-phuoc")):
        done = r.fleet(*args)
        assert done.returncode == 0, done.stderr
    add_province_admin(r, "tinh", "Hoàng Văn Tỉnh", PASSWORD)
    r.start()
    yield r
    err = r.stop()
    assert "Traceback" not in err, err


@pytest.fixture
def phone(playwright):
    b = playwright.chromium.launch(executable_path=os.environ.get("LOA_CHROMIUM",
                                                                  "/usr/bin/chromium"),
                                   args=["--no-sandbox"])
    ctx = b.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN",
                        timezone_id="Asia/Ho_Chi_Minh")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    yield page
    ctx.close()
    b.close()


def _fits(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the phone"


def test_stations_and_emergency_pages_on_a_phone(rig, phone):
    doai = rig.enroll(rig.code("xa-ba-vi", "Cụm loa thôn Đoài", "toan-xa"))
    van = rig.enroll(rig.code("xa-ba-vi", "Cụm loa thôn Văn Hòa", "thon-van-hoa"))
    beat = {"at": "2026-11-30T10:00:00+07:00", "clock_trusted": True, "disk_free_mb": 900.0,
            "version": "1.4", "audio": "ok", "last_play": None, "unsent": 4,
            "signal_dbm": -70, "bundle": None}
    assert rig.call("POST", "/api/v1/heartbeat", doai["token"], beat).status == 200

    page = phone
    page.goto(rig.url + "/dang-nhap/")
    page.fill("#id_username", "tinh")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda u: "/dang-nhap/" not in u)

    page.get_by_text("☰ Mục").click()
    page.get_by_role("link", name="Các đài", exact=True).click()
    page.wait_for_url("**/dai/")
    assert page.locator("section.dai").count() == 2
    bavi = page.locator("section.dai[data-slug=xa-ba-vi]").inner_text()
    assert "1 hoạt động" in bavi and "1 mất liên lạc" in bavi and "4 lượt" in bavi
    _fits(page, "stations-phone")

    page.goto(rig.url + "/tin-khan-cap/")
    page.fill("#id_title", "Bão số 9")
    page.fill("#id_text", "Bà con chằng chống nhà cửa, không ra đồng.")
    page.get_by_label("Đài xã Ba Vì", exact=True).check()
    page.get_by_role("button", name="Gửi tin khẩn cấp").click()
    page.wait_for_url("**/tin-khan-cap/e-*/")
    eid = page.url.rstrip("/").rsplit("/", 1)[1]
    assert page.locator("section.cum-loa").count() == 2
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    assert "Hoàng Văn Tỉnh" in page.content()
    _fits(page, "emergency-phone")
    for d in (doai, van):
        for stage, at in (("received", "10:00:01"), ("started", "10:00:02"),
                          ("finished", "10:00:40")):
            r = rig.call("POST", f"/api/v1/emergencies/{eid}/ack", d["token"],
                         {"stage": stage, "at": f"2026-11-30T{at}+07:00", "detail": ""})
            assert r.status == 200, r.body
    # the page reloads itself and stops once every cluster has finished
    page.wait_for_function("document.querySelector('meta[http-equiv=refresh]') === null",
                           timeout=30000)
    assert "2/2 cụm đã nhận" in page.locator("#tong-ket").inner_text()
    assert "10:00:40" in page.locator("section.cum-loa").first.inner_text()
