"""Adversarial checks on issue 14's new inputs (hostile or careless uploads, CLI targets)."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest

from loa.plan.ocr import OcrInfo
from loa.station import plans as st_plans
from loa.station.bulletins import read_plan

PLANS = Path(__file__).resolve().parent.parent / "loa" / "data" / "plans"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class _Boom:
    """Unpickling this runs code: writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def _kept_ocr_plan(tmp_path: Path):
    """A clean plan kept as if read by OCR (no OCR run: the reading is what is kept)."""
    src = tmp_path / "in" / "ke-hoach.txt"
    src.parent.mkdir()
    src.write_bytes((PLANS / "ba-vi-2026.txt").read_bytes())
    plan = read_plan(src)
    plan.ocr = OcrInfo(pages=[1, 2], page_confidence={1: 0.93, 2: 0.88}, total_pages=2)
    folder = tmp_path / "plans"
    up = st_plans.keep_plan(plan, [src], ["Kế hoạch.txt"], folder, by="cb", now=NOW)
    return folder, up, plan


def test_kept_ocr_reading_is_json_and_reopens_without_reading_again(tmp_path):
    folder, up, plan = _kept_ocr_plan(tmp_path)
    key = up.entry.key
    cache = folder / f".{key}.da-doc.json"
    data = json.loads(cache.read_text(encoding="utf-8"))  # plain data, no pickle
    assert data["text"]["ocr"]["pages"] == [1, 2]
    assert not list(folder.glob("*.pickle"))
    entry, again = st_plans.open_plan(folder, key)
    # a .txt read again has no OCR note: this one came from the kept reading
    assert again.ocr is not None and again.ocr.page_confidence == {1: 0.93, 2: 0.88}
    assert [(t.path, t.text) for t in again.topics] == [(t.path, t.text) for t in plan.topics]
    assert again.title == plan.title and again.number == plan.number


def test_a_pickle_planted_in_the_plans_folder_is_never_loaded(tmp_path):
    folder, up, _ = _kept_ocr_plan(tmp_path)
    key = up.entry.key
    marker = tmp_path / "pwned"
    source = folder / up.entry.file
    evil = pickle.dumps({"stamp": st_plans._stamp(source), "plan": _Boom(marker)})
    (folder / f".{key}.da-doc.pickle").write_bytes(evil)
    (folder / f".{key}.da-doc.json").write_bytes(evil)  # and under the JSON name
    _, plan = st_plans.open_plan(folder, key)
    assert not marker.exists()
    assert plan.topics  # read again from the file itself


def test_a_forged_json_reading_cannot_name_another_type(tmp_path):
    folder, up, _ = _kept_ocr_plan(tmp_path)
    cache = folder / f".{up.entry.key}.da-doc.json"
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["text"]["lines"] = {"__class__": "os.system"}  # not lines: ignored, read again
    cache.write_text(json.dumps(data), encoding="utf-8")
    _, plan = st_plans.open_plan(folder, up.entry.key)
    assert plan.topics and plan.ocr is None
