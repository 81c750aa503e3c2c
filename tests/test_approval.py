"""Approval bound to what airs: the review workflow (draft -> chờ duyệt -> đã duyệt | bị trả
lại), the hash of title, text, recording and voice, and the daemon and `loa render`
refusing (and saying so) what no longer matches its approval."""

from __future__ import annotations

import os
import pwd
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fakeclock import FakeClock
from helpers import MONDAY, one_session_station, wait_for, write_station

from loa import station as svc
from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.script.bulletin import approval_hash, content_hash, load_bulletins
from loa.yamlio import load_yaml

REPO = Path(__file__).resolve().parents[1]
NOON = datetime(2026, 8, 31, 12, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


@pytest.fixture
def bfile(example) -> Path:
    return example.parent / "bulletins" / "ba-vi-2026.yaml"


def _airing(schedule: Path) -> set[str]:
    return {b.id for pool in svc.load_station(schedule).bulletins.values() for b in pool}


def _raw(path: Path, bid: str) -> dict:
    return dict(next(i for i in load_yaml(path)["bulletins"] if i["id"] == bid))


def _view(path: Path, bid: str):
    return next(b for b in svc.list_bulletins(path).items if b.id == bid)


def _hand_edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_draft_submitted_returned_with_a_note_then_approved(example, bfile):
    clock = FakeClock(NOON)
    draft = next(b for b in svc.list_bulletins(bfile).items if b.status == "draft")
    (sent,) = svc.submit_bulletins(bfile, [draft.id], "Trần Thị Biên", clock)
    raw = _raw(bfile, draft.id)
    assert raw["status"] == "pending" and raw["submitted_by"] == "Trần Thị Biên"
    assert raw["submitted_at"] == "2026-08-31T12:00:00+07:00"
    assert _view(bfile, draft.id).status_vi == "chờ duyệt"
    assert draft.id not in _airing(example)  # pending does not air

    with pytest.raises(LoaError) as exc:
        svc.return_bulletin(bfile, draft.id, "Lê Văn Lãnh", "   ", clock)
    assert "cần ghi lý do trả lại" in str(exc.value) and exc.value.problems[0].path == bfile
    assert _raw(bfile, draft.id)["status"] == "pending"  # nothing written

    clock.advance(timedelta(minutes=5))
    svc.return_bulletin(bfile, draft.id, "Lê Văn Lãnh", "Sửa lại số điện thoại", clock)
    raw = _raw(bfile, draft.id)
    assert raw["status"] == "returned" and raw["review_note"] == "Sửa lại số điện thoại"
    assert raw["returned_by"] == "Lê Văn Lãnh"
    assert raw["returned_at"] == "2026-08-31T12:05:00+07:00"
    view = _view(bfile, draft.id)
    assert view.status_vi == "bị trả lại" and view.review_note == "Sửa lại số điện thoại"
    assert draft.id not in _airing(example)

    svc.edit_bulletin(bfile, draft.id, text=sent.text + " Gọi số 0243 123 456.")
    assert _raw(bfile, draft.id)["status"] == "returned"  # the editor sees the note until sent
    svc.submit_bulletins(bfile, [draft.id], "Trần Thị Biên", clock)
    (done,) = svc.approve_bulletins(bfile, [draft.id], "Lê Văn Lãnh", clock,
                                    account="web:lanh")
    raw = _raw(bfile, draft.id)
    assert raw["status"] == "approved" and raw["approved_by"] == "Lê Văn Lãnh"
    assert raw["approved_account"] == "web:lanh"
    assert raw["approved_hash"] == content_hash(done.title, done.text)
    assert "review_note" not in raw and "returned_by" not in raw
    assert draft.id in _airing(example)

    # an approved bulletin needs no submission; a retired one can be neither sent nor returned
    with pytest.raises(LoaError, match="đã được duyệt"):
        svc.submit_bulletins(bfile, [draft.id], "Trần Thị Biên", clock)
    svc.retire_bulletins(bfile, [draft.id])
    with pytest.raises(LoaError, match="đã ngừng phát"):
        svc.submit_bulletins(bfile, [draft.id], "Trần Thị Biên", clock)
    with pytest.raises(LoaError, match="chỉ trả lại được"):
        svc.return_bulletin(bfile, draft.id, "Lê Văn Lãnh", "không", clock)


def test_editing_an_approved_bulletin_through_loa_puts_it_back_to_pending(example, bfile):
    clock = FakeClock(NOON)
    (b,) = svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")
    assert "IV.1.a" in _airing(example)
    svc.edit_bulletin(bfile, "IV.1.a", text=b.text + " Xin cảm ơn.")
    raw = _raw(bfile, "IV.1.a")
    assert raw["status"] == "pending" and raw["approved_by"] == "An"  # history kept
    view = _view(bfile, "IV.1.a")
    assert view.status_vi == "chờ duyệt lại" and not view.airs
    assert "IV.1.a" not in _airing(example)
    # the same words again is no change: an approved bulletin stays approved
    svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")
    svc.edit_bulletin(bfile, "IV.1.a", title=b.title)
    assert _raw(bfile, "IV.1.a")["status"] == "approved" and "IV.1.a" in _airing(example)


def test_a_hand_edit_keeps_status_approved_but_does_not_air(example, bfile):
    clock = FakeClock(NOON)
    (b,) = svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")
    _hand_edit(bfile, b.text.split()[-1], "thêm-một-chữ")
    again = load_bulletins(bfile).get("IV.1.a")
    assert again.status == "approved" and again.status_vi == "chờ duyệt lại"
    assert "IV.1.a" not in _airing(example)
    (warning,) = svc.validate(example, clock).warnings
    assert "chờ duyệt lại" in str(warning) and warning.path == bfile


def test_the_hash_covers_recording_and_voice_and_is_unchanged_without_them(example, bfile):
    b = load_bulletins(bfile).get("IV.1.a")
    assert b.approval_hash() == content_hash(b.title, b.text)  # older approvals stay valid
    assert approval_hash(b.title, b.text, voice="south") != content_hash(b.title, b.text)
    assert approval_hash(b.title, b.text, speed=1.2) != approval_hash(b.title, b.text,
                                                                        speed=1.0)
    wav = bfile.parent / "ghi-am-IV.1.a.wav"
    wav.write_bytes(b"RIFF-one-recording")
    _hand_edit(bfile, "- id: IV.1.a\n", "- id: IV.1.a\n  audio: ghi-am-IV.1.a.wav\n")
    clock = FakeClock(NOON)
    svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")
    assert "IV.1.a" in _airing(example)
    assert _raw(bfile, "IV.1.a")["audio"] == "ghi-am-IV.1.a.wav"  # kept on save

    wav.write_bytes(b"RIFF-another-recording")  # a new recording is a new content
    assert _view(bfile, "IV.1.a").status_vi == "chờ duyệt lại"
    assert "IV.1.a" not in _airing(example)
    wav.write_bytes(b"RIFF-one-recording")
    assert "IV.1.a" in _airing(example)

    _hand_edit(bfile, "  audio: ghi-am-IV.1.a.wav\n",
               "  audio: ghi-am-IV.1.a.wav\n  voice: south\n")
    assert _view(bfile, "IV.1.a").status_vi == "chờ duyệt lại"  # another voice: re-approve
    svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")
    assert "IV.1.a" in _airing(example)
    _hand_edit(bfile, "  voice: south\n", "  voice: south\n  speed: 1.2\n")
    assert "IV.1.a" not in _airing(example)
    svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")

    wav.unlink()  # the recording is gone: nothing to air, said in Vietnamese
    view = _view(bfile, "IV.1.a")
    assert not view.airs and "không tìm thấy tệp ghi âm 'ghi-am-IV.1.a.wav'" in view.why_not
    assert "IV.1.a" not in _airing(example)
    with pytest.raises(LoaError, match="không tìm thấy tệp ghi âm"):
        svc.approve_bulletins(bfile, ["IV.1.a"], "An", clock, account="web:an")


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd"])
def test_a_recording_outside_the_bulletins_folder_is_refused_with_its_line(bfile, name):
    _hand_edit(bfile, "- id: IV.1.a\n", f"- id: IV.1.a\n  audio: {name}\n")
    with pytest.raises(LoaError) as exc:
        load_bulletins(bfile)
    problem = exc.value.problems[0]
    assert "'audio' phải là tên một tệp ghi âm nằm cạnh tệp bản tin" in str(exc.value)
    assert problem.path == bfile and problem.line


def test_a_stale_editor_form_is_refused_and_nothing_is_lost(bfile):
    opened = load_bulletins(bfile).get("IV.1.a").approval_hash()
    svc.edit_bulletin(bfile, "IV.1.a", text="Lời của người thứ nhất.", expected=opened)
    before = bfile.read_bytes()
    with pytest.raises(LoaError, match="đã được sửa ở nơi khác"):
        svc.edit_bulletin(bfile, "IV.1.a", text="Lời của người thứ hai.", expected=opened)
    assert bfile.read_bytes() == before
    assert load_bulletins(bfile).get("IV.1.a").text == "Lời của người thứ nhất."
    # the approver too: approving words other than those on the page is refused
    with pytest.raises(LoaError, match="đã được sửa sau khi bạn mở trang"):
        svc.approve_bulletins(bfile, ["IV.1.a"], "An", FakeClock(NOON), account="web:an",
                              expected={"IV.1.a": opened})
    assert bfile.read_bytes() == before


def _os_user() -> tuple[str, str]:
    entry = pwd.getpwuid(os.getuid())
    return entry.pw_gecos.split(",")[0].strip() or entry.pw_name, entry.pw_name


def test_cli_submit_return_and_approve_record_the_os_account(bfile, capsys):
    name, login = _os_user()
    assert main(["bulletin", "submit", str(bfile), "IV.1.b"]) == 0
    assert _raw(bfile, "IV.1.b")["submitted_by"] == name
    assert main(["bulletin", "return", str(bfile), "IV.1.b", "--note", "Thiếu địa chỉ"]) == 0
    assert "Đã trả lại IV.1.b" in capsys.readouterr().out
    assert main(["bulletin", "list", str(bfile)]) == 0
    cap = capsys.readouterr()
    assert "bị trả lại" in cap.out and "Thiếu địa chỉ" in cap.err
    assert main(["bulletin", "return", str(bfile), "IV.1.b", "--note", " "]) == 2
    assert "cần ghi lý do trả lại" in capsys.readouterr().err
    assert main(["bulletin", "approve", str(bfile), "IV.1.b"]) == 0  # --by is optional
    raw = _raw(bfile, "IV.1.b")
    assert raw["approved_by"] == name and raw["approved_account"] == f"os:{login}"
    assert datetime.fromisoformat(raw["approved_at"]).utcoffset() is not None
    assert main(["bulletin", "approve", str(bfile), "IV.1.b", "--by", "Nguyễn Văn An"]) == 0
    raw = _raw(bfile, "IV.1.b")
    assert raw["approved_by"] == "Nguyễn Văn An" and raw["approved_account"] == f"os:{login}"


def test_loa_render_says_which_bulletin_it_will_not_read(tmp_path, data_dir, capsys):
    at = datetime.now(DEFAULT_TZ) + timedelta(days=1)
    schedule = one_session_station(tmp_path / "st", at, ["Bà con chú ý.", "Lời thứ hai."])
    bfile = schedule.parent / "bulletins.yaml"
    svc.approve_bulletins(bfile, ["IV.1", "IV.2"], "An", account="web:an")
    _hand_edit(bfile, "Bà con chú ý.", "Bà con chú ý nhé.")
    assert main(["render", str(schedule)]) == 0
    cap = capsys.readouterr()
    assert ("không phát bản tin “Bản tin 1” (tệp bulletins.yaml, mục IV.1): đã sửa sau khi "
            "duyệt") in cap.err and "chờ duyệt lại" in cap.err
    assert "Đã đọc 1 bản tin mới" in cap.out  # only the one still approved


def _later(path: Path) -> None:
    """Mark an edit as later than the last (the file system's clock is coarse: two writes
    a few ms apart can share an mtime, and the watcher compares mtimes)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_the_daemon_refuses_an_edited_bulletin_logs_it_once_and_airs_it_reapproved(
        tmp_path, rig):
    write_station(tmp_path)
    bfile = tmp_path / "bulletins.yaml"
    with FakeClock(MONDAY, travel=True) as clock:
        svc.approve_bulletins(bfile, ["IV.2.a", "IV.2.c"], "An", clock, account="web:an")
        r = rig(clock)
        r.daemon.start()
        refused = lambda: [e for e in r.store.events(None) if e[1] == "not-approved"]  # noqa: E731
        assert refused() == []
        r.go(MONDAY.replace(hour=6))
        _hand_edit(bfile, "Bà con nộp hồ sơ trực tuyến tại nhà.", "Bà con nộp hồ sơ ở xã.")
        _later(bfile)
        r.go(MONDAY.replace(hour=6, minute=0, second=5))  # the watcher sees the change
        assert wait_for(lambda: refused(), 10)  # (or its next round, if one was under way)
        (event,) = refused()  # once for this load, though it would play in many sessions
        assert "không phát bản tin “Dịch vụ công” (tệp bulletins.yaml" in event[2]
        assert "chờ duyệt lại" in event[2]
        r.session(MONDAY.replace(hour=6, minute=30))
        morning = [x for x in r.rows() if x.session == "sang"]
        assert morning and {x.bulletin for x in morning} == {"ba-vi-2026/IV.2.c"}
        assert {x.status for x in morning} == {"played"}

        svc.approve_bulletins(bfile, ["IV.2.a"], "An", clock, account="web:an")
        _later(bfile)
        reloads = r.event_kinds(None).count("reload")
        r.go(MONDAY.replace(hour=8, minute=0))  # reload: approved again, no new refusal
        assert wait_for(lambda: r.event_kinds(None).count("reload") > reloads, 10)
        assert len(refused()) == 1
        r.session(MONDAY.replace(hour=8, minute=55))
        midday = [x for x in r.rows() if x.session == "giua"]
        assert {x.bulletin for x in midday} == {"ba-vi-2026/IV.2.a", "ba-vi-2026/IV.2.c"}
        assert {x.status for x in midday} == {"played"}
        assert "reload" in r.event_kinds()


def test_a_bulletins_own_voice_and_speed_are_what_render_and_the_daemon_read(
        tmp_path, data_dir, capsys):
    from loa.schedule import load_program_bulletins, load_schedule
    from loa.station.wiring import ChildRendering

    words = "Bà con chú ý, chiều nay xã phun thuốc muỗi ở các thôn."
    at = datetime.now(DEFAULT_TZ) + timedelta(days=1)
    schedule = one_session_station(tmp_path / "st", at, [words, words])
    bfile = schedule.parent / "bulletins.yaml"
    _hand_edit(bfile, "- id: IV.2\n", "- id: IV.2\n  voice: south\n  speed: 1.5\n")
    svc.approve_bulletins(bfile, ["IV.1", "IV.2"], "An", account="web:an")
    assert main(["render", str(schedule)]) == 0
    assert "Đã đọc 2 bản tin mới" in capsys.readouterr().out  # same words, two voices
    assert main(["render", str(schedule)]) == 0
    assert "Đã đọc 0 bản tin mới, 2 bản tin có sẵn" in capsys.readouterr().out

    sched = load_schedule(schedule)
    station_clip, own_clip = (ChildRendering(schedule, sched.station).at_air(b)
                              for b in load_program_bulletins(sched)["p"])
    assert station_clip.voice == "vi" and own_clip.voice == "vi-vn-x-south"
    assert own_clip.seconds < station_clip.seconds * 0.85  # read 1.5 times as fast


def test_loa_run_airs_a_bulletins_recording_as_approved(tmp_path):
    import numpy as np
    from helpers import loa_env, rows_in, soon, start_daemon

    from loa.audio.wav import read_wav, write_wav

    data = tmp_path / "data"
    schedule = one_session_station(tmp_path / "st", soon(12, run_s=60),
                                   ["Lời này có bản ghi âm, không đọc bằng máy."])
    bfile = schedule.parent / "bulletins.yaml"
    rate = 22050
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 440 * np.arange(int(rate * 1.5)) / rate))
    write_wav(schedule.parent / "ghi-am.wav", tone.astype(np.int16), rate)
    _hand_edit(bfile, "- id: IV.1\n", "- id: IV.1\n  audio: ghi-am.wav\n")
    svc.approve_bulletins(bfile, ["IV.1"], "An", account="web:an")
    proc = start_daemon(loa_env(data), schedule, "--wav-dir", str(schedule.parent / "played"),
                        "--until-idle", sink="wav")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    rows = rows_in(data)
    assert {(r.zone, r.status, r.engine) for r in rows} == {("toan-xa", "played", "ghi-am"),
                                                            ("thon-1", "played", "ghi-am")}
    # produced like a TTS clip (issue 13): chime and the station's intro before the recording
    assert all(r.clip_s > 1.5 + 1.0 for r in rows)
    (played,) = (schedule.parent / "played").glob("*.wav")
    samples, played_rate = read_wav(played)
    made, made_rate = read_wav(data / "clips" / f"{rows[0].clip_hash}.wav")
    assert played_rate == made_rate and np.array_equal(samples, made)


def test_voicing_reads_and_makes_the_clip_a_bulletin_airs_as(tmp_path, data_dir):
    from loa.audio.wav import read_wav
    from loa.station.wiring import normalizer

    at = datetime.now(DEFAULT_TZ) + timedelta(days=1)
    schedule = one_session_station(tmp_path / "st", at, ["Họp lúc 7h30 ngày 09/6/2025."])
    bfile = schedule.parent / "bulletins.yaml"
    b = load_bulletins(bfile).get("IV.1")
    with svc.Voicing(schedule) as voices:
        words = voices.reading(b.text)
        assert words == normalizer(station=voices.station)(b.text)
        assert "bảy giờ ba mươi" in words and "2025" not in words
        assert voices.find(b) is None  # nothing made yet
        clip = voices.listen(b)
        samples, rate = read_wav(clip.path)
        assert clip.engine == "espeak" and abs(len(samples) / rate - clip.seconds) < 0.01
        assert voices.find(b) == clip
    svc.edit_bulletin(bfile, "IV.1", text="Họp lúc 8h.")
    assert svc.find_listen_clip(schedule, load_bulletins(bfile).get("IV.1")) is None


def test_concurrent_saves_of_one_opened_version_let_exactly_one_through(bfile):
    from concurrent.futures import ThreadPoolExecutor

    opened = load_bulletins(bfile).get("IV.1.b").approval_hash()

    def save(n: int) -> str:
        try:
            svc.edit_bulletin(bfile, "IV.1.b", text=f"Lời của người thứ {n}.", expected=opened)
            return f"Lời của người thứ {n}."
        except LoaError:
            return ""

    with ThreadPoolExecutor(6) as pool:
        won = [w for w in pool.map(save, range(6)) if w]
    assert len(won) == 1  # the others were told it changed since they opened it
    assert load_bulletins(bfile).get("IV.1.b").text == won[0]
    assert sorted(p.name for p in bfile.parent.iterdir()) == ["ba-vi-2026.yaml"]  # no lock file


def test_saving_keeps_the_officers_comments_and_every_other_entry_byte_for_byte(bfile):
    text = bfile.read_text(encoding="utf-8")
    text = text.replace("- id: IV.1.b\n", "# Anh Bình: mục này đọc chậm.\n\n- id: IV.1.b\n", 1)
    text = text.replace("- id: IV.1.c\n", "# mục sau còn chờ số liệu\n- id: IV.1.c\n", 1)
    text = text.replace("  status: draft\n", "  status: draft   # đang soạn\n", 1)
    text += "# hết tệp\n"
    bfile.write_text(text, encoding="utf-8")

    svc.edit_bulletin(bfile, "IV.1.b", text="Lời mới: mời bà con đến họp tại nhà văn hóa thôn #2 đúng giờ.")
    svc.approve_bulletins(bfile, ["IV.1.b"], "An", FakeClock(NOON), account="web:an")
    after = bfile.read_text(encoding="utf-8")
    for comment in ("# Anh Bình: mục này đọc chậm.\n\n", "# mục sau còn chờ số liệu\n",
                    "# hết tệp\n", after.splitlines()[0]):
        assert comment in after
    assert after.startswith(text.split("plan:")[0])  # the header, as it was
    # every entry but the one changed is the same text as before
    def entries(t: str) -> dict[str, str]:
        return {chunk.split("\n", 1)[0]: chunk for chunk in t.split("- id: ")[1:]}
    before_entries, after_entries = entries(text), entries(after)
    assert before_entries.keys() == after_entries.keys()
    changed = [k for k in before_entries if before_entries[k] != after_entries[k]]
    assert changed == ["IV.1.b"]
    b = load_bulletins(bfile).get("IV.1.b")
    assert b.text == "Lời mới: mời bà con đến họp tại nhà văn hóa thôn #2 đúng giờ." and b.is_approved
    raw = _raw(bfile, "IV.1.b")
    assert list(raw).index("approved_hash") == list(raw).index("approved_at") + 1


def test_loa_run_logs_the_refusal_at_start_and_plays_the_rest(tmp_path):
    from helpers import events_in, loa_env, rows_in, soon, start_daemon

    data = tmp_path / "data"
    schedule = one_session_station(tmp_path / "st", soon(12, run_s=60),
                                   ["Bà con chú ý.", "Lời thứ hai vẫn phát."])
    bfile = schedule.parent / "bulletins.yaml"
    svc.approve_bulletins(bfile, ["IV.1", "IV.2"], "An", account="web:an")
    _hand_edit(bfile, "Bà con chú ý.", "Bà con chú ý nhé.")
    proc = start_daemon(loa_env(data), schedule, "--wav-dir", str(schedule.parent / "played"),
                        "--until-idle", sink="wav")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert {(r.bulletin, r.status) for r in rows_in(data)} == {("ba-vi-2026/IV.2", "played")}
    (event,) = events_in(data, "not-approved")
    assert "“Bản tin 1” (tệp bulletins.yaml, mục IV.1)" in event[2]
    assert "chờ duyệt lại" in event[2]
