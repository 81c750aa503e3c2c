from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import FakeGoogle, espeak_mp3, start_pulse, stop_pulse  # noqa: E402

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


@pytest.fixture
def plans() -> Path:
    return SAMPLE_PLANS
