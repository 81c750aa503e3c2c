from __future__ import annotations

import shutil
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.schedule import expand, load_program_bulletins, load_schedule

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def test_example_schedule_is_valid(example, capsys):
    assert main(["validate", str(example)]) == 0
    assert "Lịch phát hợp lệ" in capsys.readouterr().out


def test_expansion_respects_days_dates_and_skips(example):
    sched = load_schedule(example)
    pool = load_program_bulletins(sched)
    start = datetime(2026, 8, 31, 0, 0, tzinfo=DEFAULT_TZ)  # Monday
    occs = expand(sched, pool, start, start + timedelta(days=7))
    times = [(o.at.strftime("%a %d %H:%M"), o.session) for o in occs]
    assert ("Wed 02 06:30", "sang") not in times  # skip_dates: 2026-09-02
    assert ("Sat 05 17:00", "chieu") not in times  # afternoon is T2-T6 only
    assert ("Sat 05 06:30", "sang") in times
    assert all(o.at.tzinfo is not None and o.at.utcoffset() == timedelta(hours=7) for o in occs)
    assert all(len(o.items) == 2 for o in occs)
    # nothing after the program's last day
    late = expand(sched, pool, datetime(2026, 12, 31, 12, tzinfo=DEFAULT_TZ),
                  datetime(2027, 1, 3, tzinfo=DEFAULT_TZ))
    assert [o.at.date().isoformat() for o in late] == ["2026-12-31"]


def test_rotation_gives_every_bulletin_fair_airtime_in_every_session(example):
    sched = load_schedule(example)
    pool = load_program_bulletins(sched)
    start = datetime(2026, 4, 1, tzinfo=DEFAULT_TZ)
    occs = expand(sched, pool, start, start + timedelta(days=28))
    for session in ("sang", "chieu"):
        counts = Counter(i.bulletin.id for o in occs if o.session == session for i in o.items)
        assert set(counts) == {"IV.1.a", "IV.2.a", "IV.2.c", "IV.3.c"}
        assert max(counts.values()) - min(counts.values()) <= 2


def test_every_schedule_error_at_once_with_lines_and_suggestions(example):
    bad = example.read_text(encoding="utf-8")
    bad = bad.replace("  timezone: Asia/Ho_Chi_Minh", "  timezone: Asia/Hanoi_City")
    bad = bad.replace('    time: "17:00"', '    time: "25:00"')
    bad = bad.replace("    per_session: 2", "    per_sesion: 2")
    bad = bad.replace("    zones: [toan-xa, thon-van-hoa]\n  - id: chieu",
                      "    zones: [toan-xa, thon-van-hao]\n  - id: chieu")
    example.write_text(bad, encoding="utf-8")
    with pytest.raises(LoaError) as exc:
        load_schedule(example)
    problems = exc.value.problems
    text = "\n".join(str(p) for p in problems)
    assert len(problems) == 4, text
    lines = {p.line for p in problems}
    src = bad.splitlines()
    assert any("timezone: Asia/Hanoi_City" in src[n - 1] for n in lines)
    assert any('time: "25:00"' in src[n - 1] for n in lines)
    assert "Có phải ý bạn là 'per_session'?" in text
    assert "Có phải ý bạn là 'thon-van-hoa'?" in text
    assert all(str(example) in str(p) for p in problems)


def test_session_in_quiet_hours_is_rejected(example, capsys):
    text = example.read_text(encoding="utf-8").replace('time: "06:30"', 'time: "04:30"')
    example.write_text(text, encoding="utf-8")
    assert main(["validate", str(example)]) == 2
    err = capsys.readouterr().err
    line = text.splitlines().index('    time: "04:30"') + 1
    assert "giờ yên tĩnh" in err and f"dòng {line}, cột 11:" in err and "Traceback" not in err


def test_yaml_syntax_error_names_the_line(example, capsys):
    text = example.read_text(encoding="utf-8").replace("  - id: chieu", "  - id: [chieu")
    example.write_text(text, encoding="utf-8")
    assert main(["validate", str(example)]) == 2
    err = capsys.readouterr().err
    assert "lỗi cú pháp YAML" in err and "dòng" in err


# Tuesday 1 September 2026, 06:00 in Hà Nội: the day before a skip date (2026-09-02).
FIXED_NOW = datetime(2026, 9, 1, 6, 0, tzinfo=DEFAULT_TZ)


def test_next_prints_vietnamese_calendar(example, capsys):
    with time_machine.travel(FIXED_NOW, tick=False):
        assert main(["next", str(example), "--days", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    # both sessions of Tuesday, nothing on the skip date, nothing past 2 days
    assert [line for line in out if not line.startswith(" ")] == [
        "T3 01/09/2026 06:30  Buổi sáng — Toàn xã, Thôn Văn Hòa (~1.5 phút)",
        "T3 01/09/2026 17:00  Buổi chiều — Toàn xã, Thôn Văn Hòa (~2.1 phút)",
    ]
    # two bulletins a session (per_session: 2), four different ones over the day
    # each by its title and program, the id in brackets for typing it
    items = [line.rsplit("[", 1)[1].rstrip("]") for line in out if line.startswith("    ")]
    assert items == ["IV.2.a", "IV.2.c", "IV.3.c", "IV.1.a"]
    assert out[-1] == ("    Tuyên truyền về vai trò và tầm quan trọng của nhiệm vụ kiểm soát thủ tục "
                       "hành chính (Tuyên truyền kiểm soát thủ tục hành chính năm 2026) [IV.1.a]")


def test_next_says_when_nothing_will_play(example, capsys):
    with time_machine.travel(datetime(2027, 1, 5, 8, 0, tzinfo=DEFAULT_TZ), tick=False):
        assert main(["next", str(example), "--days", "7"]) == 0  # the program ended 2026-12-31
    assert capsys.readouterr().out == "Không có gì để phát trong 7 ngày tới.\n"


def test_station_reading_preferences_reach_the_normalizer(example):
    from loa.station.wiring import normalizer

    (example.parent / "tu-viet-tat.yaml").write_text('"BVX": Ban văn xã\n', encoding="utf-8")
    text = example.read_text(encoding="utf-8")
    text = text.replace("  day_prefix: mùng ", "  day_prefix: mồng ").replace(
        "  # lexicon: tu-viet-tat.yaml", "  lexicon: tu-viet-tat.yaml").replace(
        "  voice: north ", "  voice: south ")
    example.write_text(text, encoding="utf-8")
    station = load_schedule(example).station
    spoken = normalizer(station=station)("BVX họp ngày 05/3/2026 với 1.500 người")
    assert spoken.startswith("Ban văn xã họp ngày mồng năm tháng ba năm hai ngàn")
    assert "một ngàn năm trăm người" in spoken  # southern numbers


def test_missing_station_lexicon_is_reported(example, capsys):
    text = example.read_text(encoding="utf-8").replace("  # lexicon: tu-viet-tat.yaml",
                                                       "  lexicon: khong-co.yaml")
    example.write_text(text, encoding="utf-8")
    assert main(["validate", str(example)]) == 2
    assert "khong-co.yaml" in capsys.readouterr().err


def test_calendar_and_ics_export(example, tmp_path, capsys):
    with time_machine.travel(FIXED_NOW, tick=False):
        assert main(["calendar", str(example), "--days", "3"]) == 0
        out = capsys.readouterr().out
        assert "buổi phát trong 3 ngày" in out and "Toàn xã" in out
        ics = tmp_path / "lich.ics"
        assert main(["calendar", str(example), "--days", "7", "--ics", str(ics)]) == 0
    raw = ics.read_bytes().decode("utf-8")
    assert raw.startswith("BEGIN:VCALENDAR\r\n") and raw.endswith("END:VCALENDAR\r\n")
    # 1 Sept 06:00 to 8 Sept 06:00, nothing on the skip date (2 Sept): mornings 1, 3-7 Sept,
    # afternoons (T2-T6) on 1, 3, 4 and 7 Sept
    assert raw.count("BEGIN:VEVENT") == 6 + 4
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))  # RFC 5545 folding
    assert "SUMMARY:Buổi sáng — Toàn xã\\, Thôn Văn Hòa" in raw.replace("\r\n ", "")


def test_announcements_holidays_and_relays(example):
    text = example.read_text(encoding="utf-8")
    text = text.replace("    device: default              # tên thiết bị", "    relay: 17\n"
                        "    device: default              # tên thiết bị", 1)
    text += ("announcements:\n"
             "  - id: tiem-chung\n    at: 2026-05-04 07:15\n    title: Tiêm chủng\n"
             "    text: Sáng thứ Hai tiêm chủng tại trạm y tế xã.\n    zones: [thon-van-hoa]\n"
             "holidays:\n  - date: 2026-05-01\n    name: Quốc tế Lao động\n")
    example.write_text(text, encoding="utf-8")
    sched = load_schedule(example)
    assert sched.zones["toan-xa"].relay == 17 and sched.holidays[date(2026, 5, 1)]
    pool = load_program_bulletins(sched)
    occs = expand(sched, pool, datetime(2026, 5, 1, tzinfo=DEFAULT_TZ),
                  datetime(2026, 5, 5, tzinfo=DEFAULT_TZ))
    assert not any(o.at.date() == date(2026, 5, 1) for o in occs)
    one_off = [o for o in occs if o.session == "thong-bao:tiem-chung"]
    assert len(one_off) == 1 and one_off[0].zones == ("thon-van-hoa",)
    assert one_off[0].at == datetime(2026, 5, 4, 7, 15, tzinfo=DEFAULT_TZ)
    assert one_off[0].items[0].bulletin.priority == 2


def test_announcement_in_quiet_hours_and_shared_relay_are_errors(example, capsys):
    text = example.read_text(encoding="utf-8").replace(
        "    device: default              # tên thiết bị", "    relay: 5\n"
        "    device: default              # tên thiết bị").replace(
        "    name: Thôn Văn Hòa\n", "    name: Thôn Văn Hòa\n    relay: 5\n")
    text += ("announcements:\n  - id: dem\n    at: 2026-05-04 23:15\n    text: Thông báo đêm.\n"
             "  - id: khan\n    at: 2026-05-04 23:30\n    text: Lũ về.\n    priority: 1\n")
    example.write_text(text, encoding="utf-8")
    assert main(["validate", str(example)]) == 2
    err = capsys.readouterr().err
    assert "thông báo 'dem' lúc 23:15 rơi vào giờ yên tĩnh" in err
    assert "'khan'" not in err  # emergencies may air at night
    assert "dùng chung rơ-le 5" in err


def test_minutes_per_session_fills_the_session(example):
    text = example.read_text(encoding="utf-8").replace("    per_session: 2",
                                                       "    minutes_per_session: 1.5")
    example.write_text(text, encoding="utf-8")
    sched = load_schedule(example)
    pool = load_program_bulletins(sched)
    occs = expand(sched, pool, datetime(2026, 4, 1, tzinfo=DEFAULT_TZ),
                  datetime(2026, 4, 8, tzinfo=DEFAULT_TZ))
    assert all(o.estimated_seconds() <= 90 or len(o.items) == 1 for o in occs)
    assert any(len(o.items) >= 2 for o in occs)


def test_validate_names_a_session_over_the_limit_and_a_program_with_nothing_approved(
        example, capsys):
    text = example.read_text(encoding="utf-8").replace("  max_session_minutes: 45 ",
                                                       "  max_session_minutes: 1 ")
    text = text.replace("programs:\n", "programs:\n  - id: trong\n    name: Chương trình trống\n"
                        "    bulletins: bulletins/trong.yaml\n    sessions: [sang]\n", 1)
    example.write_text(text, encoding="utf-8")
    (example.parent / "bulletins" / "trong.yaml").write_text(
        "plan:\n  id: trong\nbulletins: []\n", encoding="utf-8")
    with time_machine.travel(FIXED_NOW, tick=False):
        assert main(["validate", str(example)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"Lỗi: {example}: buổi phát 'Buổi sáng' ngày 01/09/2026 dài khoảng 2 phút, quá giới "
        "hạn 1 phút của đài.",
        f"Lỗi: {example}: buổi phát 'Buổi chiều' ngày 01/09/2026 dài khoảng 2 phút, quá giới "
        "hạn 1 phút của đài.",
        f"Lỗi: {example}: chương trình 'Chương trình trống' chưa có bản tin nào đã duyệt, nên "
        "sẽ không phát gì.",
    ]
