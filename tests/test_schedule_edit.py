"""Editing a schedule through loa/station/schedule_edit.py: what an officer wrote survives,
the rules are `loa validate`'s (all problems at once), a stale form never overwrites."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from fakeclock import FakeClock
from helpers import MONDAY

from loa.errors import LoaError
from loa.schedule import load_schedule
from loa.station import open_schedule, save_schedule

SCHEDULES = Path(__file__).resolve().parent.parent / "schedules"
IN_PROGRAM = datetime(2026, 4, 6, 5, 0, tzinfo=MONDAY.tzinfo)  # inside the sample's dates


@pytest.fixture
def station(tmp_path):
    """A copy of the sample Ba Vì schedule and its bulletins."""
    shutil.copytree(SCHEDULES, tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


@pytest.fixture
def clock():
    return FakeClock(IN_PROGRAM)


def problems_of(excinfo) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for p in excinfo.value.problems:
        out.setdefault(p.key, []).append(p.message)
    return out


def block(text: str, first: str, count: int) -> str:
    """`count` lines of `text` from the line that starts with `first`."""
    lines = text.splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith(first))
    return "".join(lines[i:i + count])


def test_open_gives_the_version_and_plain_views(station):
    draft = open_schedule(station)
    assert draft.version == hashlib.sha256(station.read_bytes()).hexdigest()
    assert draft.station["name"] == "Đài truyền thanh xã Ba Vì"
    assert [z["name"] for z in draft.zones] == ["Toàn xã", "Thôn Văn Hòa"]
    assert draft.item("sessions", "chieu") == {
        "id": "chieu", "name": "Buổi chiều", "time": "17:00", "days": "T2-T6",
        "zones": ["toan-xa", "thon-van-hoa"]}
    assert draft.programs[0]["from"] == "2026-04-01"
    assert draft.skip_dates == ["2026-09-02"]
    assert draft.holidays == [] and draft.announcements == []
    assert draft.problems == []
    assert draft.text() == station.read_text(encoding="utf-8")  # untouched: the same bytes


def test_a_session_added_keeps_every_comment_and_unchanged_item(station, clock):
    before = station.read_text(encoding="utf-8")
    draft = open_schedule(station)
    draft.put("sessions", {"zones": ["toan-xa"], "days": ["T2", "T4"], "time": "11:30",
                           "name": "Buổi trưa", "id": "trua"})
    save_schedule(draft, draft.version, clock)
    after = station.read_text(encoding="utf-8")
    for line in before.splitlines():
        assert line in after.splitlines()  # comments, blank lines, every old line
    for first, count in (("station:", 22), ("zones:", 9), ("programs:", 9)):
        assert block(after, first, count) == block(before, first, count)
    # the new item: the schema's key order, the time quoted
    assert ("  - id: trua\n    name: Buổi trưa\n    time: \"11:30\"\n    days: [T2, T4]\n"
            "    zones: [toan-xa]\n") in after
    session = load_schedule(station).sessions["trua"]
    assert (session.time, sorted(session.days), session.zones) == (time(11, 30), [0, 2],
                                                                   ("toan-xa",))


def test_an_edit_keeps_what_it_does_not_change(station, clock):
    draft = open_schedule(station)
    # the same weekdays ticked as boxes: "T2-T6" stays as written; the name changes
    draft.put("sessions", {"id": "chieu", "name": "Buổi chiều muộn", "time": "17:00",
                           "days": ["T2", "T3", "T4", "T5", "T6"],
                           "zones": ["toan-xa", "thon-van-hoa"]}, "chieu")
    draft.set_station({"signer_title": "", "speed": "1.0"})  # blank: the key goes
    save_schedule(draft, draft.version, clock)
    after = station.read_text(encoding="utf-8")
    assert ("  - id: chieu\n    name: Buổi chiều muộn\n    time: \"17:00\"\n    days: T2-T6\n"
            "    zones: [toan-xa, thon-van-hoa]\n") in after
    assert "signer_title" not in after
    # the blank line below the removed key stays: zones still stand apart
    assert "  signer: Nguyễn Văn An          # người ký báo cáo\n\nzones:\n" in after
    assert load_schedule(station).station.signer_title == ""


YAML_LOOKING = [
    'Họp dân: 19:30 # tại nhà văn hóa', "yes", "no", "on", "~", "null", "017", "1_000",
    "12:30", "0x1F", "2026-09-02", "- gạch đầu", "{ngoặc}", "[x]", '"trích"', "it's",
    "#không phải chú thích", "a \\ b", "& neo", "* bí danh", "! thẻ", "% chỉ thị", "@ a",
    "` a", "| khối", "> gấp", "  đầu có cách", "cuối có cách  ", "a: b", "?", ":",
    "dòng 1\ndòng 2: # x\n", "dòng 1\n  thụt lề\ncuối có cách  \n", "\n đầu trống",
    "Lời đọc & ký tự * ! { - % ' \" \\ : #", "!!python/object:os.system", "&a *a <<: *a",
]


@pytest.mark.parametrize("text", YAML_LOOKING)
def test_operator_text_round_trips_as_data(station, clock, text):
    draft = open_schedule(station)
    draft.put("announcements", {"at": "2026-04-07 07:15", "text": text, "title": text,
                                "zones": ["toan-xa"]})
    draft.set_station({"intro": text})
    draft.put("zones", {"name": text}, "thon-van-hoa")
    save_schedule(draft, draft.version, clock)
    schedule = load_schedule(station)  # loa's own strict loader reads it back
    (a,) = schedule.announcements
    assert a.text == text.strip() and a.title == text  # the loader strips the spoken text
    assert a.id == "thong-bao-20260407-0715"
    assert schedule.station.intro == text
    assert schedule.zones["thon-van-hoa"].name == text


def test_every_problem_of_a_form_at_once_and_nothing_changed(station):
    before = station.read_bytes()
    draft = open_schedule(station)
    with pytest.raises(LoaError) as exc:
        draft.put("sessions", {"id": "dem", "name": "Buổi đêm", "time": "22:00",
                               "days": ["T2", "T9"], "zones": ["toan-xa", "thon-khong-co"]})
    got = problems_of(exc)
    assert got["time"] == ["Giờ phát: buổi phát “Buổi đêm” lúc 22:00 rơi vào giờ yên tĩnh "
                           "(21:00-05:30); chỉ tin khẩn cấp được phát giờ này."]
    assert got["zones"] == ["Vùng phát: không có vùng 'thon-khong-co'."]
    assert got["days"][0].startswith("Ngày trong tuần: ngày trong tuần 'T9' không hợp lệ")
    assert set(got) == {"time", "zones", "days"}
    assert draft.item("sessions", "dem") is None and draft.text() == before.decode()
    with pytest.raises(LoaError) as exc:
        draft.put("sessions", {"id": "x", "time": "25:61", "zones": []})
    assert problems_of(exc) == {"time": ["Giờ phát: giờ phát '25:61' không hợp lệ (dạng "
                                         "06:30)."]}
    with pytest.raises(LoaError) as exc:
        draft.put("programs", {"id": "p2", "name": "Mùa mưa", "bulletins": "khong-co.yaml",
                               "sessions": ["sang"], "from": "2026-10-01",
                               "until": "2026-09-01", "per_session": "0"})
    got = problems_of(exc)
    assert got["bulletins"] == ["Tệp bản tin: không tìm thấy tệp bản tin 'khong-co.yaml'."]
    assert got["until"] == ["Đến ngày: 'until' phải sau 'from'."]
    assert got["per_session"][0].startswith("Số bản tin mỗi buổi: 'per_session' phải là số")
    with pytest.raises(LoaError) as exc:  # an id that is taken
        draft.put("zones", {"id": "toan-xa", "name": "Trùng"})
    assert problems_of(exc) == {"id": ["Mã vùng: mã vùng 'toan-xa' bị trùng."]}
    assert station.read_bytes() == before and draft.text() == before.decode()


def test_a_used_zone_or_session_is_neither_deleted_nor_renamed(station, clock):
    draft = open_schedule(station)
    with pytest.raises(LoaError) as exc:
        draft.delete("zones", "thon-van-hoa")
    assert problems_of(exc) == {"id": [
        "Không xóa được vùng “Thôn Văn Hòa”: buổi phát “Buổi sáng”, buổi phát “Buổi chiều” "
        "đang dùng; hãy bỏ vùng này khỏi đó trước."]}
    with pytest.raises(LoaError) as exc:
        draft.delete("sessions", "chieu")
    assert "chương trình “Tuyên truyền kiểm soát thủ tục hành chính năm 2026” đang dùng" in \
        exc.value.problems[0].message
    with pytest.raises(LoaError) as exc:
        draft.put("zones", {"id": "van-hoa"}, "thon-van-hoa")
    assert problems_of(exc)["id"][0].startswith("Không đổi mã được vùng “Thôn Văn Hòa”")
    # once nothing uses it: renamed, then deleted, and the blank line before sessions stays
    for s in ("sang", "chieu"):
        draft.put("sessions", {"zones": ["toan-xa"]}, s)
    draft.put("zones", {"id": "van-hoa"}, "thon-van-hoa")
    assert [z["id"] for z in draft.zones] == ["toan-xa", "van-hoa"]
    draft.delete("zones", "van-hoa")
    save_schedule(draft, draft.version, clock)
    after = station.read_text(encoding="utf-8")
    assert "van-hoa" not in after
    assert "volume: 80                   # âm lượng cụm loa (%), chỉ để báo cáo lên tỉnh\n" \
        "\nsessions:\n" in after
    assert list(load_schedule(station).zones) == ["toan-xa"]


def test_a_missing_item_is_told_not_created(station):
    draft = open_schedule(station)
    with pytest.raises(LoaError, match="không tìm thấy buổi phát 'trua'"):
        draft.put("sessions", {"time": "11:00"}, "trua")
    with pytest.raises(LoaError, match="không tìm thấy chương trình 'x'"):
        draft.delete("programs", "x")


def test_skip_dates_and_holidays(station, clock):
    draft = open_schedule(station)
    draft.add_skip_date("01/10/2026")
    draft.add_skip_date("2026-05-01")
    with pytest.raises(LoaError) as exc:
        draft.add_skip_date("2026-05-01")
    assert problems_of(exc) == {"skip_dates": ["Ngày nghỉ: ngày 01/05/2026 đã có."]}
    with pytest.raises(LoaError) as exc:
        draft.add_skip_date("30/02/2026")
    assert problems_of(exc)["skip_dates"][0].startswith("Ngày nghỉ: ngày '30/02/2026' không")
    draft.remove_skip_date("2026-09-02")
    draft.put_holiday("2026-09-02", "Quốc khánh")
    draft.put_holiday("2026-04-30", "Giải phóng miền Nam")
    with pytest.raises(LoaError) as exc:
        draft.put_holiday("02/09/2026", "Lặp")
    assert problems_of(exc) == {"date": ["Ngày: ngày lễ 02/09/2026 đã có."]}
    draft.put_holiday("2026-09-02", "Quốc khánh 2/9", original_day="2026-09-02")
    save_schedule(draft, draft.version, clock)
    after = station.read_text(encoding="utf-8")
    assert "skip_dates: [2026-05-01, 2026-10-01] # ngày không phát\n" in after
    schedule = load_schedule(station)
    assert schedule.skip_dates == {date(2026, 5, 1), date(2026, 10, 1)}
    assert schedule.holidays == {date(2026, 9, 2): "Quốc khánh 2/9",
                                 date(2026, 4, 30): "Giải phóng miền Nam"}
    draft = open_schedule(station)
    draft.remove_holiday("30/04/2026")
    draft.remove_skip_date("2026-05-01")
    draft.remove_skip_date("2026-10-01")
    save_schedule(draft, draft.version, clock)
    schedule = load_schedule(station)
    assert schedule.holidays == {date(2026, 9, 2): "Quốc khánh 2/9"} and not schedule.skip_dates
    assert "skip_dates" not in station.read_text(encoding="utf-8")


def test_a_concurrent_edit_is_refused_and_changes_nothing(station, clock):
    first, second = open_schedule(station), open_schedule(station)
    version = first.version  # what both forms carry
    first.put("sessions", {"name": "Sáng sớm"}, "sang")
    second.put("sessions", {"name": "Sáng muộn"}, "sang")
    save_schedule(first, version, clock)
    saved = station.read_bytes()
    os.utime(station, (0, datetime(2026, 4, 6, 7, 42, tzinfo=MONDAY.tzinfo).timestamp()))
    with pytest.raises(LoaError) as exc:
        save_schedule(second, version, clock)
    assert str(exc.value) == (
        f"{station}: Lịch phát đã được sửa lúc 07:42 bởi nơi khác (máy khác hoặc tay); tải "
        "lại trang để thấy bản mới rồi sửa lại. Chưa lưu gì.")
    assert station.read_bytes() == saved
    # a hand edit between opening and saving: refused too
    third = open_schedule(station)
    station.write_text(station.read_text(encoding="utf-8") + "# sửa tay\n", encoding="utf-8")
    third.put("sessions", {"name": "Sáng"}, "sang")
    with pytest.raises(LoaError, match="đã được sửa lúc"):
        save_schedule(third, third.version, clock)
    assert station.read_text(encoding="utf-8").endswith("# sửa tay\n")
    # a form built from an older version than the draft: refused
    fourth = open_schedule(station)
    with pytest.raises(LoaError, match="đã được sửa lúc"):
        save_schedule(fourth, version, clock)
    assert load_schedule(station).sessions["sang"].name == "Sáng sớm"


def test_save_refuses_what_loa_validate_refuses(station, clock):
    before = station.read_bytes()
    draft = open_schedule(station)
    # each session's two bulletins take minutes: a one-minute limit fails check_limits
    draft.set_station({"max_session_minutes": "0.1"})
    with pytest.raises(LoaError) as exc:
        save_schedule(draft, draft.version, clock)
    assert "quá giới hạn 0 phút của đài" in str(exc.value)
    assert all(p.path == station for p in exc.value.problems)  # the file, not a temp name
    assert station.read_bytes() == before
    assert [p.name for p in station.parent.iterdir() if p.name.startswith(".ba-vi.")] == [
        ".ba-vi.yaml.lock"]  # no temp file left


def test_the_file_mode_is_kept(station, clock):
    station.chmod(0o640)
    draft = open_schedule(station)
    draft.put("sessions", {"name": "Sáng"}, "sang")
    save_schedule(draft, draft.version, clock)
    assert station.stat().st_mode & 0o777 == 0o640


ODD = """\
# written by hand, then by loa
station:
  name:    Đài xã   # tên đài
  engines: [espeak]
  quiet_hours: '21:00-05:30'

zones:
- id: a
  name: Thôn A
-   id:   b
    name:   Thôn   B     # spaces kept

sessions:
- id:  s
  time: 06:30
  zones: [a,b]
programs:
    -   {id: p, bulletins: bulletins/ba-vi-2026.yaml, sessions: [s], per_session: 1}
"""


def test_an_odd_hand_written_file_keeps_its_own_lines(station, clock):
    station.write_text(ODD, encoding="utf-8")
    draft = open_schedule(station)
    assert draft.problems == []
    draft.put("sessions", {"id": "t", "name": "Chiều", "time": "17:00", "days": "T2-T6"})
    draft.put("zones", {"name": "Thôn A mới"}, "a")
    save_schedule(draft, draft.version, clock)
    after = station.read_text(encoding="utf-8")
    assert after.startswith(ODD.split("- id: a")[0])  # the station as written
    assert "-   id:   b\n    name:   Thôn   B     # spaces kept\n" in after
    assert "- id:  s\n  time: 06:30\n  zones: [a,b]\n- id: t\n" in after
    assert "    -   {id: p, bulletins: bulletins/ba-vi-2026.yaml, sessions: [s], " \
        "per_session: 1}\n" in after
    schedule = load_schedule(station)
    assert schedule.zones["a"].name == "Thôn A mới" and schedule.zones["b"].name == "Thôn   B"
    assert schedule.sessions["t"].time == time(17, 0)
    # an item added to a list indented unlike ruamel's: the list is re-indented (a line
    # spliced in would not fit), and the file still reads the same
    draft = open_schedule(station)
    draft.put("programs", {"id": "q", "bulletins": "bulletins/ba-vi-2026.yaml",
                           "sessions": ["t"]})
    save_schedule(draft, draft.version, clock)
    schedule = load_schedule(station)
    assert list(schedule.programs) == ["p", "q"] and schedule.programs["p"].sessions == ("s",)
    assert "-   id:   b\n" not in station.read_text(encoding="utf-8")  # whole-file re-render


def test_views_read_as_the_loader_reads(station):
    text = station.read_text(encoding="utf-8").replace("name: Buổi sáng", "name: yes")
    station.write_text(text, encoding="utf-8")
    draft = open_schedule(station)
    assert draft.item("sessions", "sang")["name"] is True  # YAML 1.1, as loa reads it
    assert "'name' phải là một đoạn chữ" in draft.problems[0].message
    draft.put("sessions", {"name": "yes"}, "sang")  # fixing it from the form works
    assert draft.problems == [] and 'name: "yes"' in draft.text()


def test_a_session_added_through_save_schedule_plays_in_the_running_daemon(rig):
    at = MONDAY.replace(hour=11, minute=15)
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
        r.daemon.start()
        r.go(MONDAY.replace(hour=6, minute=0))
        draft = open_schedule(r.path)
        draft.put("sessions", {"id": "trua", "name": "Buổi trưa", "time": "11:15",
                               "zones": ["thon-1"]})
        draft.put("programs", {"sessions": ["sang", "giua", "chieu", "trua"]}, "kstthc")
        save_schedule(draft, draft.version, clock)
        r.go(MONDAY.replace(hour=6, minute=0, second=5))  # the watcher sees the change
        assert "reload" in r.event_kinds()
        r.session(at)
        rows = [x for x in r.rows() if x.session == "trua"]
    assert len(rows) == 2 and {x.status for x in rows} == {"played"}  # two bulletins
    assert {x.zone for x in rows} == {"thon-1"}
    assert {datetime.fromisoformat(x.scheduled_at) for x in rows} == {at}
    assert timedelta(0) <= datetime.fromisoformat(rows[0].started_at) - at < timedelta(seconds=1)


def test_an_item_added_without_an_id_is_named_after_its_name(station):
    draft = open_schedule(station)
    assert draft.put("sessions", {"name": "Buổi trưa", "time": "11:30"}) == "buoi-trua"
    assert draft.put("sessions", {"name": "Buổi  trưa!", "time": "11:45"}) == "buoi-trua-2"
    assert draft.put("zones", {"name": "Thôn Đoài"}) == "thon-doai"
    assert draft.put("announcements", {"at": "2026-04-07 07:15", "text": "Họp"}) == \
        "thong-bao-20260407-0715"
    assert [s["id"] for s in draft.sessions][-2:] == ["buoi-trua", "buoi-trua-2"]


def test_holidays_written_as_bare_dates_can_be_named_and_removed(station, clock):
    text = station.read_text(encoding="utf-8") + "holidays: [2026-09-02, 2026-04-30]\n"
    station.write_text(text, encoding="utf-8")
    draft = open_schedule(station)
    assert draft.holidays == [{"date": "2026-09-02"}, {"date": "2026-04-30"}]
    draft.put_holiday("2026-04-30", "Giải phóng miền Nam", original_day="30/04/2026")
    draft.remove_holiday("2026-09-02")
    draft.put("sessions", {"id": "", "name": "Sáng"}, "sang")  # a blank id keeps the id
    save_schedule(draft, draft.version, clock)
    schedule = load_schedule(station)
    assert schedule.holidays == {date(2026, 4, 30): "Giải phóng miền Nam"}
    assert schedule.sessions["sang"].name == "Sáng"


def test_a_browsers_line_breaks_are_written_as_plain_lines(station, clock):
    draft = open_schedule(station)
    draft.put("announcements", {"at": "2026-04-07 07:15", "text": "Dòng 1\r\nDòng 2\r\n"})
    save_schedule(draft, draft.version, clock)
    assert "    text: |\n      Dòng 1\n      Dòng 2\n" in station.read_text(encoding="utf-8")
    assert load_schedule(station).announcements[0].text == "Dòng 1\nDòng 2"


def test_an_unknown_key_is_told_with_a_did_you_mean(station):
    draft = open_schedule(station)
    with pytest.raises(LoaError) as exc:
        draft.put("sessions", {"name": "Trưa", "time": "11:00", "tiem": "11:00"})
    (message,) = problems_of(exc)["tiem"]
    assert message.startswith("khóa 'tiem' không dùng được trong buổi phát. Có phải ý bạn "
                              "là 'time'?")


READ_ONLY_CHECK = """
import sys
from loa.errors import LoaError
from loa.station import open_schedule
draft = open_schedule(sys.argv[1])
print(draft.item("sessions", "sang")["name"])
try:
    draft.put("sessions", {"name": "Sáng"}, "sang")
except LoaError as exc:
    print(exc)
"""


@pytest.mark.skipif(not shutil.which("setpriv") or os.geteuid() != 0,
                    reason="runs the check as user nobody (needs root and setpriv)")
def test_a_folder_loa_may_not_write_still_shows_and_edits_are_told_in_vietnamese():
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        os.chmod(tmp, 0o755)
        folder = Path(tmp) / "schedules"
        shutil.copytree(SCHEDULES, folder)
        folder.chmod(0o755)  # root's: user nobody reads, may not write
        done = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             sys.executable, "-c", READ_ONLY_CHECK, str(folder / "ba-vi.yaml")],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": str(SCHEDULES.parent), "HOME": tmp})
    assert done.returncode == 0, done.stderr
    shown, told = done.stdout.splitlines()
    assert shown == "Buổi sáng"
    assert told == f"{folder / 'ba-vi.yaml'}: không có quyền ghi vào thư mục {folder}."


def test_two_saves_at_once_from_one_version_one_wins(station, clock):
    import threading

    drafts = [open_schedule(station) for _ in range(4)]
    version = drafts[0].version
    for i, d in enumerate(drafts):
        d.put("sessions", {"name": f"Sáng {i}"}, "sang")
    start, results = threading.Barrier(len(drafts)), []

    def save(d):
        start.wait()
        try:
            save_schedule(d, version, clock)
            results.append(d.item("sessions", "sang")["name"])
        except LoaError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=save, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    won = [r for r in results if r.startswith("Sáng ")]
    assert len(won) == 1 and len(results) == 4
    assert all("đã được sửa lúc" in r for r in results if r not in won)
    assert load_schedule(station).sessions["sang"].name == won[0]
