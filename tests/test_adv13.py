"""Issue 13 under attack and bad luck: what an adversary (or a careless hand) feeds loa's
recording import, approvals and voices, and what must not happen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from loa.audio.recording import decode_file
from loa.audio.settings import RATE
from loa.errors import LoaError


def _tone(path: Path, seconds: float, freq: int = 440) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"sine=f={freq}:d={seconds}", "-ar", str(RATE), str(path)], check=True)
    return path


@pytest.mark.parametrize("name", ["-", "pipe:0", "-i.wav", "concat:other.wav", "a 'b\" ĐT.wav"])
def test_a_file_name_is_a_file_never_stdin_or_another_protocol(tmp_path, monkeypatch, name):
    """ffmpeg reads '-' and 'pipe:0' as stdin and 'concat:x' as the file x: the file the
    officer chose must be the one decoded."""
    monkeypatch.chdir(tmp_path)
    _tone(tmp_path / "other.wav", 3.0)
    _tone(tmp_path / "one.wav", 1.0)
    (tmp_path / "one.wav").rename(tmp_path / name)
    x = decode_file(name)
    assert abs(len(x) / RATE - 1.0) < 0.05


def test_a_playlist_named_mp3_reads_no_other_file(tmp_path):
    """A text file pointing at other files (HLS, ffconcat) is not a recording."""
    secret = _tone(tmp_path / "secret.wav", 2.0)
    for name, body in [("evil.mp3", f"#EXTM3U\n#EXTINF:2,\n{secret}\n#EXT-X-ENDLIST\n"),
                       ("evil.m4a", f"ffconcat version 1.0\nfile '{secret}'\n")]:
        (tmp_path / name).write_text(body)
        with pytest.raises(LoaError) as err:
            decode_file(tmp_path / name)
        assert f"'{name}'" in str(err.value) and "secret" not in str(err.value)


@pytest.fixture
def station(tmp_path, data_dir) -> Path:
    from datetime import datetime, timedelta

    from helpers import one_session_station

    from loa.clock import DEFAULT_TZ

    at = datetime.now(DEFAULT_TZ) + timedelta(days=1)
    return one_session_station(tmp_path / "st", at, ["Lời đọc bằng máy một.",
                                                     "Lời đọc bằng máy hai."])


def test_swapped_recording_bytes_with_the_old_mtime_are_not_approved(station, tmp_path):
    """Bytes changed after approval, same size, mtime set back (touch -r): a long-running
    process (the daemon, the console) must see it, not a remembered hash."""
    import os

    from loa import station as svc
    from loa.audio.recording import file_digest
    from loa.script.bulletin import load_bulletins

    bfile = station.parent / "bulletins.yaml"
    take = tmp_path / "take.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(take), "Kính thưa bà con."], check=True)
    svc.record_bulletin(bfile, "IV.1", take)
    svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    b = load_bulletins(bfile).get("IV.1")
    assert b.is_approved
    wav = b.audio_path
    before, st = file_digest(wav), wav.stat()
    data = bytearray(wav.read_bytes())
    data[-2000:] = bytes(2000)  # the last words silenced, the size the same
    wav.write_bytes(bytes(data))
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert wav.stat().st_size == st.st_size and wav.stat().st_mtime_ns == st.st_mtime_ns
    assert not load_bulletins(bfile).get("IV.1").is_approved
    assert file_digest(wav) != before


@pytest.mark.parametrize("content", [
    "[" * 100_000 + "]" * 100_000,  # nested far past Python's recursion limit
    '{"language": {"code": "vi_VN"}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"language": {"code": "vi_VN"}, "n": ' + "9" * 5000 + "}",  # past int's digit limit
    '{"language": {"code": "vi_VN"}, "pad": "' + "x" * 6_000_000 + '"}',  # huge
])
def test_a_hostile_voice_config_is_refused_in_vietnamese(tmp_path, data_dir, capsys, content):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_piper import build

    from loa.cli import main

    model = build(tmp_path / "usb")
    Path(f"{model}.json").write_text(content, encoding="utf-8")
    assert main(["voices", "add", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Lỗi: ") and "vi_VN-tiny-low.onnx.json" in err
    assert "không phải cấu hình piper" in err and "Traceback" not in err
    assert not (data_dir / "voices").exists() or not any((data_dir / "voices").iterdir())


@pytest.mark.parametrize("name", ["ghi-am.mp3", "ghi-am.m3u8"])
def test_an_uploaded_hls_playlist_reads_no_other_file(tmp_path, name):
    """A playlist naming an audio file elsewhere on the machine (another station's
    recording, say) is refused, whatever it is called."""
    secret = tmp_path / "secret.aac"
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=f=440:d=3", "-c:a", "aac", str(secret)], check=True)
    (tmp_path / name).write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:3.0,\n{secret}\n#EXT-X-ENDLIST\n")
    with pytest.raises(LoaError, match=name.replace(".", r"\.")):
        decode_file(tmp_path / name)


def test_an_amr_voice_memo_still_decodes(tmp_path):
    """AMR (older phones' voice memos) passes the demuxer list: 50 frames of AMR-NB
    4.75 kbit/s (header byte 0x04, 12 bytes each) are one second."""
    import random

    rnd = random.Random(3)
    frames = b"".join(b"\x04" + bytes(rnd.randrange(256) for _ in range(12)) for _ in range(50))
    (tmp_path / "memo.amr").write_bytes(b"#!AMR\n" + frames)
    x = decode_file(tmp_path / "memo.amr")
    assert abs(len(x) / RATE - 1.0) < 0.05


def test_two_imports_of_one_recording_at_once_never_lose_the_saved_one(station, tmp_path):
    """Officer B saves a recording while officer A's import of the same bytes fails (a
    page opened before B's change): A's failure must not remove the file B's bulletin
    now names."""
    import fcntl
    import os
    import threading
    import time

    from loa import station as svc
    from loa.audio.recording import import_recording
    from loa.script.bulletin import load_bulletins

    bfile = station.parent / "bulletins.yaml"
    take = tmp_path / "take.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(take), "Kính thưa bà con."], check=True)
    made = import_recording(take, tmp_path / "made.wav")
    folder = station.parent / "ghi-am"
    name = f"IV.1-{made.sha256[:10]}.wav"
    failed: list[BaseException] = []

    def officer_a():
        try:
            svc.record_bulletin(bfile, "IV.1", take, expected="0" * 16)
        except BaseException as exc:  # noqa: BLE001 - looked at below
            failed.append(exc)

    fd = os.open(bfile, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # B holds the bulletins file
    a = threading.Thread(target=officer_a)
    a.start()
    while not (folder.is_dir() and any(folder.iterdir())) and a.is_alive():
        time.sleep(0.05)  # A's import is written; A now waits for the lock
    time.sleep(0.5)
    # B's own import of the same bytes, saved
    (folder / name).write_bytes(made.path.read_bytes())
    bf = load_bulletins(bfile)
    bf.get("IV.1").audio = f"ghi-am/{name}"
    bf.save()
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    a.join(60)
    assert failed and isinstance(failed[0], LoaError) and "nơi khác" in str(failed[0])
    assert load_bulletins(bfile).get("IV.1").audio == f"ghi-am/{name}"
    assert (folder / name).is_file()
    assert sorted(p.name for p in folder.iterdir()) == [name]  # no temp left either


def test_a_fifo_or_a_folder_is_not_a_recording_and_not_missing(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.mp3")
    (tmp_path / "folder.mp3").mkdir()
    for name in ("pipe.mp3", "folder.mp3"):
        with pytest.raises(LoaError, match=f"'{name}' không phải một tệp ghi âm"):
            decode_file(tmp_path / name)
    with pytest.raises(LoaError, match="không tìm thấy tệp ghi âm 'none.mp3'"):
        decode_file(tmp_path / "none.mp3")


def _speak(path: Path, words: str) -> Path:
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


@pytest.mark.parametrize("lang", ["vi", "hmn"])
def test_a_recording_swapped_after_approval_never_airs(station, tmp_path, lang):
    """The daemon holds the bulletin as planned; someone copies other audio over the
    approved recording (the bulletins file untouched, so no reload): at air, neither a
    clip made from the new bytes nor the raw file airs."""
    import shutil

    from loa import station as svc
    from loa.schedule import load_schedule
    from loa.schedule.expand import load_program_bulletins
    from loa.station import bulletins
    from loa.station.wiring import ChildRendering, ClipUnavailable

    bfile = station.parent / "bulletins.yaml"
    take = _speak(tmp_path / "take.wav", "Kính thưa bà con.")
    if lang == "vi":
        svc.record_bulletin(bfile, "IV.1", take)
        svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    else:
        bulletins.set_bulletin_version(bfile, "IV.1", lang, audio=take)
        bulletins.approve_bulletin_versions(bfile, ["IV.1"], lang, "Nguyễn Văn An",
                                      account="web:an")
    sched = load_schedule(station)
    planned = {b.id: b for b in load_program_bulletins(sched)["p"]}["IV.1"].for_air(lang)
    assert planned is not None and planned.audio_path.is_file()
    rendering = ChildRendering(station, sched.station)
    assert rendering.at_air(planned).engine == "ghi-am"  # the approved one airs

    other = tmp_path / "other.wav"
    from loa.audio.recording import import_recording

    import_recording(_speak(tmp_path / "o.wav", "Một tin khác hẳn, chưa ai duyệt."), other)
    shutil.copyfile(other, planned.audio_path)
    with pytest.raises(ClipUnavailable, match="đã bị thay đổi sau khi duyệt"):
        rendering.at_air(planned)
    rendering.ahead([planned])  # made ahead all the same: still never aired
    with pytest.raises(ClipUnavailable, match="đã bị thay đổi sau khi duyệt"):
        rendering.at_air(planned)


@pytest.mark.audio
def test_loa_run_never_airs_a_recording_swapped_after_it_planned(pulse, tmp_path):
    """`loa run` planned an approved recording and made its clip; other audio is then
    copied over the WAV (bulletins file untouched): the plays fail, saying why; nothing
    airs; one final row per zone."""
    import shutil
    import time

    import numpy as np
    from helpers import Recorder, loa, loa_env, one_session_station, rows_in, soon, start_daemon

    from loa.audio.recording import import_recording

    data = tmp_path / "data"
    env = loa_env(data, pulse.env)
    phone = _speak(tmp_path / "phone.wav", "Bà con chú ý, chiều nay xã phun thuốc muỗi.")
    at = soon(25, run_s=60)
    schedule = one_session_station(tmp_path / "st", at, ["Lời này được thu âm."])
    bfile = schedule.parent / "bulletins.yaml"
    assert loa(env, "bulletin", "record", str(bfile), "IV.1", str(phone)).returncode == 0
    assert loa(env, "bulletin", "approve", str(bfile), "IV.1", "--by", "Nguyễn Văn An"
               ).returncode == 0
    other = import_recording(_speak(tmp_path / "o.wav", "Tin giả, chưa ai duyệt."),
                             tmp_path / "other.wav")
    recorder = Recorder(pulse)
    proc = start_daemon(env, schedule, "--until-idle")
    clips = data / "clips"
    while proc.poll() is None and not (clips.is_dir() and any(clips.glob("*.wav"))):
        time.sleep(0.2)  # planned and made ahead
    wav = next((schedule.parent / "ghi-am").glob("IV.1-*.wav"))
    shutil.copyfile(other.path, wav)
    out, err = proc.communicate(timeout=150)
    heard = recorder.stop().samples()
    assert proc.returncode == 0, err
    rows = rows_in(data)
    assert sorted((r.zone, r.status) for r in rows) == [("thon-1", "failed"),
                                                        ("toan-xa", "failed")]
    assert all("đã bị thay đổi sau khi duyệt" in (r.reason or "") for r in rows)
    assert np.abs(heard.astype(np.int32)).max() < 300  # silence: nothing aired


def test_a_recording_made_through_a_link_to_the_bulletins_file_airs(tmp_path, data_dir):
    """The officer's bulletins file reached through a link (a shortcut in their home
    folder): the recording lands where the schedule's path finds it too."""
    from helpers import one_session_station

    from loa import station as svc
    from loa.script.bulletin import load_bulletins

    st = one_session_station(tmp_path / "real", None, ["Một.", "Hai."])
    (tmp_path / "view").mkdir()
    link = tmp_path / "view" / "bulletins.yaml"
    link.symlink_to(st.parent / "bulletins.yaml")
    svc.record_bulletin(link, "IV.1", _speak(tmp_path / "take.wav", "Kính thưa bà con."))
    svc.approve_bulletins(link, ["IV.1"], "Nguyễn Văn An", account="web:an")
    for path in (link, st.parent / "bulletins.yaml"):
        b = load_bulletins(path).get("IV.1")
        assert b.is_approved and b.status_vi == "đã duyệt", path
    assert not (tmp_path / "view" / "ghi-am").exists()


def test_an_audio_line_added_by_hand_to_an_approval_without_a_hash_does_not_air(tmp_path):
    """Approvals older than hashes vouch for words only: an `audio:` written into such a
    bulletin by hand was never approved, so it waits for approval like any edit."""
    from loa.audio.recording import import_recording
    from loa.script.bulletin import load_bulletins

    (tmp_path / "ghi-am").mkdir()
    import_recording(_speak(tmp_path / "t.wav", "Tin chưa ai duyệt."),
                     tmp_path / "ghi-am" / "x.wav")
    bfile = tmp_path / "bulletins.yaml"
    bfile.write_text(
        "plan: {id: kh}\nbulletins:\n"
        "  - {id: IV.1, title: Tin cũ, status: approved, text: Lời cũ.}\n"
        "  - {id: IV.2, title: Tin thu âm, status: approved, text: Lời.,"
        " audio: ghi-am/x.wav}\n", encoding="utf-8")
    bf = load_bulletins(bfile)
    assert bf.get("IV.1").is_approved  # words only: the old approval still holds
    b = bf.get("IV.2")
    assert not b.is_approved and b.status_vi == "chờ duyệt lại"
    assert "đã sửa sau khi duyệt" in (b.why_not_airable() or "")
