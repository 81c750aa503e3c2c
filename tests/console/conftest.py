"""Fixtures of the console's tests: a station on disk, accounts by role, a logged-in
client, a real `loa serve`, and a phone-sized Chromium page."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import loa_env

REPO = Path(__file__).resolve().parents[2]
SCHEDULES = REPO / "schedules"
PASSWORD = "Loa-kiem-thu-2026"
ARTIFACTS = REPO / "tests" / "artifacts" / "console"
PHONE = {"width": 390, "height": 844}


def copy_station(dest: Path) -> Path:
    """The Ba Vì sample station (schedule + bulletins) copied to `dest`; its schedule path."""
    shutil.copytree(SCHEDULES, dest, dirs_exist_ok=True)
    return dest / "ba-vi.yaml"


@pytest.fixture
def station(tmp_path, settings, monkeypatch) -> Path:
    """A writable copy of the sample station; the console serves it; data in tmp."""
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("LOA_DATA_DIR", str(data))
    path = copy_station(tmp_path / "schedules")
    settings.LOA_SCHEDULE = str(path)
    return path


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    def make(username: str, *roles: str, full_name: str = "", password: str = PASSWORD):
        user = get_user_model().objects.create_user(username, password=password,
                                                    first_name=full_name)
        user.groups.set([Group.objects.get_or_create(name=r)[0] for r in roles])
        return user

    return make


# one account per role, named as officers would be
ROLE_USERS = {
    "editor": ("bientap", "Trần Thị Bình"),
    "leader": ("lanhdao", "Nguyễn Văn An"),
    "technician": ("kythuat", "Lê Văn Cường"),
    "admin": ("quantri", "Phạm Thị Dung"),
}


@pytest.fixture
def client_as(make_user, station):
    """client_as("editor") -> a Django test client logged in with only that role."""
    from django.test import Client

    made = {}

    def login(*roles: str):
        key = "+".join(roles)
        if key not in made:
            username, full = ROLE_USERS[roles[0]] if len(roles) == 1 else (
                "u-" + "-".join(roles), "Người Nhiều Vai")
            made[key] = make_user(username, *roles, full_name=full)
        client = Client()
        client.force_login(made[key])
        return client

    return login


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveConsole:
    """A real `loa serve` (waitress) on a loopback port, with its own data folder."""

    def __init__(self, schedule: Path, data: Path, env: dict[str, str] | None = None):
        self.schedule, self.data = schedule, data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = loa_env(data, env)
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.proc: subprocess.Popen | None = None

    def add_user(self, username: str, *roles: str, full_name: str = "",
                 password: str = PASSWORD) -> None:
        args = [sys.executable, "-m", "loa", "users", "add", username, "--name", full_name,
                "--password-stdin"]
        for r in roles:
            args += ["--role", r]
        done = subprocess.run(args, input=password + "\n", env=self.env, text=True,
                              capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr

    def start(self) -> LiveConsole:
        self.log = open(self.data / "serve.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loa", "serve", str(self.schedule), "--host", "127.0.0.1",
             "--port", str(self.port)], env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.data / "serve.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("loa serve did not start: " + (self.data / "serve.log").read_text())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture
def live_console(tmp_path):
    """live_console() -> a started LiveConsole on a fresh copy of the sample station."""
    made: list[LiveConsole] = []

    def start(schedule: Path | None = None, data: Path | None = None, users=True,
              env: dict[str, str] | None = None) -> LiveConsole:
        data = data or tmp_path / f"data{len(made)}"
        data.mkdir(exist_ok=True)
        schedule = schedule or copy_station(tmp_path / f"schedules{len(made)}")
        live = LiveConsole(schedule, data, env)
        if users:
            for role, (username, full) in ROLE_USERS.items():
                live.add_user(username, role, full_name=full)
        made.append(live)
        return live.start()

    yield start
    for live in made:
        live.stop()


@pytest.fixture(scope="session")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=os.environ.get("LOA_CHROMIUM", "/usr/bin/chromium"),
                                   args=["--no-sandbox"])
    yield b
    b.close()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized page (390x844, Vietnamese); closed after the test."""
    ctx = browser.new_context(viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    yield page
    ctx.close()


def login(page, live: LiveConsole, role: str = "editor") -> None:
    """Log `page` in as the live console's account for `role`."""
    page.goto(live.url + "/dang-nhap/")
    page.fill("#id_username", ROLE_USERS[role][0])
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(lambda u: "/dang-nhap/" not in u)


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; fail if the page overflows sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the phone"
    return path
