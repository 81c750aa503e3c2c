"""`loa serve` and `loa users` as an officer runs them: a real waitress server, a phone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from console.conftest import PASSWORD, login, screenshot


@pytest.mark.browser
def test_a_phone_logs_in_to_the_real_server(live_console, phone):
    live = live_console()
    phone.goto(live.url + "/")
    assert "/dang-nhap/" in phone.url  # nothing is shown before logging in
    phone.fill("#id_username", "bientap")
    phone.fill("#id_password", "sai-mat-khau-1")
    phone.get_by_role("button", name="Đăng nhập").click()
    assert "Sai tên đăng nhập hoặc mật khẩu" in phone.inner_text(".errors")
    screenshot(phone, "dang-nhap-sai")
    login(phone, live, "editor")
    assert phone.inner_text("header.top .station") == "Đài truyền thanh xã Ba Vì"
    # Khẩn cấp is one tap away on every page; the menu opens with one more
    assert phone.is_visible("header.top a.emergency")
    phone.click("header.top summary")
    assert phone.is_visible("nav.menu >> text=Bản tin")
    assert not phone.is_visible("nav.menu >> text=Người dùng")  # an editor is not an admin
    screenshot(phone, "tong-quan-menu")


def test_a_second_server_on_the_same_port_says_so(live_console):
    live = live_console(users=False)
    done = subprocess.run([sys.executable, "-m", "loa", "serve", str(live.schedule), "--host",
                           "127.0.0.1", "--port", str(live.port)], env=live.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cổng {live.port} đang có chương trình khác dùng" in done.stderr
    assert "Traceback" not in done.stderr


def test_users_add_refuses_mistakes_in_vietnamese(live_console, tmp_path):
    live = live_console(users=False)

    def users(*args, password=PASSWORD):
        return subprocess.run([sys.executable, "-m", "loa", "users", *args], env=live.env,
                              input=password + "\n", capture_output=True, text=True, timeout=60)

    bad_role = users("add", "an", "--role", "giam-doc", "--password-stdin")
    assert bad_role.returncode == 2 and "không có vai trò 'giam-doc'" in bad_role.stderr
    weak = users("add", "an", "--role", "admin", "--password-stdin", password="12345")
    assert weak.returncode == 2 and "Mật khẩu quá ngắn" in weak.stderr
    ok = users("add", "an", "--role", "admin", "--role", "editor", "--name", "Nguyễn Văn An",
               "--password-stdin")
    assert ok.returncode == 0, ok.stderr
    assert "Quản trị" in ok.stdout and "Biên tập" in ok.stdout
    twice = users("add", "AN", "--role", "admin", "--password-stdin")
    assert twice.returncode == 2 and "đã có" in twice.stderr
    listed = users("list")
    assert "Nguyễn Văn An" in listed.stdout and "Biên tập, Quản trị" in listed.stdout
    no_tty = subprocess.run([sys.executable, "-m", "loa", "users", "add", "binh", "--role",
                             "editor"], env=live.env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    for r in (bad_role, weak, twice, no_tty):
        assert "Traceback" not in r.stderr


def test_the_address_to_open_on_a_phone_is_the_machines_lan_address():
    """Debian and Raspberry Pi OS name the host 127.0.1.1: the address printed must still be
    one a phone on the LAN can open, not 127.0.0.1."""
    import re

    from loa.console.server import lan_addresses

    shown = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True)
    lan = {a for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", shown.stdout)
           if not a.startswith("127.")}
    if not lan:
        pytest.skip("this machine has no LAN interface")
    found = lan_addresses()
    assert found and set(found) <= lan
