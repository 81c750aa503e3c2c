"""Logging in: throttled after wrong passwords, cookies HttpOnly/SameSite, sessions
expire, login and failures audited; the page is Vietnamese."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.test import Client
from fakeclock import FakeClock

from console.conftest import PASSWORD
from loa.clock import DEFAULT_TZ


@pytest.mark.django_db
def test_login_sets_safe_cookies_and_is_audited(station, make_user):
    from loa.console.accounts.models import AuditEntry

    make_user("bientap", "editor", full_name="Trần Thị Bình")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/dang-nhap/")
    assert "Đăng nhập" in page.content.decode() and 'lang="vi"' in page.content.decode()
    token = page.cookies["csrftoken"].value
    resp = client.post("/dang-nhap/", {"username": "bientap", "password": PASSWORD,
                                       "csrfmiddlewaretoken": token})
    assert resp.status_code == 302 and resp["Location"] == "/"
    cookie = resp.cookies["loa_phien"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 12 * 3600  # the session expires after a working day
    assert resp.cookies["csrftoken"]["samesite"] == "Strict"
    entry = AuditEntry.objects.get(action="account.login")
    assert entry.username == "bientap" and entry.full_name == "Trần Thị Bình"


@pytest.mark.django_db
def test_a_form_without_its_csrf_token_is_refused_in_vietnamese(station, make_user):
    make_user("bientap", "editor")
    client = Client(enforce_csrf_checks=True)
    resp = client.post("/dang-nhap/", {"username": "bientap", "password": PASSWORD})
    assert resp.status_code == 403
    assert "Phiên làm việc đã hết hạn" in resp.content.decode()


@pytest.mark.django_db
def test_wrong_passwords_make_the_account_wait(station, make_user, settings):
    clock = FakeClock(datetime(2026, 11, 30, 8, 0, tzinfo=DEFAULT_TZ))
    settings.LOA_CLOCK = clock
    make_user("bientap", "editor")
    client = Client()
    for _ in range(settings.LOGIN_FAILURES_ALLOWED):
        resp = client.post("/dang-nhap/", {"username": "bientap", "password": "sai-mat-khau"})
        assert resp.status_code == 200
        assert "Sai tên đăng nhập hoặc mật khẩu" in resp.content.decode()
    # now even the right password waits, and says so in Vietnamese
    resp = client.post("/dang-nhap/", {"username": "bientap", "password": PASSWORD})
    assert resp.status_code == 429
    assert "thử lại sau 15 phút" in resp.content.decode()
    clock.advance(timedelta(minutes=15, seconds=2))
    resp = client.post("/dang-nhap/", {"username": "bientap", "password": PASSWORD})
    assert resp.status_code == 302


@pytest.mark.django_db
def test_spaces_and_wide_letters_do_not_reset_the_account_count(station, make_user, settings):
    """The form strips spaces and folds full-width letters (NFKC) before checking the
    password, so " bientap" and "ｂｉｅｎｔａｐ" try the same account: they count for it."""
    settings.LOA_CLOCK = FakeClock(datetime(2026, 11, 30, 8, 0, tzinfo=DEFAULT_TZ))
    make_user("bientap", "editor")
    client = Client()
    variants = ["bientap ", " bientap", "\tbientap", "ｂｉｅｎｔａｐ", "BienTap  "]
    for name in variants[:settings.LOGIN_FAILURES_ALLOWED]:
        resp = client.post("/dang-nhap/", {"username": name, "password": "sai-mat-khau"})
        assert resp.status_code == 200
    resp = client.post("/dang-nhap/", {"username": " bientap ", "password": PASSWORD})
    assert resp.status_code == 429
