"""The declarative schema: every error at once, defaults in one YAML, `loa config`, and the
public API the console builds its forms from."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from loa.cli import main
from loa.errors import LoaError
from loa.schedule import load_schedule
from loa.schedule.model import Station
from loa.schedule.schema import DEFAULTS_FILE, SECTIONS, STATION, ZONE
from loa.schema import Context, validate
from loa.script import load_bulletins
from loa.script.draft import TEMPLATE_SCHEMA, load_template

REPO = Path(__file__).resolve().parents[1]
ENGLISH = re.compile(r"\b(the|is|not|must|should|invalid|error|expected|value|field)\b", re.I)


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def _edit(path: Path, *pairs: tuple[str, str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text.splitlines()


def _line(lines: list[str], marker: str) -> int:
    return next(i for i, line in enumerate(lines, 1) if marker in line)


def test_every_schedule_error_at_once_each_with_line_column_and_suggestion(example):
    lines = _edit(example, ("  speed: 1.0", "  spead: 1.0"),
                  ("  voice: north ", "  voice: bac "),
                  ("    volume: 80 ", "    volum: 80 "),
                  ('    time: "06:30"', '    time: "6h30x"'),
                  ("    per_session: 2", "    per_session: 0"))
    with pytest.raises(LoaError) as exc:
        load_schedule(example)
    got = [(p.line, p.column, p.message) for p in exc.value.problems]
    assert [(line, col) for line, col, _ in got] == [
        (_line(lines, "voice: bac"), 10), (_line(lines, "spead:"), 3),
        (_line(lines, "volum:"), 5), (_line(lines, 'time: "6h30x"'), 11),
        (_line(lines, "per_session: 0"), 18)], got
    messages = [m for _, _, m in got]  # in the file's order
    assert messages[0] == ("'voice' phải là north (giọng Bắc), central (giọng Trung) hoặc "
                           "south (giọng Nam).")
    assert messages[1].startswith("khóa 'spead' không dùng được trong station. Có phải ý bạn "
                                  "là 'speed'?")
    assert "vùng 'toan-xa'. Có phải ý bạn là 'volume'?" in messages[2]
    assert messages[3] == "giờ phát '6h30x' không hợp lệ (dạng 06:30)."
    assert messages[4] == ("'per_session' phải là số nguyên từ 1 đến 100 (đang ghi: '0').")
    assert all(p.path == example for p in exc.value.problems)


def test_bulletin_and_template_errors_come_all_at_once_with_suggestions(example, tmp_path):
    bulletins = example.parent / "bulletins" / "ba-vi-2026.yaml"
    text = bulletins.read_text(encoding="utf-8")
    bulletins.write_text(text.replace("  priority: 3\n", "  prioity: 3\n", 1)
                         .replace("  field: 1\n", "  field: 0\n", 1), encoding="utf-8")
    with pytest.raises(LoaError) as exc:
        load_bulletins(bulletins)
    messages = [p.message for p in exc.value.problems]
    assert len(messages) == 2 and all(p.line and p.column for p in exc.value.problems)
    assert any("Có phải ý bạn là 'priority'?" in m for m in messages)
    assert any(m.startswith("'field' phải là một trong: 1 = Thông tin chung") for m in messages)

    tpl = tmp_path / "mau.yaml"
    tpl.write_text("greting: Chào\nmax_minutes: 0\nclosing: '{x}'\n", encoding="utf-8")
    with pytest.raises(LoaError) as exc:
        load_template(tpl)
    got = [(p.line, p.message) for p in exc.value.problems]
    assert [line for line, _ in got] == [1, 2, 3]
    assert "Có phải ý bạn là 'greeting'?" in got[0][1]
    assert got[1][1] == "'max_minutes' phải là số lớn hơn 0 (đang ghi: '0')."
    assert got[2][1].startswith("'closing': chỗ điền '{x}' không có")


def test_defaults_live_in_one_shipped_yaml_and_the_model_has_none(example):
    # no second copy: the Station dataclass declares no default at all
    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(Station))
    shipped = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    assert set(shipped["station"]) <= set(STATION.fields)
    # a station that writes only its name gets every value from defaults.yaml
    lines = example.read_text(encoding="utf-8").split("\n")
    start, end = lines.index("station:"), lines.index("zones:")
    lines[start + 1:end] = ["  name: Đài xã Thử", ""]
    example.write_text("\n".join(lines), encoding="utf-8")
    station = load_schedule(example).station
    assert (station.max_session_minutes, station.voice, station.speed, station.engines,
            station.loudness, station.pre_roll, station.post_roll, station.day_prefix,
            station.chime, station.quiet_hours) == (
        shipped["station"]["max_session_minutes"], shipped["station"]["voice"],
        shipped["station"]["speed"], tuple(shipped["station"]["engines"]),
        shipped["station"]["loudness"], shipped["station"]["pre_roll"],
        shipped["station"]["post_roll"], shipped["station"]["day_prefix"], True, None)
    assert station.tz.key == shipped["station"]["timezone"] and station.id == "ba-vi"


def test_loa_config_prints_the_effective_configuration_marking_defaults(example, capsys):
    _edit(example, ("  speed: 1.0", "  speed: 1.2"))
    assert main(["config", str(example)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "  speed: 1.2" in lines  # written: no mark
    assert "  loudness: -16  # mặc định" in lines  # from defaults.yaml
    assert "  pre_roll: 1.0  # mặc định" in lines and "  chime: true  # mặc định" in lines
    assert "  quiet_hours: 21:00-05:30" in lines
    assert "    days: [T2, T3, T4, T5, T6]" in lines  # T2-T6, spelled out
    assert "    per_session: 2" in lines
    assert "    relay: null  # mặc định" in lines
    # the output is YAML that reads back to the same values
    data = yaml.safe_load(out)
    assert data["station"]["name"] == "Đài truyền thanh xã Ba Vì"
    assert data["station"]["engines"] == ["gtts", "espeak"]
    assert [z["id"] for z in data["zones"]] == ["toan-xa", "thon-van-hoa"]
    assert data["sessions"][0]["zones"] == ["toan-xa", "thon-van-hoa"]


def test_loa_config_quotes_operator_text(example, capsys):
    _edit(example, ("  place: Ba Vì", "  place: 'Ba Vì: # xã'"))
    assert main(["config", str(example)]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert data["station"]["place"] == "Ba Vì: # xã"


def test_loa_config_refuses_a_bad_schedule_with_every_error(example, capsys):
    _edit(example, ("  speed: 1.0", "  speed: 9"), ("  voice: north", "  voise: north"))
    assert main(["config", str(example)]) == 2
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert captured.out == "" and len(err) == 2, err
    assert all(e.startswith(f"Lỗi: {example}, dòng ") and ", cột " in e for e in err)
    assert "Có phải ý bạn là 'voice'?" in captured.err
    assert "'speed' (tốc độ đọc) phải từ 0.5 đến 2.0 (đang ghi: '9')" in captured.err
    assert not ENGLISH.search(captured.err.replace("voise", "")), captured.err


def test_fields_describe_themselves_for_a_form():
    speed = {f.name: f for f in STATION.describe()}["speed"]
    assert (speed.kind, speed.min, speed.max, speed.default, speed.label_vi) == (
        "number", 0.5, 2.0, 1.0, "Tốc độ đọc")
    voice = {f.name: f for f in STATION.describe()}["voice"]
    assert voice.kind == "choice" and voice.choices == {
        "north": "giọng Bắc", "central": "giọng Trung", "south": "giọng Nam"}
    name = {f.name: f for f in STATION.describe()}["name"]
    assert name.required and name.default is None
    # every field of every section has a Vietnamese label
    assert all(f.label_vi for schema in SECTIONS.values() for f in schema.describe())
    assert [f.name for f in TEMPLATE_SCHEMA.describe()][:2] == ["station", "greeting"]


def test_validate_a_form_dict_gives_values_and_problems_by_key():
    values, problems = validate(STATION, {"name": "Đài xã Thử", "speed": "3", "voise": "south",
                                          "timezone": "Asia/Bangkok"})
    assert values["name"] == "Đài xã Thử" and values["timezone"].key == "Asia/Bangkok"
    assert values["speed"] == 1.0 and values["voice"] == "north"  # bad or absent: default
    by_key = {p.key: p.message for p in problems}
    assert set(by_key) == {"speed", "voise"}
    assert by_key["speed"] == "'speed' (tốc độ đọc) phải từ 0.5 đến 2.0 (đang ghi: '3')."
    assert "Có phải ý bạn là 'voice'?" in by_key["voise"]
    assert all(p.path is None and p.line is None for p in problems)

    values, problems = validate(ZONE, {"id": "thon-1", "relay": 41},
                                Context(owner="thon-1"))
    assert [p.message for p in problems] == [
        "'relay' của vùng 'thon-1' phải là số chân GPIO (0-40) (đang ghi: '41')."]
    assert values["device"] == "default"
    values, problems = validate(STATION, {})
    assert [(p.key, p.message) for p in problems] == [("name", "station thiếu 'name' (tên đài).")]


def test_blank_text_reads_as_not_written(example):
    _edit(example, ("    name: Thôn Văn Hòa\n    device: default",
                    "    name: ''\n    device: ' '"),
          ("  day_prefix: mùng ", "  day_prefix: '' "))
    sched = load_schedule(example)
    zone = sched.zones["thon-van-hoa"]
    assert (zone.name, zone.device) == ("thon-van-hoa", "default")
    assert sched.station.day_prefix is None  # '' is "none" here: days read without a prefix


def test_a_file_the_schedule_names_must_come_with_its_companion(example):
    (example.parent / "giong.onnx").write_bytes(b"onnx")
    lines = _edit(example, ("  speed: 1.0", "  speed: 1.0\n  piper_model: giong.onnx"))
    with pytest.raises(LoaError) as exc:
        load_schedule(example)
    (p,) = exc.value.problems
    assert (p.line, p.key) == (_line(lines, "piper_model:"), "piper_model")
    assert p.message == ("không tìm thấy tệp 'giong.onnx.json' đi kèm tệp giọng đọc piper "
                         "'giong.onnx' (cần cả hai tệp, cạnh nhau).")
    (example.parent / "giong.onnx.json").write_text("{}", encoding="utf-8")
    assert load_schedule(example).station.piper_model == (example.parent / "giong.onnx").resolve()
