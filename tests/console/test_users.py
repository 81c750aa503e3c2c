"""Người dùng: admins add accounts, change roles, lock and unlock, reset passwords; the
last admin cannot be locked out; every change is audited; names are escaped."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from fakeclock import FakeClock

from console.conftest import PASSWORD
from loa.clock import DEFAULT_TZ
from loa.console.accounts.models import AuditEntry
from loa.console.accounts.roles import user_roles

NEW_PASSWORD = "Doi-mat-khau-2026"


@pytest.fixture
def admin(client_as, settings):
    settings.LOA_CLOCK = FakeClock(datetime(2026, 11, 30, 6, 30, tzinfo=DEFAULT_TZ))
    return client_as("admin")


def user(username):
    return get_user_model().objects.get(username=username)


def roles(username):
    return set(user_roles(user(username)))


def actions():
    return list(AuditEntry.objects.exclude(action__startswith="account.").order_by("id")
                .values_list("action", "target", "full_name"))


@pytest.mark.django_db
def test_admin_adds_an_account_that_can_log_in(admin, station):
    resp = admin.post("/nguoi-dung/them/", {
        "username": "binh.tran", "full_name": "Trần Văn Bình", "roles": ["editor", "technician"],
        "password1": PASSWORD, "password2": PASSWORD})
    assert resp.status_code == 302 and resp["Location"] == "/nguoi-dung/"
    page = admin.get("/nguoi-dung/").content.decode()
    assert "Đã tạo tài khoản cho Trần Văn Bình." in page
    assert "Trần Văn Bình" in page and "Biên tập, Kỹ thuật" in page and "chưa đăng nhập" in page
    assert roles("binh.tran") == {"editor", "technician"}
    assert Client().login(username="binh.tran", password=PASSWORD)
    assert actions() == [("user.add", "Trần Văn Bình", "Phạm Thị Dung")]
    detail = AuditEntry.objects.get(action="user.add").detail
    assert detail == "tạo tài khoản binh.tran, vai trò: Biên tập, Kỹ thuật"


@pytest.mark.django_db
@pytest.mark.parametrize(("form", "message"), [
    ({"password2": "Khac-mat-khau-2026"}, "Hai lần nhập mật khẩu không khớp."),
    ({"password1": "12345678", "password2": "12345678"}, "Mật khẩu này quá phổ biến."),
    ({"password1": "abc", "password2": "abc"}, "Mật khẩu quá ngắn: cần ít nhất 8 ký tự."),
    ({"password1": "binh.tran1", "password2": "binh.tran1"}, "Mật khẩu quá giống với"),
    ({"roles": []}, "Chọn ít nhất một vai trò."),
    ({"roles": ["superuser"]}, "Vai trò không hợp lệ."),
    ({"username": "binh tran"}, "chỉ được gồm chữ, số và @ . + - _"),
    ({"username": "quantri"}, "Tài khoản &#x27;quantri&#x27; đã có."),
    # full-width letters are the same name once normalized (NFKC), as Django stores it
    ({"username": "ｑuantri"}, "Tài khoản &#x27;quantri&#x27; đã có."),
    ({"full_name": ""}, "Hãy nhập họ tên"),
])
def test_bad_new_accounts_are_refused_in_vietnamese(admin, station, form, message):
    data = {"username": "binh.tran", "full_name": "Trần Văn Bình", "roles": ["editor"],
            "password1": PASSWORD, "password2": PASSWORD, **form}
    resp = admin.post("/nguoi-dung/them/", data)
    assert resp.status_code == 400
    page = resp.content.decode()
    assert 'class="errors"' in page and message in page
    assert not get_user_model().objects.filter(username="binh.tran").exists()
    assert not get_user_model().objects.filter(username="binh tran").exists()
    assert actions() == []


@pytest.mark.django_db
def test_a_name_differing_only_in_vietnamese_capitals_is_taken(admin, station, make_user):
    make_user("bình", "editor", full_name="Trần Văn Bình")
    resp = admin.post("/nguoi-dung/them/", {
        "username": "BÌNH", "full_name": "Trần Văn Bình", "roles": ["editor"],
        "password1": PASSWORD, "password2": PASSWORD})
    assert resp.status_code == 400
    assert "Tài khoản &#x27;bình&#x27; đã có." in resp.content.decode()
    assert not get_user_model().objects.filter(username="BÌNH").exists()


@pytest.mark.django_db
def test_admin_changes_roles_and_name(admin, station, make_user):
    make_user("binh", "editor", full_name="Trần Văn Bình")
    page = admin.get("/nguoi-dung/binh/").content.decode()
    assert 'value="editor"' in page and "checked" in page
    resp = admin.post("/nguoi-dung/binh/", {"full_name": "Trần Văn Bính",
                                            "roles": ["leader", "editor"]})
    assert resp.status_code == 302
    assert roles("binh") == {"editor", "leader"} and user("binh").first_name == "Trần Văn Bính"
    assert actions() == [
        ("user.roles", "Trần Văn Bính", "Phạm Thị Dung"),
        ("user.name", "Trần Văn Bính", "Phạm Thị Dung")]
    assert AuditEntry.objects.get(action="user.roles").detail == \
        "vai trò: Biên tập → Biên tập, Lãnh đạo"


@pytest.mark.django_db
def test_lock_and_unlock_keep_the_account_and_end_its_sessions(admin, station, make_user):
    make_user("binh", "editor", full_name="Trần Văn Bình")
    binh = Client()
    assert binh.login(username="binh", password=PASSWORD)
    assert binh.get("/ke-hoach/").status_code == 200
    resp = admin.post("/nguoi-dung/binh/trang-thai/", {"active": "0"})
    assert resp.status_code == 302
    assert not user("binh").is_active
    assert binh.get("/ke-hoach/").status_code == 302  # sent to log in again
    assert not Client().login(username="binh", password=PASSWORD)
    assert "đã khóa" in admin.get("/nguoi-dung/").content.decode()
    admin.post("/nguoi-dung/binh/trang-thai/", {"active": "1"})
    assert user("binh").is_active and Client().login(username="binh", password=PASSWORD)
    assert [a for a, _, _ in actions()] == ["user.deactivate", "user.reactivate"]


@pytest.mark.django_db
def test_admin_resets_a_password(admin, station, make_user):
    make_user("binh", "editor", full_name="Trần Văn Bình")
    resp = admin.post("/nguoi-dung/binh/mat-khau/", {"password1": "ngan", "password2": "ngan"})
    assert resp.status_code == 400 and "Mật khẩu quá ngắn" in resp.content.decode()
    resp = admin.post("/nguoi-dung/binh/mat-khau/", {"password1": NEW_PASSWORD,
                                                    "password2": NEW_PASSWORD})
    assert resp.status_code == 302
    assert Client().login(username="binh", password=NEW_PASSWORD)
    assert not Client().login(username="binh", password=PASSWORD)
    assert actions() == [("user.password", "Trần Văn Bình", "Phạm Thị Dung")]


@pytest.mark.django_db
def test_the_last_admin_cannot_be_locked_out(admin, station, make_user):
    me = "quantri"
    # not their own admin role
    resp = admin.post(f"/nguoi-dung/{me}/", {"full_name": "Phạm Thị Dung", "roles": ["editor"]})
    assert resp.status_code == 400
    assert "Bạn không thể tự bỏ vai trò Quản trị của mình" in resp.content.decode()
    # not locking themself while the only admin
    resp = admin.post(f"/nguoi-dung/{me}/trang-thai/", {"active": "0"})
    assert resp.status_code == 400
    assert "người quản trị cuối cùng còn hoạt động; không thể khóa" in resp.content.decode()
    assert user(me).is_active and "admin" in roles(me)
    # with a second admin, the first may step down; the second then is the last
    make_user("admin2", "admin", full_name="Lê Thị Hoa")
    assert admin.post(f"/nguoi-dung/{me}/trang-thai/", {"active": "0"}).status_code == 302
    second = Client()
    second.force_login(user("admin2"))
    resp = second.post("/nguoi-dung/admin2/trang-thai/", {"active": "0"})
    assert resp.status_code == 400 and user("admin2").is_active
    # nor may the last active admin lose the role to someone else's edit
    make_user("admin3", "admin", full_name="Đỗ Văn Nam")
    third = Client()
    third.force_login(user("admin3"))
    assert third.post("/nguoi-dung/admin3/trang-thai/", {"active": "0"}).status_code == 302
    resp = second.post("/nguoi-dung/admin2/", {"full_name": "Lê Thị Hoa", "roles": ["leader"]})
    assert resp.status_code == 400 and "admin" in roles("admin2")
    assert [a for a, _, _ in actions()] == ["user.deactivate", "user.deactivate"]


@pytest.mark.django_db
def test_a_full_name_with_markup_is_escaped_everywhere(admin, station, make_user):
    make_user("xss", "editor", full_name='<script>alert("x")</script>')
    evil = Client()
    evil.force_login(user("xss"))
    for page in (admin.get("/nguoi-dung/"), admin.get("/nguoi-dung/xss/"),
                 evil.get("/ke-hoach/")):
        body = page.content.decode()
        assert '<script>alert("x")' not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["editor", "leader", "technician"])
def test_only_admins_manage_accounts(client_as, station, make_user, role):
    make_user("binh", "editor", full_name="Trần Văn Bình")
    client = client_as(role)
    posts = {"/nguoi-dung/them/": {"username": "moi", "full_name": "Mới", "roles": ["admin"],
                                   "password1": PASSWORD, "password2": PASSWORD},
             "/nguoi-dung/binh/": {"full_name": "Bình", "roles": ["admin"]},
             "/nguoi-dung/binh/trang-thai/": {"active": "0"},
             "/nguoi-dung/binh/mat-khau/": {"password1": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD}}
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    assert roles("binh") == {"editor"} and user("binh").is_active
    assert Client().login(username="binh", password=PASSWORD)
    assert not get_user_model().objects.filter(username="moi").exists()
    assert actions() == []


@pytest.mark.django_db
def test_unknown_accounts_are_404(admin, station):
    assert admin.get("/nguoi-dung/khong-co/").status_code == 404
    assert admin.post("/nguoi-dung/khong-co/trang-thai/", {"active": "0"}).status_code == 404
    assert admin.get("/nguoi-dung/quantri/mat-khau/")["Location"] == "/nguoi-dung/quantri/"
    assert admin.get("/nguoi-dung/quantri/trang-thai/")["Location"] == "/nguoi-dung/quantri/"


@pytest.mark.django_db
def test_loa_users_cli_logic_shares_the_rules(station, make_user):
    from loa.console.accounts import users
    from loa.errors import LoaError

    make_user("quantri", "admin", full_name="Phạm Thị Dung")
    with pytest.raises(LoaError, match="người quản trị cuối cùng"):
        users.set_active("quantri", False)
    with pytest.raises(LoaError, match="người quản trị cuối cùng"):
        users.update_user("quantri", roles=["editor"])
    acct = users.add_user("binh", PASSWORD, ["bien-tap"], "Trần Văn Bình")
    assert acct.roles == ("editor",)
    assert users.set_active("binh", False).active is False
    entry = AuditEntry.objects.get(action="user.deactivate")
    assert entry.detail == "khóa tài khoản (bằng lệnh loa users)"


@pytest.mark.django_db
def test_an_admin_resetting_their_own_password_stays_logged_in(admin, station):
    resp = admin.post("/nguoi-dung/quantri/mat-khau/", {"password1": NEW_PASSWORD,
                                                       "password2": NEW_PASSWORD})
    assert resp.status_code == 302
    assert admin.get("/nguoi-dung/").status_code == 200
    assert Client().login(username="quantri", password=NEW_PASSWORD)
