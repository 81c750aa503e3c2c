"""The officer's own voice: a phone's recording imported (ffmpeg, cleaned), produced like a
TTS clip (chime, intro, -16 LUFS, true peak <= -1 dBTP), bound by the approval, aired."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from helpers import one_session_station

from loa import station as svc
from loa.audio import loudness
from loa.audio.recording import RECORDED, import_recording
from loa.audio.settings import RATE
from loa.audio.wav import read_wav, write_wav
from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.script.bulletin import load_bulletins

WORDS = "Kính thưa bà con nhân dân, xã tổ chức tiêm phòng cho đàn gia súc."


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> Path:
    """A spoken sentence (espeak-ng) with 2 s of quiet room noise and a 50 Hz hum around it,
    as a phone left running before and after the officer speaks."""
    folder = tmp_path_factory.mktemp("voice")
    speech = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(speech), WORDS], check=True)
    x, rate = read_wav(speech)
    rng = np.random.default_rng(7)
    pad = np.zeros(rate * 2, dtype=np.float64)
    y = np.concatenate([pad, x.astype(np.float64) / 32768 * 0.5, pad])
    t = np.arange(len(y)) / rate
    y += 0.002 * rng.standard_normal(len(y)) + 0.05 * np.sin(2 * np.pi * 50 * t)
    out = folder / "phone.wav"
    write_wav(out, (y * 32767).astype(np.int16), rate)
    return out


def _encode(src: Path, dest: Path, *codec: str) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(src), *codec,
                    str(dest)], check=True)
    return dest


def _level_db(x: np.ndarray) -> float:
    x = x.astype(np.float64) / 32768
    return 10 * np.log10(np.mean(x**2) + 1e-12)


@pytest.mark.parametrize("name,codec", [
    ("phone.mp3", ["-c:a", "libmp3lame"]), ("phone.m4a", ["-c:a", "aac"]),
    ("phone.aac", ["-c:a", "aac"]), ("phone.ogg", ["-c:a", "libopus"]),
    ("phone.opus", ["-c:a", "libopus"]), ("browser.webm", ["-c:a", "libopus"]),
    ("phone.wav", []),
])
def test_what_phones_and_browsers_record_becomes_a_clean_mono_wav(voice, tmp_path, name, codec):
    src = _encode(voice, tmp_path / name, *codec)
    rec = import_recording(src, tmp_path / "out" / "rec.wav")
    x, rate = read_wav(rec.path)
    assert rate == RATE == rec.rate and rec.source == src
    words, words_rate = read_wav(voice.parent / "speech.wav")
    loud = np.nonzero(np.abs(words) > 0.02 * np.abs(words).max())[0]
    speech_s = (loud[-1] - loud[0]) / words_rate
    # the two seconds of room at each end are cut, the words kept (a short margin)
    assert rec.trimmed_s > 3.9 and speech_s - 0.05 < rec.seconds < speech_s + 0.6
    assert abs(len(x) / rate - rec.seconds) < 0.001
    def hum_vs_voice(s, r):
        spectrum = np.abs(np.fft.rfft(s.astype(np.float64)))
        freqs = np.fft.rfftfreq(len(s), 1 / r)
        return (spectrum[(freqs > 45) & (freqs < 55)].mean()
                / spectrum[(freqs > 300) & (freqs < 3000)].mean())
    # the gentle high-pass (and the gate) took the 50 Hz mains hum down by over 6 dB
    assert hum_vs_voice(x, rate) < hum_vs_voice(*read_wav(voice)) / 2
    assert np.abs(x).max() > 0.5 * 32767  # brought up to a healthy peak, not clipped
    assert np.abs(x).max() < 0.75 * 32767


def test_the_noise_gate_turns_pauses_down_but_keeps_the_words(tmp_path, voice):
    x, rate = read_wav(voice)
    gap = np.zeros(rate, dtype=np.int16)
    rng = np.random.default_rng(3)
    noisy = np.concatenate([x, gap, x]).astype(np.float64)
    noisy += 0.003 * 32767 * rng.standard_normal(len(noisy))
    src = tmp_path / "two.wav"
    write_wav(src, noisy.astype(np.int16), rate)
    y, out_rate = read_wav(import_recording(src, tmp_path / "two-out.wav").path)
    # the middle pause, relative to the words, is quieter after import than before
    def pause_vs_words(s, r):
        n = len(s)
        middle = s[n // 2 - r // 4: n // 2 + r // 4]
        return _level_db(middle) - _level_db(s)
    assert pause_vs_words(y, out_rate) < pause_vs_words(noisy.astype(np.int16), rate) - 8


@pytest.mark.parametrize("content,words", [
    (b"", "rỗng"), (b"ID3 this is not audio at all" * 10, "không phải tệp âm thanh"),
])
def test_a_file_that_is_not_a_recording_is_refused_by_name(tmp_path, content, words):
    src = tmp_path / "ghi-am-xa.mp3"
    src.write_bytes(content)
    dest = tmp_path / "out.wav"
    with pytest.raises(LoaError, match=words) as exc:
        import_recording(src, dest)
    assert "ghi-am-xa.mp3" in str(exc.value) and "Traceback" not in str(exc.value)
    assert not dest.exists() and list(tmp_path.iterdir()) == [src]  # nothing half-written


def test_silence_and_missing_files_are_refused(tmp_path):
    silent = tmp_path / "im-lang.wav"
    write_wav(silent, np.zeros(RATE * 3, dtype=np.int16), RATE)
    with pytest.raises(LoaError, match="không có tiếng nói"):
        import_recording(silent, tmp_path / "a.wav")
    with pytest.raises(LoaError, match="không tìm thấy tệp ghi âm 'khong-co.m4a'"):
        import_recording(tmp_path / "khong-co.m4a", tmp_path / "b.wav")
    assert not (tmp_path / "a.wav").exists() and not (tmp_path / "b.wav").exists()


def test_an_absurdly_long_recording_is_refused(tmp_path, voice, monkeypatch):
    import loa.audio.recording as recording

    monkeypatch.setattr(recording, "MAX_SECONDS", 5)  # the rule, on a file that is short
    with pytest.raises(LoaError, match="dài hơn 5 giây"):
        import_recording(voice, tmp_path / "a.wav")
    assert not (tmp_path / "a.wav").exists()


def test_no_ffmpeg_says_how_to_install_it(tmp_path, voice, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no ffmpeg on it
    with pytest.raises(LoaError, match="không tìm thấy chương trình ffmpeg.*apt install"):
        import_recording(voice, tmp_path / "a.wav")


# --- the bulletin's recording -------------------------------------------------------------

@pytest.fixture
def station(tmp_path, data_dir) -> Path:
    at = datetime.now(DEFAULT_TZ) + timedelta(days=1)
    return one_session_station(tmp_path / "st", at, ["Lời đọc bằng máy một.",
                                                     "Lời đọc bằng máy hai."])


def test_record_imports_beside_the_bulletins_and_asks_for_approval_again(station, voice,
                                                                         tmp_path):
    bfile = station.parent / "bulletins.yaml"
    svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    assert load_bulletins(bfile).get("IV.1").is_approved
    m4a = _encode(voice, tmp_path / "Ghi âm 2026.m4a", "-c:a", "aac")
    b = svc.record_bulletin(bfile, "IV.1", m4a)
    assert b.audio.startswith("ghi-am/IV.1-") and b.audio.endswith(".wav")
    first = station.parent / b.audio
    assert first.is_file() and list(first.parent.iterdir()) == [first]  # no temp left
    again = load_bulletins(bfile).get("IV.1")
    assert again.audio == b.audio and not again.is_approved
    assert again.status_vi == "chờ duyệt lại"
    assert {x.id for x in svc.list_bulletins(bfile).items if x.airs} == {"IV.2"}

    svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    assert load_bulletins(bfile).get("IV.1").is_approved
    # the same recording again: same bytes, the approval still holds
    assert svc.record_bulletin(bfile, "IV.1", m4a).audio == b.audio
    assert load_bulletins(bfile).get("IV.1").is_approved

    # a new take replaces it; the old file goes once the new one is in the bulletin
    take2 = _encode(voice, tmp_path / "take2.mp3", "-c:a", "libmp3lame", "-b:a", "64k")
    b2 = svc.record_bulletin(bfile, "IV.1", take2)
    assert b2.audio != b.audio and (station.parent / b2.audio).is_file()
    assert not first.exists()
    assert load_bulletins(bfile).get("IV.1").status_vi == "chờ duyệt lại"

    # --remove: back to its words (still to be approved again)
    b3 = svc.record_bulletin(bfile, "IV.1", None, remove=True)
    assert b3.audio == "" and not (station.parent / b2.audio).exists()
    assert load_bulletins(bfile).get("IV.1").text == "Lời đọc bằng máy một."


def test_a_refused_record_leaves_the_bulletin_and_no_file(station, voice, tmp_path):
    bfile = station.parent / "bulletins.yaml"
    before = bfile.read_bytes()
    bad = tmp_path / "x.mp3"
    bad.write_bytes(b"not audio" * 100)
    with pytest.raises(LoaError, match="x.mp3"):
        svc.record_bulletin(bfile, "IV.1", bad)
    with pytest.raises(LoaError, match="không có bản tin 'IV.9'"):
        svc.record_bulletin(bfile, "IV.9", voice)
    b = load_bulletins(bfile).get("IV.1")
    with pytest.raises(LoaError, match="đã được sửa ở nơi khác"):
        svc.record_bulletin(bfile, "IV.1", voice, expected="0" * 16)
    assert b.approval_hash() != "0" * 16
    with pytest.raises(LoaError, match="không có tệp ghi âm để bỏ"):
        svc.record_bulletin(bfile, "IV.1", None, remove=True)
    assert bfile.read_bytes() == before
    folder = station.parent / "ghi-am"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_cli_record_help_and_errors_in_vietnamese(station, voice, capsys):
    bfile = station.parent / "bulletins.yaml"
    with pytest.raises(SystemExit):
        main(["bulletin", "record", "--help"])
    help_text = capsys.readouterr().out
    assert "tệp ghi âm" in help_text and "--remove" in help_text and "duyệt lại" in help_text
    assert main(["bulletin", "record", str(bfile), "IV.2", str(voice)]) == 0
    said = capsys.readouterr().out
    assert "Đã nhập tệp ghi âm" in said and "chờ duyệt lại" in said
    assert main(["bulletin", "show", str(bfile), "IV.2"]) == 0
    assert "Giọng đọc thu âm: ghi-am/IV.2-" in capsys.readouterr().out
    assert main(["bulletin", "record", str(bfile), "IV.2", str(station)]) != 0
    err = capsys.readouterr().err
    assert "lich.yaml" in err and "không phải tệp âm thanh" in err and "Traceback" not in err


# --- production: the same chain as TTS ----------------------------------------------------

def test_a_recorded_bulletin_is_produced_like_a_tts_clip_and_made_once(station, voice,
                                                                       capsys):
    from loa.schedule import load_schedule
    from loa.schedule.expand import load_program_bulletins
    from loa.station.wiring import ChildRendering

    bfile = station.parent / "bulletins.yaml"
    rec = svc.record_bulletin(bfile, "IV.1", voice)
    svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    raw, rate = read_wav(station.parent / rec.audio)
    assert main(["render", str(station)]) == 0
    out = capsys.readouterr().out
    assert "giọng đọc thu âm 1" in out and "espeak 1" in out
    result = svc.render(station)
    (outcome,) = [o for o in result.outcomes if o.clip and o.clip.engine == RECORDED]
    assert outcome.cached  # the second render makes nothing
    clip = outcome.clip
    samples, clip_rate = read_wav(clip.path)
    assert clip_rate == RATE
    x = samples.astype(np.float32) / 32767
    levels = loudness.measure(x, RATE)
    assert abs(levels.lufs - (-16.0)) < 0.5 and levels.true_peak_dbtp <= -1.0 + 0.05
    # chime and the station's spoken intro come first: longer than the recording alone
    assert clip.seconds > len(raw) / rate + 2.0
    assert clip.engine == RECORDED and not clip.fallback

    # air time finds it made, with no child process to start
    sched = load_schedule(station)
    bulletins = {b.id: b for b in load_program_bulletins(sched)["p"]}
    rendering = ChildRendering(station, sched.station)
    rendering._child = None  # air time must not produce: it is made
    assert rendering.at_air(bulletins["IV.1"]) == clip


def test_at_air_with_no_clip_made_produces_it_then(station, voice):
    from loa.schedule import load_schedule
    from loa.schedule.expand import load_program_bulletins
    from loa.station.wiring import ChildRendering

    bfile = station.parent / "bulletins.yaml"
    svc.record_bulletin(bfile, "IV.1", voice)
    svc.approve_bulletins(bfile, ["IV.1"], "Nguyễn Văn An", account="web:an")
    sched = load_schedule(station)
    b = {b.id: b for b in load_program_bulletins(sched)["p"]}["IV.1"]
    clip = ChildRendering(station, sched.station).at_air(b)
    assert clip.engine == RECORDED and clip.path.parent.name == "clips"
    levels = loudness.measure(read_wav(clip.path)[0].astype(np.float32) / 32767, RATE)
    assert abs(levels.lufs + 16) < 0.5
    assert svc.find_listen_clip(station, b) == clip  # the console's listen player
