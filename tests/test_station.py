"""The station service layer: plain values in, data out, time from the clock passed in."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from fakeclock import FakeClock

from loa import station as svc
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.log import LogStore
from loa.script.bulletin import content_hash
from loa.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[1]
MONDAY = datetime(2026, 8, 31, 8, 0, tzinfo=DEFAULT_TZ)  # program runs 2026-04-01..12-31


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


@pytest.fixture
def bfile(example) -> Path:
    return example.parent / "bulletins" / "ba-vi-2026.yaml"


def _airing(example) -> set[str]:
    return {b.id for pool in svc.load_station(example).bulletins.values() for b in pool}


def test_approval_is_bound_to_the_words_approved(example, bfile, capsys):
    clock = FakeClock(MONDAY)
    draft = next(b for b in svc.list_bulletins(bfile).items if b.status == "draft")
    assert draft.id not in _airing(example)
    (done,) = svc.approve_bulletins(bfile, [draft.id], "Nguyễn Văn An", clock)
    raw = next(i for i in load_yaml(bfile)["bulletins"] if i["id"] == draft.id)
    assert raw["approved_at"] == "2026-08-31T08:00:00+07:00"  # the injected clock's time
    assert raw["approved_hash"] == content_hash(done.title, done.text)
    assert list(raw).index("approved_hash") == list(raw).index("approved_at") + 1
    assert draft.id in _airing(example)

    svc.edit_bulletin(bfile, draft.id, text=done.text + " Xin cảm ơn bà con.")
    assert draft.id not in _airing(example)  # edited after approval: does not air
    view = next(b for b in svc.list_bulletins(bfile).items if b.id == draft.id)
    assert view.edited_after_approval and not view.airs
    assert view.status_vi == "chờ duyệt lại"
    checked = svc.validate(example, clock)
    (warning,) = checked.warnings
    assert "chờ duyệt lại" in str(warning)
    assert warning.path == bfile and warning.line == view.line and done.title in str(warning)

    svc.approve_bulletins(bfile, [draft.id], "Nguyễn Văn An", clock)
    assert draft.id in _airing(example)
    assert svc.validate(example, clock).warnings == []
    assert capsys.readouterr() == ("", "")  # the service layer never prints


def test_files_approved_before_the_hash_keep_airing_and_get_it_on_next_approval(
        example, bfile):
    legacy = [b for b in svc.list_bulletins(bfile).items if b.status == "approved"]
    assert legacy and "approved_hash" not in bfile.read_text(encoding="utf-8")
    assert {b.id for b in legacy} == _airing(example)
    svc.approve_bulletins(bfile, [legacy[0].id], "An", FakeClock(MONDAY))
    assert bfile.read_text(encoding="utf-8").count("approved_hash") == 1
    assert {b.id for b in legacy} == _airing(example)
    # edited through the service, a legacy approval is voided all the same
    svc.edit_bulletin(bfile, legacy[1].id, title="Tiêu đề khác")
    assert {b.id for b in legacy[:1] + legacy[2:]} == _airing(example)


def test_a_hand_edited_title_also_voids_the_approval(example, bfile):
    (b,) = svc.approve_bulletins(bfile, ["IV.1.a"], "An", FakeClock(MONDAY))
    text = bfile.read_text(encoding="utf-8")
    edited = text.replace("nhiệm vụ kiểm soát", "nhiệm vụ kiểm tra", 1)  # in IV.1.a's title
    assert edited != text and b.title.endswith("nhiệm vụ kiểm soát thủ tục hành chính")
    bfile.write_text(edited, encoding="utf-8")
    assert "IV.1.a" not in _airing(example)


def test_edit_refuses_empty_words_naming_the_file(bfile):
    with pytest.raises(LoaError) as exc:
        svc.edit_bulletin(bfile, "IV.1.a", text="   ")
    assert str(bfile) in str(exc.value) and "không được để trống" in str(exc.value)


def test_calendar_preview_by_name_on_the_clock_given(example):
    station, sessions = svc.upcoming(example, 1, FakeClock(MONDAY))
    assert [(s.at.strftime("%H:%M"), s.session_name) for s in sessions] == [
        ("17:00", "Buổi chiều"), ("06:30", "Buổi sáng")]
    first = sessions[0]
    assert first.zone_names == ("Toàn xã", "Thôn Văn Hòa")
    assert first.zone_ids == ("toan-xa", "thon-van-hoa")
    assert {i.program_name for i in first.items} == {
        "Tuyên truyền kiểm soát thủ tục hành chính năm 2026"}
    titles = {b.id: b.title for pool in station.bulletins.values() for b in pool}
    assert all(i.title == titles[i.bulletin_id] for i in first.items)
    assert first.seconds == pytest.approx(sum(i.seconds for i in first.items))


def _plays(db: Path) -> None:
    store = LogStore(db)
    try:
        for zone, status in (("toan-xa", "played"), ("thon-van-hoa", "failed")):
            at = datetime(2026, 9, 1, 6, 30, tzinfo=DEFAULT_TZ)
            rid = store.claim(play_key=f"ba-vi|{zone}|x", station="ba-vi", zone=zone,
                              program="kstthc-2026", session="sang", bulletin="IV.1.a",
                              title="Tin thủ tục", field=1, priority=3, scheduled_at=at,
                              now=at)
            store.finish(rid, status=status, started_at=at,
                         ended_at=at + timedelta(seconds=42),
                         reason="thiết bị lỗi" if status == "failed" else None)
    finally:
        store.close()


def test_log_query_with_names_filters_by_zone_name_and_status_label(example, data_dir):
    from loa import settings

    _plays(settings.db_path())
    names = svc.names_for(example)
    where = svc.log_filter(svc.period_of(month="2026-09"), names, zones=["Thôn Văn Hòa"],
                           statuses=["lỗi"])
    (play,) = svc.query_plays(where, names, limit=None)
    assert (play.zone_id, play.zone_name, play.status, play.status_vi) == (
        "thon-van-hoa", "Thôn Văn Hòa", "failed", "lỗi")
    assert play.program_name == "Tuyên truyền kiểm soát thủ tục hành chính năm 2026"
    assert play.scheduled_at == datetime(2026, 9, 1, 6, 30, tzinfo=DEFAULT_TZ)
    with pytest.raises(LoaError, match="trạng thái 'sai' không có"):
        svc.log_filter(None, names, statuses=["sai"])


def test_export_and_report_write_files_and_return_counts(example, data_dir, tmp_path):
    from docx import Document

    from loa import settings

    _plays(settings.db_path())
    period = svc.period_of(month="2026-09")
    out = tmp_path / "nhat-ky.csv"
    assert svc.export_log(out, schedule=example, period=period) == 2
    assert "Tin thủ tục" in out.read_text(encoding="utf-8-sig")
    assert svc.export_log(tmp_path / "x.json", schedule=example, period=period,
                          statuses=["played"]) == 1
    with pytest.raises(LoaError, match="không rõ định dạng"):
        svc.export_log(tmp_path / "x.txt")
    done = svc.make_report(example, period, tmp_path / "bc.docx", signed=date(2026, 10, 5))
    assert done.docx.exists() and done.pdf is None
    assert done.data.summary.total.scheduled == 2 and done.data.summary.total.aired == 1
    assert done.data.today == date(2026, 10, 5)  # signed on the day given, not today
    doc = Document(done.docx)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert any("ngày 05 tháng 10 năm 2026" in c for c in cells)


def test_a_lone_from_runs_to_the_clocks_today():
    p = svc.period_of(start="2026-09-01", clock=FakeClock(MONDAY + timedelta(days=10)))
    assert (p.start, p.end) == (date(2026, 9, 1), date(2026, 9, 10))


def test_emergency_without_a_daemon_is_refused_in_vietnamese(data_dir):
    with pytest.raises(LoaError, match="không thấy 'loa run' đang chạy"):
        svc.send_emergency("Cháy ở chợ", zones=["Toàn xã"])
    with pytest.raises(LoaError, match="--timeout"):
        svc.send_emergency("Cháy ở chợ", timeout=0)


def test_status_of_a_machine_without_daemon(example, data_dir):
    st = svc.daemon_status(example, FakeClock(MONDAY))
    assert not st.running and not st.healthy and st.station_name == "Đài truyền thanh xã Ba Vì"
    assert st.upcoming and st.upcoming[0].zone_names == ("Toàn xã", "Thôn Văn Hòa")
    assert st.upcoming[0].at == datetime(2026, 8, 31, 17, 0, tzinfo=DEFAULT_TZ)


def test_importing_the_service_layer_loads_no_stage():
    import subprocess
    import sys

    code = ("import sys, loa.station; heavy = [m for m in ('numpy', 'scipy', 'loa.audio', "
            "'loa.player', 'loa.log', 'loa.schedule', 'loa.cli') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_emergency_of_a_bulletin_edited_after_approval_is_refused_then_withdrawn(
        example, bfile, data_dir):
    from loa.player.control import DaemonLock

    svc.approve_bulletins(bfile, ["IV.1.a"], "An", FakeClock(MONDAY))
    svc.edit_bulletin(bfile, "IV.1.a", text="Lời đã sửa sau khi duyệt.")
    data_dir.mkdir(parents=True)
    with DaemonLock(data_dir):  # a daemon holds the lock, but never answers
        with pytest.raises(LoaError) as exc:
            svc.send_emergency(bulletins=bfile, bulletin_id="IV.1.a", timeout=0.2)
        assert "[IV.1.a] chờ duyệt lại" in str(exc.value)
        assert str(bfile) in str(exc.value)
        with pytest.raises(LoaError, match="Đã rút lại tin khẩn cấp: tin sẽ KHÔNG được phát"):
            svc.send_emergency(bulletins=bfile, bulletin_id="IV.1.a", force=True, timeout=0.2)
    assert list((data_dir / "control" / "requests").glob("*.json")) == []


def test_problems_can_be_shown_from_a_stations_folder(tmp_path):
    """The console names files from the station's folder; the CLI (nothing set) in full."""
    from loa.errors import Problem, reset_paths_shown, show_paths_from

    p = Problem("không có vùng 'thon-gia'", tmp_path / "bulletins" / "a.yaml", 3)
    assert str(p) == f"{tmp_path}/bulletins/a.yaml, dòng 3: không có vùng 'thon-gia'"
    token = show_paths_from(tmp_path)
    try:
        assert str(p) == "bulletins/a.yaml, dòng 3: không có vùng 'thon-gia'"
        assert str(Problem("x", "/etc/elsewhere.yaml")) == "elsewhere.yaml: x"
    finally:
        reset_paths_shown(token)
    assert str(p).startswith(str(tmp_path))
