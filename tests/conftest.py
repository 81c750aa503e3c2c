from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import DaemonRig, FakeGoogle, espeak_mp3, start_pulse, stop_pulse  # noqa: E402

from loa.settings import SAMPLE_PLANS  # noqa: E402


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """Every test gets its own loa data folder (SQLite log, clip cache)."""
    d = tmp_path / "loa-data"
    monkeypatch.setenv("LOA_DATA_DIR", str(d))
    monkeypatch.delenv("LOA_GTTS_ENDPOINT", raising=False)
    return d


@pytest.fixture(scope="session")
def mp3_bytes() -> bytes:
    return espeak_mp3()


@pytest.fixture
def fake_google(mp3_bytes):
    server = FakeGoogle(mp3_bytes)
    yield server
    server.close()


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    sink = start_pulse(tmp_path_factory.mktemp("pulse"))
    yield sink
    stop_pulse(sink)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright for the whole run: its sync API refuses a second one in the same
    thread while the first is open (the shared browser of tests/console)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def plans() -> Path:
    return SAMPLE_PLANS


@pytest.fixture
def rig(tmp_path):
    """rig(clock, sink=..., synced=..., store=...): the real daemon in this process on the
    station of helpers.write_station, in tmp_path; every one made is shut down after."""
    made: list[DaemonRig] = []

    def make(clock, **kw) -> DaemonRig:
        r = DaemonRig(tmp_path, clock, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        with contextlib.suppress(Exception):
            r.close()


def pytest_sessionfinish(session, exitstatus):
    """Django drops the console's test database file but not SQLite's WAL files beside it."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    for suffix in ("", "-wal", "-shm"):
        if name:
            Path(name + suffix).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL for the run (tests/services.py); each test makes its own database."""
    from services import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def pg_db(postgres):
    """A fresh, empty PostgreSQL database for one test: (server, name)."""
    name = postgres.create_database()
    yield postgres, name
    postgres.drop_database(name)


@pytest.fixture
def broker():
    """A real Mosquitto with per-device authentication (dynsec) for one test."""
    import shutil
    import tempfile

    from services import start_broker

    # not under tmp_path: pytest's folders are 0700 and mosquitto runs as its own user
    root = Path(tempfile.mkdtemp(prefix="loa-mqtt-"))
    b = start_broker(root / "broker")
    yield b
    b.stop()
    shutil.rmtree(root, ignore_errors=True)
