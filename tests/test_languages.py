"""Language versions (issue 13 item 6): zones' languages, bulletins' versions, approval."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from loa.cli import main
from loa.errors import LoaError
from loa.languages import LANGUAGES, name_vi, suggest
from loa.schedule import load_schedule

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def _with_languages(example: Path, first: str, second: str | None = None) -> Path:
    text = example.read_text(encoding="utf-8")
    text = text.replace("    volume: 80 ", f"    languages: {first}\n    volume: 80 ", 1)
    if second is not None:
        text = text.replace("    name: Thôn Văn Hòa\n",
                            f"    name: Thôn Văn Hòa\n    languages: {second}\n", 1)
    example.write_text(text, encoding="utf-8")
    return example


def test_language_table_has_vietnamese_names_and_iso_codes():
    assert LANGUAGES["vi"] == "Tiếng Việt" and LANGUAGES["hmn"] == "Tiếng Mông"
    for name in ("Tày", "Thái", "Nùng", "Dao", "Khmer", "Ê Đê", "Gia Rai", "Ba Na", "Chăm",
                 "Mường"):
        assert any(name in v for v in LANGUAGES.values()), name
    assert all(2 <= len(code) <= 3 and code.isascii() and code.islower() for code in LANGUAGES)
    assert name_vi("xx") == "xx"  # an old row's unknown code is shown as it is
    assert suggest("Tiếng Mông") == suggest("mong") == suggest("hmm") == "hmn"
    assert suggest("Ê Đê") == "rad" and suggest("vn") == "vi"


def test_zone_languages_default_to_vietnamese_and_keep_their_order(example):
    sched = load_schedule(_with_languages(example, "[hmn, vi]"))
    assert sched.zones["toan-xa"].languages == ("hmn", "vi")
    assert sched.zones["thon-van-hoa"].languages == ("vi",)


def test_unknown_language_code_is_named_with_file_line_and_suggestion(example, capsys):
    _with_languages(example, "[vi, mong]", "[vi, vi]")
    with pytest.raises(LoaError) as err:
        load_schedule(example)
    text = str(err.value)
    line = next(n for n, s in enumerate(example.read_text(encoding="utf-8").splitlines(), 1)
                if "mong" in s)
    assert f"ba-vi.yaml, dòng {line}" in text
    assert "mã ngôn ngữ 'mong' không có" in text and "Có phải ý bạn là 'hmn' (Tiếng Mông)?" in text
    assert "Tiếng Việt ('vi') ghi hai lần trong 'languages'" in text
    assert main(["validate", str(example)]) != 0
    out = capsys.readouterr()
    assert "Có phải ý bạn là 'hmn'" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_empty_language_list_is_refused(example):
    _with_languages(example, "[]")
    with pytest.raises(LoaError, match="cần ít nhất một ngôn ngữ"):
        load_schedule(example)


# --- bulletin versions ----------------------------------------------------------------------

def _tone(path: Path, seconds: float = 1.0, freq: float = 440.0, rate: int = 22050) -> Path:
    import numpy as np

    from loa.audio.wav import write_wav

    t = np.arange(int(rate * seconds)) / rate
    write_wav(path, (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16), rate)
    return path


def _speech(path: Path, words: str = "Nyob zoo txhua tus neeg") -> Path:
    """A translator's reading, as a phone would give it: espeak-ng speaking into a WAV."""
    import subprocess

    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


@pytest.fixture
def bfile(example) -> Path:
    return example.parent / "bulletins" / "ba-vi-2026.yaml"


def test_a_version_is_approved_on_its_own_hash_and_only_it_needs_approving_again(
        bfile, tmp_path, capsys):
    from loa.script.bulletin import load_bulletins

    before = load_bulletins(bfile).get("IV.1.a")
    assert before.is_approved
    src = _speech(tmp_path / "dich-mong.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio", str(src)]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    v = b.versions["hmn"]
    assert v.audio.startswith("ghi-am/IV.1.a-hmn-") and v.audio_path.is_file()
    assert not v.is_approved and b.for_air("hmn") is None
    assert b.is_approved and b.for_air("vi") is b  # the Vietnamese bulletin is untouched
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn",
                 "--by", "Lò Văn Páo"]) == 0
    assert (f"Đã duyệt bản tiếng Mông của IV.1.a: {before.title} (người duyệt: Lò Văn Páo"
            in capsys.readouterr().out)
    b = load_bulletins(bfile).get("IV.1.a")
    v = b.versions["hmn"]
    assert v.is_approved and v.approved_hash == v.approval_hash()
    aired = b.for_air("hmn")
    assert (aired.key, aired.title, aired.language, aired.audio) == (b.key, b.title, "hmn",
                                                                     v.audio)
    # the translator re-reads it: only that version waits for approval again
    _speech(tmp_path / "dich-mong-2.wav", "Nyob zoo, peb tuaj koom")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio",
                 str(tmp_path / "dich-mong-2.wav")]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    assert b.versions["hmn"].status_vi == "chờ duyệt lại" and b.for_air("hmn") is None
    assert b.versions["hmn"].audio != v.audio and not v.audio_path.exists()  # old one gone
    assert b.is_approved and b.approved_hash == before.approved_hash
    # a hand edit of the recording's bytes also voids it
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn", "--by", "A"]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    _tone(b.versions["hmn"].audio_path, freq=550.0)
    b = load_bulletins(bfile).get("IV.1.a")
    assert b.versions["hmn"].status_vi == "chờ duyệt lại" and b.is_approved
    # editing the Vietnamese text leaves the version's approval alone
    from loa import station as svc

    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn", "--by", "A"]) == 0
    svc.edit_bulletin(bfile, "IV.1.a", text="Lời tiếng Việt mới.")
    b = load_bulletins(bfile).get("IV.1.a")
    assert not b.is_approved and b.versions["hmn"].is_approved
    assert main(["bulletin", "show", str(bfile), "IV.1.a"]) == 0
    assert "Bản tiếng Mông (hmn): đã duyệt, A duyệt lúc" in capsys.readouterr().out


def test_version_submit_return_and_remove(bfile, tmp_path, capsys):
    from loa.script.bulletin import load_bulletins

    src = _speech(tmp_path / "tay.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.b", "tyz", "--audio", str(src)]) == 0
    assert main(["bulletin", "submit", str(bfile), "IV.1.b", "--lang", "tyz", "--by", "B"]) == 0
    assert load_bulletins(bfile).get("IV.1.b").versions["tyz"].status_vi == "chờ duyệt"
    assert main(["bulletin", "return", str(bfile), "IV.1.b", "--lang", "tyz", "--by", "C",
                 "--note", "đọc nhanh quá"]) == 0
    v = load_bulletins(bfile).get("IV.1.b").versions["tyz"]
    assert (v.status, v.returned_by, v.review_note) == ("returned", "C", "đọc nhanh quá")
    capsys.readouterr()
    assert main(["bulletin", "list", str(bfile)]) == 0
    listed = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(listed) if line.startswith("IV.1.b "))
    assert listed[at + 1].strip() == "+ Tiếng Tày: bị trả lại"
    recording = bfile.parent / v.audio
    assert recording.is_file()
    assert main(["bulletin", "version", str(bfile), "IV.1.b", "tyz", "--remove"]) == 0
    assert not recording.exists()  # loa imported it and nothing names it any more
    assert "sẽ nghe bản tiếng Việt" in capsys.readouterr().out
    assert load_bulletins(bfile).get("IV.1.b").versions == {}


def test_version_errors_are_vietnamese_and_name_the_file(bfile, tmp_path, capsys):
    text = bfile.read_text(encoding="utf-8")
    src = _speech(tmp_path / "x.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "mong", "--audio", str(src)]) != 0
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "vi", "--audio", str(src)]) != 0
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--text", "Nyob zoo"]) != 0
    (tmp_path / "not.wav").write_text("không phải âm thanh", encoding="utf-8")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio",
                 str(tmp_path / "not.wav")]) != 0
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn"]) != 0
    err = capsys.readouterr().err
    assert "Có phải ý bạn là 'hmn' (Tiếng Mông)?" in err
    assert "bản tiếng Việt là chính bản tin" in err
    assert "chưa có bộ đọc nào trên máy này đọc được tiếng Mông" in err
    assert "not.wav" in err
    assert "chưa có bản tiếng Mông" in err
    assert "Traceback" not in err
    assert bfile.read_text(encoding="utf-8") == text  # nothing half-written
    # a hand-written file: a bad version is reported with its line
    bad = text.replace("- id: IV.1.a\n", "- id: IV.1.a\n  versions:\n    mong:\n"
                       "      audio: a.wav\n    tyz:\n      status: approved\n", 1)
    bfile.write_text(bad, encoding="utf-8")
    assert main(["bulletin", "list", str(bfile)]) != 0
    err = capsys.readouterr().err
    line = bad.splitlines().index("    mong:") + 1
    assert f"dòng {line}" in err and "Có phải ý bạn là 'hmn'" in err
    assert "cần đúng một trong hai: 'audio'" in err


# --- the daemon: each zone hears its languages ------------------------------------------------

def _two_language_station(tmp_path: Path) -> Path:
    """helpers.write_station's Ba Vì with Toàn xã in [vi, hmn] and Thôn 1 in [vi]; IV.2.a
    has an approved recording in tiếng Mông, IV.2.c has none."""
    from helpers import write_station

    from loa.station.bulletins import approve_bulletin_versions, set_bulletin_version

    path = write_station(tmp_path, {"zones": [
        {"id": "toan-xa", "name": "Toàn xã", "relay": 17, "languages": ["vi", "hmn"]},
        {"id": "thon-1", "name": "Thôn 1", "relay": 27}]})
    bfile = tmp_path / "bulletins.yaml"
    set_bulletin_version(bfile, "IV.2.a", "hmn", audio=_speech(tmp_path / "mong.wav"))
    approve_bulletin_versions(bfile, ["IV.2.a"], "hmn", "Lò Văn Páo", account="os:test")
    return path


def _recordings_as_recorded(rig) -> None:
    """The rig reads every bulletin by espeak; a recording (a version's too) airs produced
    as the station's wiring produces it (loa.station.wiring.produce_recording)."""
    from loa.audio import AudioSettings, ClipStore, Renderer
    from loa.station.wiring import produce_recording
    from loa.voice import EngineChain, EspeakEngine

    renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(rig.tmp / "clips"), str.strip,
                        AudioSettings(chime=False), intro="Đài truyền thanh xã Ba Vì xin thông báo.")
    read = rig.player.clip_for
    rig.player.clip_for = (lambda b: produce_recording(renderer, b, offline=True).clip
                           if b.audio else read(b))


def test_daemon_plays_each_zone_its_languages_and_logs_one_row_per_language(rig, tmp_path):
    from fakeclock import FakeClock
    from helpers import MONDAY

    from loa.audio.wav import read_wav

    _two_language_station(tmp_path)
    at = MONDAY.replace(hour=6, minute=30)
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
        _recordings_as_recorded(r)
        r.daemon.start()
        r.session(at)
        rows = [x for x in r.rows() if x.scheduled_at == at.isoformat()]
        events = r.store.events(100)
    got = sorted((x.bulletin.rpartition("/")[2], x.zone, x.language, x.status) for x in rows)
    assert got == [("IV.2.a", "thon-1", "vi", "played"), ("IV.2.a", "toan-xa", "hmn", "played"),
                   ("IV.2.a", "toan-xa", "vi", "played"), ("IV.2.c", "thon-1", "vi", "played"),
                   ("IV.2.c", "toan-xa", "vi", "played")]
    assert len({x.play_key for x in rows}) == len(rows)  # one final row per play
    hmn = next(x for x in rows if x.language == "hmn")
    spoken = read_wav(tmp_path / "mong.wav")
    assert hmn.engine == "ghi-am" and hmn.clip_s > len(spoken[0]) / spoken[1]  # intro too
    vi_a = next(x for x in rows if x.language == "vi" and x.zone == "toan-xa"
                and x.bulletin.endswith("IV.2.a"))
    assert hmn.started_at >= vi_a.ended_at  # the zone's order: Vietnamese, then Mông
    # the device played Vietnamese once for both zones, the Mông recording once
    assert len(r.sink.written) == 3
    mong = [p for p in r.sink.written if str(p).endswith("_hmn.wav")]
    assert len(mong) == 1 and abs(len(read_wav(mong[0])[0]) / read_wav(mong[0])[1]
                                  - hmn.clip_s) < 0.01
    # Thôn 1 (relay 27) is off while the Mông version plays, on again after it
    switched = [(lines, on) for _, lines, on in r.relays.events]
    assert switched == [((17, 27), True), ((27,), False), ((27,), True), ((17, 27), False)]
    # IV.2.c has no Mông version: Toàn xã heard it in Vietnamese, and the log says so
    fallback = [e for e in events if e[1] == "language-fallback"]
    assert [e[2] for e in fallback] == [
        "vùng Toàn xã, bản tin “Tiện ích miễn phí”: chưa có bản tiếng Mông, phát bản tiếng Việt"]


def _player_rig(tmp_path: Path, zones, relays=None):
    """A Player on a fixed day (FakeClock: sleeps move it), WAV sink, real SQLite log; a
    text is read as a short tone, a recording airs as recorded."""
    from fakeclock import FakeClock

    from loa.audio.cache import Clip
    from loa.clock import DEFAULT_TZ
    from loa.log import LogStore
    from loa.player import Player, WavDirSink
    from loa.station.wiring import recorded_clip

    clock = FakeClock(datetime(2026, 4, 1, 6, 0, tzinfo=DEFAULT_TZ))
    store = LogStore(tmp_path / "log.sqlite3")
    sink = WavDirSink(tmp_path / "played", clock, fast=True)
    read = _tone(tmp_path / "read.wav", 0.5, 660.0)

    def clip_for(b):
        return recorded_clip(b) if b.audio else Clip(read, "t" * 32, "espeak", "", 0.5)

    return Player(store, clock, lambda d: sink, clip_for, zones, relays), store, clock


def _occurrence(tmp_path: Path, versions: dict, at, zones, missing_audio: bool = False):
    from loa.schedule import Item, Occurrence
    from loa.script.bulletin import Bulletin, Version, version_hash

    folder = tmp_path
    made = {}
    for lang, status in versions.items():
        wav = _tone(folder / f"{lang}.wav", 0.7, 330.0)
        v = Version(lang, audio=wav.name, status=status, folder=folder)
        if status == "approved":
            v.approved_by, v.approved_hash = "A", version_hash(lang, "", wav)
        made[lang] = v
    if missing_audio:
        for v in made.values():
            v.audio_path.unlink()
    b = Bulletin(id="IV.1", plan="kh", title="Lịch tiêm phòng", text="Bà con đưa trâu bò đi "
                 "tiêm phòng.", status="approved", versions=made, folder=folder)
    return Occurrence("ba-vi", "sang", at, tuple(zones), (Item("p", b),))


def test_a_zone_without_its_approved_version_hears_vietnamese_and_the_log_says_why(tmp_path):
    from datetime import timedelta

    from loa.schedule.model import Zone

    zones = {"ban-mong": Zone("ban-mong", "Bản Mông", "card", languages=("hmn",)),
             "ban-tay": Zone("ban-tay", "Bản Tày", "card-2", languages=("tyz", "vi"))}
    player, store, clock = _player_rig(tmp_path, zones)
    occ = _occurrence(tmp_path, {"hmn": "pending"}, clock.now() + timedelta(seconds=5), zones)
    player.play(occ)
    rows = store.plays()
    events = [e[2] for e in store.events(20) if e[1] == "language-fallback"]
    store.close()
    assert sorted((r.zone, r.language, r.status) for r in rows) == [
        ("ban-mong", "vi", "played"), ("ban-tay", "vi", "played")]
    assert sorted(events) == [
        "vùng Bản Mông, bản tin “Lịch tiêm phòng”: bản tiếng Mông chờ duyệt, phát bản tiếng Việt",
        "vùng Bản Tày, bản tin “Lịch tiêm phòng”: chưa có bản tiếng Tày, phát bản tiếng Việt"]


def test_a_missed_session_logs_one_row_per_zone_and_language_and_a_restart_adds_none(tmp_path):
    from datetime import timedelta

    from loa.schedule.model import Zone

    zones = {"a": Zone("a", "Thôn A", "card", languages=("vi", "hmn")),
             "b": Zone("b", "Thôn B", "card", languages=("hmn",))}
    player, store, clock = _player_rig(tmp_path, zones)
    occ = _occurrence(tmp_path, {"hmn": "approved"}, clock.now() - timedelta(minutes=30), zones)
    player.play(occ)  # half an hour late: missed
    player.play(occ)  # a restart looks again
    rows = store.plays()
    store.close()
    assert sorted((r.zone, r.language, r.status) for r in rows) == [
        ("a", "hmn", "missed"), ("a", "vi", "missed"), ("b", "hmn", "missed")]


def test_zones_sharing_a_device_without_relays_both_hear_a_version_and_the_log_says_so(
        tmp_path):
    from datetime import timedelta

    from loa.schedule.model import Zone

    zones = {"a": Zone("a", "Thôn A", "card", languages=("vi", "hmn")),
             "b": Zone("b", "Thôn B", "card")}
    player, store, clock = _player_rig(tmp_path, zones)
    occ = _occurrence(tmp_path, {"hmn": "approved"}, clock.now() + timedelta(seconds=5), zones)
    player.play(occ)
    rows = store.plays()
    shared = [e[2] for e in store.events(20) if e[1] == "language-shared"]
    store.close()
    assert sorted((r.zone, r.language) for r in rows) == [("a", "hmn"), ("a", "vi"), ("b", "vi")]
    assert shared == ["vùng Thôn B không có rơ-le riêng nên cũng nghe bản tiếng Mông của bản "
                      "tin “Lịch tiêm phòng”"]


def test_a_recording_deleted_after_approval_falls_back(tmp_path):
    from datetime import timedelta

    from loa.schedule.model import Zone

    zones = {"a": Zone("a", "Thôn A", "card", languages=("hmn",))}
    player, store, clock = _player_rig(tmp_path, zones)
    occ = _occurrence(tmp_path, {"hmn": "approved"}, clock.now() + timedelta(seconds=5), zones,
                      missing_audio=True)
    player.play(occ)
    rows = store.plays()
    events = [e[2] for e in store.events(20) if e[1] == "language-fallback"]
    store.close()
    assert [(r.language, r.status) for r in rows] == [("vi", "played")]
    assert events == ["vùng Thôn A, bản tin “Lịch tiêm phòng”: bản tiếng Mông thiếu tệp ghi âm, "
                      "phát bản tiếng Việt"]


# --- reports count plays per language ---------------------------------------------------------

def test_reports_and_exports_count_plays_per_language(tmp_path):
    import csv
    import json
    from datetime import timedelta

    from docx import Document
    from openpyxl import load_workbook

    from loa.clock import DEFAULT_TZ
    from loa.log import LogStore, Names
    from loa.log.period import quarter
    from loa.report import export_csv, export_json
    from loa.report.periodic import build, write_docx
    from loa.report.xlsx import export_xlsx

    store = LogStore(tmp_path / "log.sqlite3")
    t0 = datetime(2026, 3, 2, 6, 30, tzinfo=DEFAULT_TZ)
    plays = [("a", "vi", "played"), ("a", "hmn", "played"), ("b", "vi", "played"),
             ("a", "vi", "missed"), ("a", "hmn", "missed"), ("a", "hmn", "played")]
    for n, (zone, lang, status) in enumerate(plays):
        at = t0 + timedelta(days=n)
        claim = dict(play_key=f"k{n}", station="ba-vi", zone=zone, program="p", session="sang",
                     bulletin="kh/IV.1", title="Tiêm phòng", field=1, priority=3,
                     scheduled_at=at, clip_s=20.0, language=lang)
        if status == "missed":
            store.claim(**claim, now=at, status="missed", reason="máy tắt")
        else:
            row = store.claim(**claim, now=at)
            store.finish(row, status="played", started_at=at, ended_at=at + timedelta(seconds=20))
    names = Names(zone={"a": "Bản Mông", "b": "Thôn Đông"})
    q1 = quarter("2026Q1")
    data = build(store, q1, DEFAULT_TZ, (), names, today=date(2026, 4, 1))
    langs = {k: (t.scheduled, t.aired) for k, t in data.summary.languages.items()}
    assert langs == {"vi": (3, 2), "hmn": (3, 2)} and list(langs) == ["vi", "hmn"]
    # a part of a month is counted from the plays themselves, the same way
    since, until = q1.bounds(DEFAULT_TZ)
    from loa.log import LogFilter
    from loa.report.summary import summarize

    part = summarize(store, LogFilter(since=t0 + timedelta(hours=1), until=until))
    assert {k: t.scheduled for k, t in part.languages.items()} == {"vi": 2, "hmn": 3}

    write_docx(data, tmp_path / "bao-cao.docx")
    doc = Document(tmp_path / "bao-cao.docx")
    (table,) = [tb for tb in doc.tables if tb.rows[0].cells[1].text == "Ngôn ngữ"]
    cells = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert cells == [["1", "Tiếng Việt", "3", "2", "0,7", "66,7%"],
                     ["2", "Tiếng Mông", "3", "2", "0,7", "66,7%"],
                     ["", "Tổng cộng", "6", "4", "1,3", "66,7%"]]

    export_xlsx(store, tmp_path / "x.xlsx", DEFAULT_TZ, LogFilter(since=since, until=until),
                names=names)
    wb = load_workbook(tmp_path / "x.xlsx")
    sheet = [r for r in wb["Theo ngôn ngữ"].iter_rows(values_only=True)]
    assert [(r[0], r[1], r[2]) for r in sheet[1:]] == [("Tiếng Việt", 3, 2), ("Tiếng Mông", 3, 2),
                                                       ("Tổng cộng", 6, 4)]
    log = list(wb["Nhật ký phát"].iter_rows(values_only=True))
    col = log[0].index("Ngôn ngữ")
    assert [r[col] for r in log[1:]] == ["Tiếng Việt", "Tiếng Mông", "Tiếng Việt", "Tiếng Việt",
                                         "Tiếng Mông", "Tiếng Mông"]

    export_csv(store, tmp_path / "x.csv", names=names)
    rows = list(csv.DictReader((tmp_path / "x.csv").open(encoding="utf-8-sig")))
    assert [(r["Mã ngôn ngữ"], r["Ngôn ngữ"]) for r in rows][:2] == [("vi", "Tiếng Việt"),
                                                                     ("hmn", "Tiếng Mông")]
    export_json(store, tmp_path / "x.json", "ba-vi", names=names)
    got = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))["plays"]
    assert [(p["NgonNgu"], p["TenNgonNgu"]) for p in got][:2] == [("vi", "Tiếng Việt"),
                                                                 ("hmn", "Tiếng Mông")]
    store.close()


def test_loa_run_airs_a_translators_recording_to_its_zone_and_logs_each_language(tmp_path):
    """The whole pipeline: `loa bulletin version` (ffmpeg import) -> approve --lang -> `loa
    run` (the station's wiring produces the recording) -> the log, `loa log`, the events."""
    import subprocess

    from helpers import events_in, loa, loa_env, one_session_station, rows_in, soon, start_daemon

    from loa.yamlio import load_yaml, write_yaml

    data = tmp_path / "data"
    env = loa_env(data)
    schedule = one_session_station(tmp_path / "st", soon(25, run_s=60),
                                   ["Lịch tiêm phòng cho đàn trâu bò.", "Họp dân tối nay."])
    raw = load_yaml(schedule)
    plain = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    plain["zones"] = [dict(z) for z in raw["zones"]]
    plain["zones"][0]["languages"] = ["vi", "hmn"]  # Toàn xã; Thôn 1 stays Vietnamese
    plain["station"] = dict(raw["station"])
    plain["sessions"] = [dict(s) for s in raw["sessions"]]
    plain["programs"] = [dict(p) for p in raw["programs"]]
    write_yaml(schedule, plain)
    bfile = schedule.parent / "bulletins.yaml"
    phone = tmp_path / "mong.ogg"  # what a translator's phone gives
    _speech(tmp_path / "mong.wav")
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i",
                    str(tmp_path / "mong.wav"), "-c:a", "libopus", str(phone)], check=True)
    done = loa(env, "bulletin", "version", str(bfile), "IV.1", "hmn", "--audio", str(phone))
    assert done.returncode == 0, done.stderr
    done = loa(env, "bulletin", "approve", str(bfile), "IV.1", "--lang", "hmn", "--by", "Páo")
    assert done.returncode == 0, done.stderr
    proc = start_daemon(env, schedule, "--wav-dir", str(tmp_path / "played"), "--until-idle",
                        sink="wav")
    out, err = proc.communicate(timeout=150)
    assert proc.returncode == 0, err
    rows = rows_in(data)
    assert sorted((r.bulletin.rpartition("/")[2], r.zone, r.language, r.status, r.engine)
                  for r in rows) == [
        ("IV.1", "thon-1", "vi", "played", "espeak"), ("IV.1", "toan-xa", "hmn", "played", "ghi-am"),
        ("IV.1", "toan-xa", "vi", "played", "espeak"), ("IV.2", "thon-1", "vi", "played", "espeak"),
        ("IV.2", "toan-xa", "vi", "played", "espeak")]
    assert len(list((tmp_path / "played").glob("*.wav"))) == 3  # Vietnamese once per item
    details = [e[2] for e in events_in(data)]
    assert "vùng Toàn xã, bản tin “Bản tin 2”: chưa có bản tiếng Mông, phát bản tiếng Việt" in details
    # one device, no relays: Thôn 1 heard the Mông version too, and the log says so
    assert ("vùng Thôn 1 không có rơ-le riêng nên cũng nghe bản tiếng Mông của bản tin "
            "“Bản tin 1”") in details
    shown = loa(env, "log", "--schedule", str(schedule))
    assert shown.returncode == 0 and "— tiếng Mông" in shown.stdout, shown.stderr



def test_a_code_with_no_close_match_lists_the_table():
    from loa.languages import unknown_vi

    assert "Các mã: vi (Tiếng Việt), hmn (Tiếng Mông)" in unknown_vi("qqqqqqqq")
    assert "Các mã" not in unknown_vi("mong")


def test_validate_warns_of_zones_that_will_hear_vietnamese_instead(example, tmp_path, capsys):
    from loa.station.bulletins import approve_bulletin_versions, set_bulletin_version

    _with_languages(example, "[vi, hmn]")
    assert main(["validate", str(example)]) == 0
    err = capsys.readouterr().err
    assert ("vùng Toàn xã nghe tiếng Mông: 4 bản tin chưa có bản tiếng Mông đã duyệt (IV.1.a, "
            "IV.2.a, IV.2.c, IV.3.c), sẽ phát bản tiếng Việt") in err
    bfile = example.parent / "bulletins" / "ba-vi-2026.yaml"
    set_bulletin_version(bfile, "IV.1.a", "hmn", audio=_speech(tmp_path / "m.wav"))
    assert main(["validate", str(example)]) == 0
    assert "4 bản tin chưa có bản tiếng Mông" in capsys.readouterr().err  # not approved yet
    approve_bulletin_versions(bfile, ["IV.1.a"], "hmn", "Páo", account="os:test")
    assert main(["validate", str(example)]) == 0
    assert "3 bản tin chưa có bản tiếng Mông đã duyệt (IV.2.a, IV.2.c, IV.3.c)" in (
        capsys.readouterr().err)


def test_languages_written_without_brackets_are_told_to_be_a_list(example):
    _with_languages(example, "vi, hmn")
    with pytest.raises(LoaError, match=r"danh sách trong ngoặc vuông, ví dụ \[vi, hmn\]"):
        load_schedule(example)
