"""Hostile and mistaken YAML: bounded loading, and every error in Vietnamese with
file, line and column, through the loaders and through the real CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.schedule import expand, load_program_bulletins, load_schedule
from loa.script import load_bulletins
from loa.yamlio import MAX_BYTES, load_yaml

REPO = Path(__file__).resolve().parents[1]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9))
ENGLISH = re.compile(r"\b(found|expected|mapping values|not allowed|while (scanning|parsing)|"
                     r"position \d|could not|unacceptable|Traceback)\b")


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def _problems(path: Path, loader=load_schedule) -> list:
    with pytest.raises(LoaError) as exc:
        loader(path)
    return exc.value.problems


def _line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


# --- the loader: limits, tags, bytes, syntax ----------------------------------------------------

# name, file text, Vietnamese words expected, (line, column) of the fault
LOAD_CASES = [
    ("alias-bomb", BOMB, "bí danh (*) nhân dữ liệu", (4, 4)),
    ("recursive-alias", "a: &a [1, *a]\n", "tự tham chiếu", (1, 4)),
    ("deep-flow", "a: " + "[" * 900 + "]" * 900 + "\n", "lồng nhau quá 50 tầng", (1, 53)),
    ("deep-block", "".join(" " * i + f"k{i}:\n" for i in range(120)),
     "lồng nhau quá 50 tầng", (50, 50)),
    ("int-tag", "station:\n  speed: !!int abc\n", "'abc' không đọc được thành số nguyên",
     (2, 10)),
    ("bool-tag", "chime: !!bool maybe\n", "'maybe' không đọc được thành đúng/sai", (1, 8)),
    ("float-tag", "speed: !!float nhanh\n", "không đọc được thành số thực", (1, 8)),
    ("map-tag", "zones: !!map [1]\n", "thẻ !!map cần một bảng", (1, 8)),
    ("seq-tag", "zones: !!seq {a: 1}\n", "thẻ !!seq cần một danh sách", (1, 8)),
    ("str-tag", "name: !!str [1]\n", "cần một giá trị đơn", (1, 7)),
    ("python-tag", "x: !!python/object/apply:os.system [echo hi]\n",
     "thẻ YAML '!!python/object/apply:os.system' không dùng được", (1, 4)),
    ("binary-tag", "x: !!binary x\n", "thẻ YAML '!!binary' không dùng được", (1, 4)),
    ("set-tag", "x: !!set {a, b}\n", "thẻ YAML '!!set' không dùng được", (1, 4)),
    ("custom-tag", "x: !thu 1\n", "thẻ YAML '!thu' không dùng được", (1, 4)),
    ("huge-int", "x: " + "9" * 5000 + "\n", "không đọc được thành số nguyên", (1, 4)),
    ("nul", "station:\n  name: Đài\x00\n", "ký tự điều khiển U+0000", (2, 12)),
    ("bell", "a: 1\nname: Thôn \x07Văn\n", "ký tự điều khiển U+0007", (2, 12)),
    ("mapping-values", "station:\n  name: Đài: xã: Ba Vì\n", "dấu ':' không đặt được ở đây",
     (2, 12)),
    ("tab-indent", "station:\n\tname: x\n", "ký tự tab", (2, 1)),
    ("bad-indent", "station:\n  name: a\n id: b\n", "thụt lề không khớp", (3, 2)),
    ("unclosed-list", "zones: [a, b\nsessions: 1\n", "thiếu dấu ',' hoặc ']'", (2, 9)),
    ("unclosed-quote", 'name: "Ba Vì\n', "thiếu dấu ngoặc kép đóng", (2, 1)),
    ("bad-escape", 'name: "C:\\q"\n', "sau dấu '\\' trong ngoặc kép", (1, 10)),
    ("undefined-alias", "zones: *tat-ca\n", "bí danh (*) 'tat-ca' chưa có neo", (1, 8)),
    ("two-documents", "a: 1\n---\nb: 2\n", "chỉ được có một phần", (2, 1)),
    ("bad-start", "a: 1\n@b: 2\n", "ký tự '@' không mở đầu được", (2, 1)),
    ("duplicate-key", "station: 1\nstation: 2\n", "khóa 'station' bị lặp lại", (2, 1)),
]


@pytest.mark.parametrize("name, text, words, where", LOAD_CASES, ids=[c[0] for c in LOAD_CASES])
def test_bad_yaml_is_a_vietnamese_error_with_line_and_column(tmp_path, name, text, words, where):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    problems = _problems(path, load_yaml)
    assert time.monotonic() - started < 2
    [p] = problems
    assert words in p.message and (p.line, p.column) == where, str(p)
    assert str(p).startswith(f"{path}, dòng {where[0]}, cột {where[1]}: ")
    assert not ENGLISH.search(p.message), p.message


def test_non_utf8_names_the_first_bad_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("station:\n  name: Đài Ba Vì\n  place: Ph".encode() + b"\xfa Th\xe1i\n")
    [p] = _problems(path, load_yaml)
    assert (p.line, p.column) == (3, 12) and "không phải văn bản UTF-8 (byte 0xFA" in p.message


def test_size_limit_is_checked_before_reading(tmp_path):
    path = tmp_path / "lon.yaml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("x: '" + "a" * (MAX_BYTES + 10) + "'\n")
    [p] = _problems(path, load_yaml)
    assert "tệp quá lớn" in p.message and "tối đa 5 MB" in p.message


def test_node_count_is_bounded(tmp_path, monkeypatch):
    # the real limit (200,000) needs a 5 MB file; the mechanism is the same at 1,000
    monkeypatch.setattr("loa.yamlio.MAX_NODES", 1000)
    path = tmp_path / "nhieu.yaml"
    path.write_text("x:\n" + "- a\n" * 1200, encoding="utf-8")
    [p] = _problems(path, load_yaml)
    # node 1,001 (after the mapping, its key and the list) is item 998, on line 999
    assert "tệp có quá nhiều giá trị (hơn 1.000)" in p.message and p.line == 999


def test_a_directory_or_missing_file_is_a_clear_error(tmp_path):
    assert "thư mục" in _problems(tmp_path, load_yaml)[0].message
    assert "không tìm thấy tệp" in _problems(tmp_path / "khong-co.yaml", load_yaml)[0].message


def test_anchors_and_merge_keys_within_the_limit_still_work(tmp_path):
    path = tmp_path / "neo.yaml"
    path.write_text("mac-dinh: &md {days: T2-T6, zones: &vung [toan-xa, thon-1]}\n"
                    "sang: {<<: *md, time: '06:30'}\nchieu: {<<: *md, zones: *vung}\n",
                    encoding="utf-8")
    data = load_yaml(path)
    assert data["sang"] == {"days": "T2-T6", "zones": ["toan-xa", "thon-1"], "time": "06:30"}
    assert data["chieu"]["zones"] == ["toan-xa", "thon-1"]


def test_scalars_read_as_an_officer_means_them(tmp_path):
    path = tmp_path / "so.yaml"
    path.write_text("a: 17:00\nb: 6:30\nc: 017\nd: 09\ne: 0x1F\nf: 2026-04-01\ng: 1_000\n"
                    "h: .nan\n", encoding="utf-8")
    data = load_yaml(path)
    # YAML 1.1 would give 1020, 390 and octal 15
    assert (data["a"], data["b"], data["c"], data["d"]) == ("17:00", "6:30", 17, "09")
    assert (data["e"], data["f"], data["g"]) == (31, "2026-04-01", 1000)
    assert data["h"] != data["h"]  # nan is still read; the schema refuses it


def test_text_written_by_loa_reads_back_unchanged(tmp_path):
    from loa.yamlio import write_yaml

    tricky = ["17:00", "1:09", "0:40", "017", "09", "0x1F", "0b11", "1_000", "1.5e3", "1.5e+3",
              "yes", "No", "~", ".nan", "-.inf", "2026-04-01", "1e5", "+1", "-0", "<<", "="]
    path = tmp_path / "vong.yaml"
    write_yaml(path, {"titles": tricky, "numbers": [17, -3, 1.5, True, None]})
    assert load_yaml(path) == {"titles": tricky, "numbers": [17, -3, 1.5, True, None]}


def test_a_large_legitimate_bulletins_file_loads_quickly(tmp_path):
    body = "".join(f"- id: IV.{i}.a\n  title: Tin số {i}\n  status: draft\n  text: >-\n    "
                   + "Kính thưa bà con nhân dân xã Ba Vì, " * 10 + "\n" for i in range(6000))
    path = tmp_path / "lon.yaml"
    path.write_text("plan:\n  id: lon\nbulletins:\n" + body, encoding="utf-8")
    assert 2_000_000 < path.stat().st_size < MAX_BYTES
    started = time.monotonic()
    assert len(load_bulletins(path).bulletins) == 6000
    assert time.monotonic() - started < 15  # about 1.5 s alone; the machine is shared


# --- the schedule schema: strict numbers, lists, days, times -------------------------------------

def _edit(example: Path, old: str, new: str) -> str:
    text = example.read_text(encoding="utf-8")
    assert old in text, old
    text = text.replace(old, new, 1)
    example.write_text(text, encoding="utf-8")
    return text


STATION = "  speed: 1.0\n"
SCHEDULE_CASES = [
    # name, old text, new text, words expected, marker on the faulty line
    ("nan-minutes", "  max_session_minutes: 45 ", "  max_session_minutes: .nan ",
     "'max_session_minutes' phải là số phút lớn hơn 0 (tối đa 1440) (đang ghi: 'nan')",
     "max_session_minutes"),
    ("inf-minutes", "  max_session_minutes: 45 ", "  max_session_minutes: .inf ",
     "'max_session_minutes'", "max_session_minutes"),
    ("zero-minutes", "  max_session_minutes: 45 ", "  max_session_minutes: 0 ",
     "'max_session_minutes'", "max_session_minutes"),
    ("huge-minutes", "  max_session_minutes: 45 ", "  max_session_minutes: 1e999 ",
     "'max_session_minutes'", "max_session_minutes"),
    ("bool-speed", STATION, "  speed: true\n", "'speed' (tốc độ đọc) phải từ 0.5 đến 2.0 "
     "(đang ghi: 'True')", "speed: true"),
    ("nan-speed", STATION, "  speed: .NaN\n", "'speed'", "speed:"),
    ("list-speed", STATION, "  speed: [1]\n", "'speed'", "speed:"),
    ("text-speed", STATION, "  speed: nhanh\n", "(đang ghi: 'nhanh')", "speed:"),
    ("inf-loudness", STATION, STATION + "  loudness: -.inf\n", "'loudness'", "loudness"),
    ("negative-roll", STATION, STATION + "  pre_roll: -1\n", "'pre_roll' phải là số giây",
     "pre_roll"),
    ("nan-roll", STATION, STATION + "  post_roll: .nan\n", "'post_roll'", "post_roll"),
    ("empty-engines", "  engines: [gtts, espeak] ", "  engines: [] ",
     "'engines' rỗng: cần ít nhất một bộ đọc", "engines"),
    ("bad-engine", "  engines: [gtts, espeak] ", "  engines: [gtts, {x: 1}] ",
     "bộ đọc '{x: 1}' không có", "engines"),
    ("bool-chime", STATION, STATION + "  chime: 'yes'\n", "'chime'", "chime"),
    ("list-name", "  name: Đài truyền thanh xã Ba Vì\n", "  name: [Đài, xã]\n",
     "'name' phải là một đoạn chữ", "name: [Đài"),
    ("bad-timezone", "  timezone: Asia/Ho_Chi_Minh", "  timezone: ../../etc/passwd",
     "múi giờ '../../etc/passwd' không tồn tại", "timezone"),
    ("list-timezone", "  timezone: Asia/Ho_Chi_Minh", "  timezone: [Asia]",
     "múi giờ '[Asia]' không tồn tại", "timezone"),
    ("bad-station-id", "  id: ba-vi\n", "  id: 'ba vi|x'\n", "mã đài 'ba vi|x'", "id: 'ba vi"),
    ("bool-volume", "    volume: 80 ", "    volume: true ", "'volume' của vùng 'toan-xa'",
     "volume"),
    ("fraction-volume", "    volume: 80 ", "    volume: 80.5 ", "(đang ghi: '80.5')", "volume"),
    ("huge-relay", "    volume: 80 ", "    relay: 99999999999999999999 ",
     "'relay' của vùng 'toan-xa' phải là số chân GPIO", "relay"),
    ("empty-zones", "zones:\n  - id: toan-xa", "zones: []\nold_zones:\n  - id: toan-xa",
     "'zones' rỗng: cần ít nhất một vùng", "zones: []"),
    ("int-time", '    time: "17:00"', "    time: 1020", "giờ phát '1020' không hợp lệ",
     "time: 1020"),
    ("unquoted-25h", '    time: "17:00"', "    time: 25:00", "giờ phát '25:00' không hợp lệ",
     "time: 25:00"),
    ("unquoted-24h", '    time: "17:00"', "    time: 24:00", "giờ phát '24:00' không hợp lệ",
     "time: 24:00"),
    ("empty-days", "    days: T2-T6", "    days: []", "'days' rỗng", "days: []"),
    # a zone twice: validate passed it, the daemon then never finished either play
    ("duplicate-zone", "    days: T2-T6\n    zones: [toan-xa, thon-van-hoa]",
     "    days: T2-T6\n    zones: [toan-xa, toan-xa]", "vùng 'toan-xa' ghi hai lần trong 'zones'",
     "zones: [toan-xa, toan-xa]"),
    ("bad-days", "    days: T2-T6", "    days: T2-T9", "ngày trong tuần 'T2-T9'", "T2-T9"),
    ("empty-session-zones", "    zones: [toan-xa, thon-van-hoa]\n  - id: chieu",
     "    zones: []\n  - id: chieu", "'zones' rỗng", "zones: []"),
    ("id-with-newline", "  - id: chieu", '  - id: "chieu\\n"', "mã 'chieu\\n'", 'id: "chieu'),
    ("zero-per-session", "    per_session: 2", "    per_session: 0", "'per_session' phải là "
     "số nguyên từ 1 đến 100 (đang ghi: '0')", "per_session"),
    ("bool-per-session", "    per_session: 2", "    per_session: true", "'per_session'",
     "per_session"),
    ("fraction-per-session", "    per_session: 2", "    per_session: 1.5", "'per_session'",
     "per_session"),
    ("huge-per-session", "    per_session: 2", "    per_session: 1000000000000000000000",
     "'per_session'", "per_session"),
    ("nan-minutes-per-session", "    per_session: 2", "    minutes_per_session: .nan",
     "'minutes_per_session'", "minutes_per_session"),
    ("no-program-sessions", "    sessions: [sang, chieu]\n", "",
     "chương trình 'kstthc-2026' thiếu 'sessions'", "  - id: kstthc-2026"),
    ("empty-program-sessions", "    sessions: [sang, chieu]", "    sessions: []",
     "'sessions' rỗng", "sessions: []"),
    ("bad-until", "    until: 2026-12-31", "    until: 2026-13-45",
     "ngày '2026-13-45' không hợp lệ", "until"),
    ("bulletins-dir", "    bulletins: bulletins/ba-vi-2026.yaml", "    bulletins: bulletins",
     "tệp bản tin 'bulletins' không phải một tệp thường", "bulletins: bulletins"),
    ("bulletins-nul", "    bulletins: bulletins/ba-vi-2026.yaml", '    bulletins: "a\\0b"',
     "không tìm thấy tệp bản tin 'a\\x00b'", 'bulletins: "a'),
    ("bulletins-long-name", "    bulletins: bulletins/ba-vi-2026.yaml",
     "    bulletins: " + "a" * 5000, "không tìm thấy tệp bản tin 'aaaa", "bulletins: aaaa"),
    ("bad-skip", "skip_dates: [2026-09-02]", "skip_dates: [2026-09-02, {a: 1}]",
     "ngày nghỉ '{a: 1}' không hợp lệ", "skip_dates"),
]


@pytest.mark.parametrize("name, old, new, words, marker", SCHEDULE_CASES,
                         ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_values_are_checked_strictly(example, name, old, new, words, marker):
    text = _edit(example, old, new)
    problems = _problems(example)
    hit = [p for p in problems if words in p.message]
    assert hit, "\n".join(str(p) for p in problems)
    assert hit[0].line == _line_of(text, marker) and hit[0].column, str(hit[0])
    assert len(hit[0].message) < 300


ANNOUNCEMENT = ("announcements:\n  - id: tiem-chung\n    at: 2026-05-04 07:15\n"
                "    title: Tiêm chủng\n    text: Sáng thứ Hai tiêm chủng tại trạm y tế xã.\n")


@pytest.mark.parametrize("line, words", [
    ("    priority: true\n", "'priority' phải là 1 (khẩn cấp)"),  # true is not 1 (an emergency)
    ("    priority: 1.5\n", "'priority'"),
    ("    priority: .nan\n", "'priority'"),
    ("    zones: []\n", "'zones' rỗng"),
    ("    text: [a, b]\n", "'text' phải là một đoạn chữ"),
    ("    id: [x]\n", "mã '[x]'"),
])
def test_announcement_values_are_checked_strictly(example, line, words):
    text = example.read_text(encoding="utf-8") + ANNOUNCEMENT + line
    text = text.replace("    text: Sáng thứ Hai tiêm chủng tại trạm y tế xã.\n    text: [a, b]\n",
                        "    text: [a, b]\n")
    text = text.replace("  - id: tiem-chung\n    at: 2026-05-04 07:15\n    title: Tiêm chủng\n"
                        "    text: Sáng thứ Hai tiêm chủng tại trạm y tế xã.\n    id: [x]\n",
                        "  - id: [x]\n    at: 2026-05-04 07:15\n    text: Sáng thứ Hai.\n")
    example.write_text(text, encoding="utf-8")
    problems = _problems(example)
    assert any(words in p.message and p.line and p.column for p in problems), \
        "\n".join(str(p) for p in problems)


def test_unquoted_time_reads_as_the_clock_time(example):
    _edit(example, '    time: "17:00"', "    time: 17:00")
    _edit(example, '    time: "06:30"', "    time: 6:30")
    sched = load_schedule(example)
    assert sched.sessions["chieu"].time.strftime("%H:%M") == "17:00"
    assert sched.sessions["sang"].time.strftime("%H:%M") == "06:30"


def test_wrapped_day_range_plays_friday_to_monday(example):
    _edit(example, "    days: T2-T6", "    days: T6-T2")
    sched = load_schedule(example)
    assert sched.sessions["chieu"].days == {4, 5, 6, 0}
    start = datetime(2026, 6, 1, tzinfo=DEFAULT_TZ)  # a Monday
    occs = expand(sched, load_program_bulletins(sched), start, start + timedelta(days=7))
    days = sorted({o.at.strftime("%a") for o in occs if o.session == "chieu"})
    assert days == ["Fri", "Mon", "Sat", "Sun"]


def test_long_values_are_cut_in_errors(example):
    _edit(example, "  timezone: Asia/Ho_Chi_Minh", "  timezone: " + "Á" * 100_000)
    _edit(example, "  - id: chieu", "  - id: " + "c" * 100_000)
    problems = _problems(example)
    assert len(problems) >= 2 and all(len(p.message) < 300 for p in problems)
    assert any("'" + "Á" * 60 + "…'" in p.message for p in problems)


# --- bulletins ------------------------------------------------------------------------------------

BULLETIN_CASES = [
    ("  priority: 3\n", "  priority: true\n", "'priority' phải là một trong"),
    ("  priority: 3\n", "  priority: 2.5\n", "'priority'"),
    ("  field: 1\n", "  field: 7\n", "'field' phải là một trong"),
    ("  field: 1\n", "  field: .nan\n", "'field'"),
    ("  status: approved\n", "  status: [approved]\n", "trạng thái '[approved]' không hợp lệ"),
    ("  source_line: 149\n", "  source_line: dòng 149\n", "'source_line' phải là số dòng"),
    ("  source_line: 149\n", "  source_line: -3\n", "'source_line'"),
    ("  status: approved\n", "  status: approved\n  review: 'false'\n",
     "'review' phải là true hoặc false"),
    ("  chars_per_second: 15.0\n", "  chars_per_second: .nan\n", "'chars_per_second'"),
    ("  chars_per_second: 15.0\n", "  chars_per_second: 0\n", "'chars_per_second'"),
    ("- id: IV.1.a\n  title: >-\n", "- id: IV.1.a\n  title: [a, b]\n  x: >-\n",
     "'title' phải là một đoạn chữ"),
    ("- id: IV.1.a\n", "- id: true\n", "mã bản tin 'True' phải là một chữ hoặc số"),
    ("  year: 2026\n", "  year: [2026]\n", "'year' phải là một đoạn chữ"),
]


@pytest.mark.parametrize("old, new, words", BULLETIN_CASES, ids=[c[2] + c[1] for c in
                                                                 BULLETIN_CASES])
def test_bulletin_values_are_checked_strictly(example, old, new, words):
    path = example.parent / "bulletins" / "ba-vi-2026.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    problems = _problems(path, load_bulletins)
    hit = [p for p in problems if words in p.message]
    assert hit and hit[0].line and hit[0].column, "\n".join(str(p) for p in problems)


# --- the real CLI: exit 2, Vietnamese, file:line:column, fast, bounded memory ------------------

# Runs loa in a fresh parent, so RUSAGE_CHILDREN is loa's own peak, not an earlier test's.
_WRAP = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(f'MAXRSS_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', "
         "file=sys.stderr); sys.exit(r.returncode)")


def _cli(tmp_path: Path, *args: str) -> tuple[int, str, str, float, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOA_DATA_DIR": str(tmp_path / "data")}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _WRAP, sys.executable, "-m", "loa", *args],
                          capture_output=True, text=True, env=env, timeout=60)
    elapsed = time.monotonic() - started
    err, rss = proc.stderr.rsplit("MAXRSS_KB=", 1)
    return proc.returncode, proc.stdout, err, elapsed, int(rss) / 1024


CLI_CASES = [
    ("alias-bomb", lambda t: BOMB, (4, 4)),
    # libyaml's own limit (1,000) trips first here, while it looks ahead for a key
    ("deep", lambda t: "station: " + "[" * 100_000 + "]" * 100_000 + "\n", (1, None)),
    ("int-tag", lambda t: t.replace("  speed: 1.0", "  speed: !!int abc"), "  speed:"),
    ("map-tag", lambda t: t.replace("skip_dates: [2026-09-02]", "skip_dates: !!map [1]"),
     "skip_dates"),
    ("nul", lambda t: t.replace("  name: Đài", "  name: Đ\x00ài"), "  name: Đ"),
    ("syntax", lambda t: t.replace("  name: Đài truyền", "  name: Đài: truyền"),
     "  name: Đài"),
    ("bool-tag", lambda t: t.replace("  speed: 1.0", "  speed: !!bool maybe"), "  speed:"),
    ("python-tag", lambda t: t.replace("  speed: 1.0", "  speed: !!python/object/apply:os.system"
                                       " [touch /tmp/loa-pwned]"), "  speed:"),
    ("binary-tag", lambda t: t.replace("  voice: north", "  voice: !!binary bm9ydGg="),
     "  voice:"),
    ("bell", lambda t: t.replace("  place: Ba Vì", "  place: Ba\x07 Vì"), "  place: Ba"),
    ("tab", lambda t: t.replace("  place: Ba Vì", "\tplace: Ba Vì"), "\tplace"),
    ("nan", lambda t: t.replace("  max_session_minutes: 45", "  max_session_minutes: .nan"),
     "max_session_minutes"),
    ("empty-engines", lambda t: t.replace("  engines: [gtts, espeak]", "  engines: []"),
     "engines:"),
    ("huge-value", lambda t: t.replace("  voice: north", "  timezone: " + "x" * 3_000_000),
     "timezone: xxx"),
]


@pytest.mark.parametrize("name, mutate, where", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_validate_refuses_bad_schedules_cleanly(example, tmp_path, name, mutate, where):
    text = mutate(example.read_text(encoding="utf-8"))
    example.write_text(text, encoding="utf-8")
    code, out, err, elapsed, rss_mb = _cli(tmp_path, "validate", str(example))
    if isinstance(where, str):
        where = (_line_of(text, where), None)
    assert code == 2, err
    assert "Traceback" not in err and not ENGLISH.search(err), err
    assert err.startswith(f"Lỗi: {example}, dòng {where[0]}, cột "), err
    if where[1]:
        assert f"dòng {where[0]}, cột {where[1]}:" in err
    assert len(err) < 2000  # values are cut to an excerpt
    assert elapsed < 10, elapsed  # about 1 s alone
    assert rss_mb < 300, rss_mb  # an alias bomb used to take 1.8-4 GB


def test_cli_next_plays_unquoted_times_and_wrapped_day_ranges(example, tmp_path):
    text = example.read_text(encoding="utf-8").replace('    time: "17:00"', "    time: 17:00")
    text = text.replace("    days: T2-T6", "    days: T6-T2").replace("until: 2026-12-31",
                                                                     "until: 2099-12-31")
    example.write_text(text, encoding="utf-8")
    code, out, err, _, _ = _cli(tmp_path, "next", str(example), "--days", "7")
    assert code == 0, err
    evening = [row.split()[0] for row in out.splitlines() if " 17:00  Buổi chiều" in row]
    assert sorted(evening) == ["CN", "T2", "T6", "T7"], out  # Friday to Monday, at 17:00


def test_cli_reads_non_utf8_with_line_and_column(example, tmp_path):
    raw = example.read_bytes().replace("  place: Ba Vì".encode(), b"  place: Ba V\xec")
    example.write_bytes(raw)
    code, _, err, _, _ = _cli(tmp_path, "validate", str(example))
    line = raw[:raw.index(b"\xec")].count(b"\n") + 1
    assert code == 2 and f"dòng {line}, cột 14: tệp không phải văn bản UTF-8" in err, err


def test_cli_reports_a_bad_bulletins_file_by_its_own_name(example, tmp_path):
    path = example.parent / "bulletins" / "ba-vi-2026.yaml"
    text = path.read_text(encoding="utf-8").replace("  priority: 3\n", "  priority: !!int ba\n",
                                                    1)
    path.write_text(text, encoding="utf-8")
    code, _, err, _, _ = _cli(tmp_path, "validate", str(example))
    line = _line_of(text, "priority: !!int")
    assert code == 2 and f"Lỗi: {path}, dòng {line}, cột 13: giá trị 'ba'" in err, err


def test_cli_next_and_calendar_list_announcements(example, tmp_path):
    soon = datetime.now(DEFAULT_TZ).replace(second=0, microsecond=0) + timedelta(days=1)
    soon = soon.replace(hour=9, minute=15)
    text = example.read_text(encoding="utf-8") + (
        f"announcements:\n  - id: tiem-chung\n    at: {soon:%Y-%m-%d %H:%M}\n"
        "    title: Tiêm chủng\n    text: Sáng mai tiêm chủng tại trạm y tế xã.\n")
    example.write_text(text, encoding="utf-8")
    code, out, err, _, _ = _cli(tmp_path, "next", str(example), "--days", "3")
    assert code == 0 and "Traceback" not in err, err  # was KeyError: 'thong-bao:tiem-chung'
    line = next(n for n, row in enumerate(out.splitlines()) if f"{soon:%d/%m/%Y} 09:15" in row)
    assert "Thông báo — Toàn xã, Thôn Văn Hòa" in out.splitlines()[line]
    assert "tiem-chung" in out.splitlines()[line + 1] and "Tiêm chủng" in out
    code, out, err, _, _ = _cli(tmp_path, "calendar", str(example), "--days", "3")
    # names, not ids: the announcement's title under the session name "Thông báo"
    assert code == 0 and "Thông báo — Toàn xã, Thôn Văn Hòa: Tiêm chủng" in out, err
    assert "tiem-chung" not in out


# --- a seeded, bounded fuzz of schedules and bulletins through the CLI --------------------------

_FUZZ_TOKENS = ["!!int", "!!bool x", "!!map", "!!seq", "!!binary aGk=", "&a", "*a", "[", "]", "{",
                "}", ": ", "- ", "\t", "\x00", "\x07", '"', "'", ".nan", ".inf", "-.inf", "true",
                "1.0e+999", "-1", "0", "[]", "{}", "~", "x" * 3000, "17:00", "25:61", "T6-T2",
                "99999999999999999999999", "2026-02-30", "<<: *a", "? ", "|", ">", "---", "@",
                "`", "!", "\u2028", "\ufeff", "0x1F", "017", "[" * 80, "- - -", "\udcff"]


def _mutate(rnd, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rnd.randint(1, 3)):
        i, op = rnd.randrange(len(lines)), rnd.randrange(6)
        line = lines[i]
        cut = rnd.randint(0, len(line))
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rnd.randrange(len(lines))])
        elif op == 2:
            lines[i] = line[:cut] + rnd.choice(_FUZZ_TOKENS) + line[cut:]
        elif op == 3 and ": " in line:
            lines[i] = line[:line.index(": ") + 2] + rnd.choice(_FUZZ_TOKENS)
        elif op == 4:
            lines[i] = " " * rnd.randint(0, 5) + line.lstrip()
        else:
            lines[i] = line[:cut] + line[cut + 1:]
    return "\n".join(lines)


def test_fuzzed_schedules_and_bulletins_never_crash(example, tmp_path, monkeypatch, capsys):
    import random

    from loa.cli import main

    monkeypatch.setenv("LOA_DATA_DIR", str(tmp_path / "data"))
    rnd = random.Random(20261130)
    bpath = example.parent / "bulletins" / "ba-vi-2026.yaml"
    sched = example.read_text(encoding="utf-8") + ANNOUNCEMENT
    bulletins = bpath.read_text(encoding="utf-8")
    counts = {"ok": 0, "error": 0}
    for n in range(60):
        target, text = (example, sched) if n % 2 else (bpath, bulletins)
        example.write_text(sched, encoding="utf-8")
        bpath.write_text(bulletins, encoding="utf-8")
        # lone surrogates become undecodable bytes: the non-UTF-8 path is fuzzed too
        target.write_bytes(_mutate(rnd, text).encode("utf-8", "surrogateescape"))
        for args in (["validate", str(example)], ["next", str(example)],
                     ["bulletin", "list", str(bpath)]):
            started = time.monotonic()
            code = main(args)  # anything but LoaError propagates and fails the test
            assert time.monotonic() - started < 10, (n, args)
            err = capsys.readouterr().err
            counts["ok" if code == 0 else "error"] += 1
            if code:
                assert code == 2
                for row in err.splitlines():
                    assert row.startswith((f"Lỗi: {example}, dòng ", f"Lỗi: {bpath}, dòng ")), \
                        (n, args, row)
                    assert len(row) < 1000
    assert counts["error"] > 50 and counts["ok"] > 20, counts  # the fuzz reached both paths
