"""Embedded defaults: where loa keeps its data when nobody configured anything."""

from __future__ import annotations

import os
from pathlib import Path


def data_path() -> Path:
    """LOA_DATA_DIR, else $XDG_DATA_HOME/loa, else ~/.local/share/loa (not created)."""
    env = os.environ.get("LOA_DATA_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) / "loa" if xdg else Path.home() / ".local" / "share" / "loa"


def data_dir() -> Path:
    """data_path(), created if missing."""
    base = data_path()
    base.mkdir(parents=True, exist_ok=True)
    return base


def voices_dir() -> Path:
    """Where `loa voices add` keeps piper voices (.onnx beside .onnx.json); not created."""
    return data_path() / "voices"


def db_path() -> Path:
    return data_dir() / "loa.sqlite3"


def clips_dir() -> Path:
    d = data_dir() / "clips"
    d.mkdir(parents=True, exist_ok=True)
    return d


def control_dir() -> Path:
    """Where `loa now` leaves requests for the running daemon, and its heartbeat."""
    d = data_dir() / "control"
    (d / "requests").mkdir(parents=True, exist_ok=True)
    return d


PACKAGE_DATA = Path(__file__).parent / "data"
SAMPLE_PLANS = PACKAGE_DATA / "plans"
