from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest
from fakeclock import FakeClock
from helpers import free_port

from loa.audio.produce import decode
from loa.clock import DEFAULT_TZ
from loa.voice import EngineChain, EngineError, EspeakEngine, GttsEngine


def test_espeak_speaks_vietnamese():
    speech = EspeakEngine("north").synthesize("Kính thưa bà con nhân dân trong xã")
    assert speech.engine == "espeak" and speech.format == "wav"
    x = decode(speech)
    assert 1.0 < len(x) / 44100 < 6.0
    assert np.sqrt(np.mean(x**2)) > 0.01  # not silence


def test_espeak_in_process_library_matches_the_executable():
    """A Pi without the apt package speaks through PyPI's libespeak-ng, same voices."""
    lib = EspeakEngine("north", backend="library").synthesize("Xin chào bà con")
    exe = EspeakEngine("north", backend="exe").synthesize("Xin chào bà con")
    assert lib.engine == exe.engine == "espeak" and lib.voice == "vi"
    from loa.audio.produce import trim_silence

    a, b = (trim_silence(decode(s), 44100, -45) for s in (lib, exe))
    assert abs(len(a) - len(b)) / len(b) < 0.1  # same voice, same speed (the exe pads silence)
    assert np.sqrt(np.mean(a**2)) > 0.01


def test_espeak_southern_voice_differs():
    north = EspeakEngine("north").synthesize("ba con")
    south = EspeakEngine("south").synthesize("ba con")
    assert south.voice == "vi-vn-x-south" and north.data != south.data


def test_gtts_client_against_fake_google(fake_google, mp3_bytes):
    engine = GttsEngine(timeout=5, endpoint=fake_google.endpoint)
    speech = engine.synthesize("Xin chào bà con")
    assert speech.engine == "gtts" and speech.format == "mp3"
    assert speech.data == mp3_bytes
    # the real client sent Google's RPC, with our text and language in it
    assert "jQ1olc" in fake_google.requests[0]
    import json
    from urllib.parse import unquote

    rpc = json.loads(unquote(fake_google.requests[0]).removeprefix("f.req=").rstrip("&"))
    assert json.loads(rpc[0][0][1])[:2] == ["Xin chào bà con", "vi"]
    assert len(decode(speech)) > 44100 * 0.5


def test_gtts_long_text_is_sent_in_chunks(fake_google):
    text = "Bà con thực hiện thủ tục hành chính trực tuyến. " * 6
    GttsEngine(timeout=5, endpoint=fake_google.endpoint).synthesize(text)
    assert len(fake_google.requests) >= 3  # gTTS posts at most 100 characters at a time


def test_unreachable_google_is_classified_offline():
    engine = GttsEngine(timeout=2, endpoint=f"http://127.0.0.1:{free_port()}/x")
    with pytest.raises(EngineError) as exc:
        engine.synthesize("xin chào")
    assert exc.value.kind == "offline"


def test_hanging_google_times_out(fake_google):
    fake_google.mode = "hang"
    engine = GttsEngine(timeout=1, endpoint=fake_google.endpoint, attempts=1)
    t = time.monotonic()
    with pytest.raises(EngineError) as exc:
        engine.synthesize("xin chào")
    assert exc.value.kind == "timeout"
    assert time.monotonic() - t < 10


def test_rate_limit_is_classified(fake_google):
    fake_google.mode = "429"
    with pytest.raises(EngineError) as exc:
        GttsEngine(timeout=2, endpoint=fake_google.endpoint, attempts=1).synthesize("xin chào")
    assert exc.value.kind == "rate-limited"


def test_rate_limit_is_retried_with_growing_waits(fake_google, mp3_bytes):
    fake_google.script = ["429", "429"]
    waits: list[float] = []
    engine = GttsEngine(timeout=2, endpoint=fake_google.endpoint, attempts=3, backoff=0.5,
                        sleep=waits.append)
    assert engine.synthesize("xin chào").data == mp3_bytes
    assert waits == [0.5, 1.0] and len(fake_google.requests) == 3


def test_unreachable_google_is_not_retried():
    waits: list[float] = []
    engine = GttsEngine(timeout=2, endpoint=f"http://127.0.0.1:{free_port()}/x", attempts=3,
                        sleep=waits.append)
    with pytest.raises(EngineError):
        engine.synthesize("xin chào")
    assert waits == []


@pytest.mark.parametrize("mode", ["down", "hang", "garbage"])
def test_chain_falls_back_to_espeak(fake_google, mode):
    endpoint = fake_google.endpoint
    if mode == "down":
        endpoint = f"http://127.0.0.1:{free_port()}/x"
    else:
        fake_google.mode = mode
    clock = FakeClock(datetime(2026, 11, 22, 8, 0, tzinfo=DEFAULT_TZ))
    chain = EngineChain([GttsEngine(timeout=1, endpoint=endpoint, attempts=1), EspeakEngine()],
                        clock=clock)
    result = chain.synthesize("Kính thưa bà con")
    assert result.speech.engine == "espeak"
    assert result.fell_back and result.failures[0].engine == "gtts"
    # while Google is down, the next bulletin does not wait for another timeout
    fake_google.requests.clear()
    t = time.monotonic()
    again = chain.synthesize("Xin cảm ơn bà con")
    assert again.speech.engine == "espeak" and time.monotonic() - t < 1
    assert fake_google.requests == []
    # after the cooldown, Google is tried again (and answers, now)
    fake_google.mode = "ok"
    chain.engines[0].endpoint = fake_google.endpoint
    clock.sleep(chain.cooldown + 1)
    assert chain.synthesize("Xin chào").speech.engine == "gtts"


def test_cli_say_uses_google_when_it_answers(fake_google, data_dir, tmp_path, monkeypatch, capsys):
    from loa.audio.wav import read_wav, read_wav_comment
    from loa.cli import main

    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    out = tmp_path / "loi.wav"
    assert main(["say", "Kính thưa bà con", "-o", str(out)]) == 0
    assert "bộ đọc Google (trực tuyến)" in capsys.readouterr().out
    assert read_wav_comment(out) == "loa engine=gtts voice=vi-com.vn"
    samples, rate = read_wav(out)
    assert rate == 44100 and len(samples) > rate  # chime + speech
    assert np.abs(samples).max() < 32767 * 10 ** (-1 / 20) + 1  # peaks stay under -1 dBFS


def test_cli_say_falls_back_to_espeak_and_says_so(data_dir, tmp_path, monkeypatch, capsys):
    from loa.audio.wav import read_wav_comment
    from loa.cli import main

    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    out = tmp_path / "loi.wav"
    assert main(["say", "Ngày 09/6/2025 UBND xã họp", "-o", str(out), "--voice", "south"]) == 0
    said = capsys.readouterr().out
    assert ("Không dùng được: bộ đọc Google (trực tuyến) không kết nối được" in said
            and "bộ đọc espeak-ng (ngoại tuyến)" in said and "gtts" not in said)
    assert read_wav_comment(out) == "loa engine=espeak voice=vi-vn-x-south"


def test_cli_normalize_reads_stdin(monkeypatch, capsys):
    import io

    from loa.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("UBND xã họp ngày 09/6/2025."))
    assert main(["normalize"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Ủy ban nhân dân xã họp ngày mùng chín tháng sáu năm hai nghìn")


def test_piper_loads_a_local_model_and_speaks(tmp_path):
    from tiny_piper import RATE, build

    from loa.voice.piper_engine import PiperEngine

    model = build(tmp_path / "voices")
    speech = PiperEngine(model).synthesize("Xin chào bà con")
    assert (speech.engine, speech.voice, speech.format) == ("piper", "vi_VN-tiny-low", "wav")
    from loa.audio.wav import parse_wav

    pcm, rate, _ = parse_wav(speech.data)
    assert rate == RATE and np.abs(pcm).max() > 5000
    short = len(pcm)
    longer = len(parse_wav(PiperEngine(model).synthesize("Xin chào bà con nhân dân trong toàn "
                                                         "xã").data)[0])
    faster = len(parse_wav(PiperEngine(model, speed=2.0).synthesize("Xin chào bà con").data)[0])
    assert longer > short * 1.5 and abs(faster - short / 2) < 300


def test_piper_without_its_model_fails_over_to_espeak(tmp_path):
    from loa.voice.piper_engine import PiperEngine

    chain = EngineChain([PiperEngine(tmp_path / "khong-co.onnx"), EspeakEngine()])
    result = chain.synthesize("Xin chào")
    assert result.speech.engine == "espeak" and result.failures[0].engine == "piper"


def test_schedule_with_piper_needs_its_model(tmp_path, capsys):
    import shutil
    from pathlib import Path

    from tiny_piper import build

    from loa.cli import main

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "schedules", tmp_path / "s")
    sched = tmp_path / "s" / "ba-vi.yaml"
    text = sched.read_text(encoding="utf-8").replace("engines: [gtts, espeak]",
                                                     "engines: [piper, espeak]")
    sched.write_text(text, encoding="utf-8")
    assert main(["validate", str(sched)]) == 2
    assert "piper_model" in capsys.readouterr().err
    build(tmp_path / "s" / "voices")
    sched.write_text(text.replace("  chime", "  piper_model: voices/vi_VN-tiny-low.onnx\n  chime")
                     if "  chime" in text else text.replace(
                         "  speed: 1.0", "  speed: 1.0\n  piper_model: voices/vi_VN-tiny-low.onnx"),
                     encoding="utf-8")
    assert main(["validate", str(sched)]) == 0


def _counting_espeak(tmp_path):
    """The real espeak-ng behind a shim that counts its runs."""
    import shutil
    import stat

    log = tmp_path / "runs.log"
    shim = tmp_path / "espeak-ng"
    shim.write_text(f"#!/bin/sh\necho run >> {log}\nexec {shutil.which('espeak-ng')} \"$@\"\n",
                    encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return str(shim), lambda: len(log.read_text().splitlines()) if log.exists() else 0


def test_one_espeak_run_per_clip_and_the_intro_once(tmp_path):
    from loa.audio import AudioSettings, ClipStore, Renderer
    from loa.audio.render import sentences

    exe, runs = _counting_espeak(tmp_path)
    r = Renderer(EngineChain([EspeakEngine(executable=exe, backend="exe")]),
                 ClipStore(tmp_path / "clips"), str.strip, AudioSettings(),
                 intro="Đài truyền thanh xã xin thông báo.")
    first = "Bà con chú ý. Ngày mai cắt điện. Xin cảm ơn!"
    assert len(sentences(first)) == 3
    r.render(first)
    assert runs() == 2  # the body in one run, the intro in one
    r.render("Họp tổ dân phố lúc bảy giờ. Mời bà con đến đúng giờ.")
    assert runs() == 3  # the intro was already said in this run


def test_one_call_sounds_like_sentences_joined_with_the_gap():
    from loa.audio.produce import speech_track
    from loa.audio.render import sentences
    from loa.audio.settings import TRIM_KEEP_S, AudioSettings

    text = ("Kính thưa bà con nhân dân! Ủy ban xã thông báo lịch tiêm phòng. Bà con đưa trẻ "
            "đến trạm y tế: mang theo sổ tiêm. Xin cảm ơn bà con đã lắng nghe.")
    settings, engine = AudioSettings(), EspeakEngine("north")
    parts = sentences(text)
    separate = speech_track([engine.synthesize(s) for s in parts], settings)
    gap = settings.sentence_gap_s + 2 * TRIM_KEEP_S
    whole = speech_track([engine.synthesize_sentences(parts, gap)], settings)
    assert abs(len(whole) - len(separate)) / len(separate) < 0.03
    # another gap goes through SSML breaks: longer by about the extra pauses
    wide = speech_track([engine.synthesize_sentences(parts, gap + 0.5)], settings)
    assert 0.5 * 3 * 0.7 < (len(wide) - len(whole)) / 44100 < 0.5 * 3 * 1.5


def test_ssml_text_is_escaped_and_the_library_reads_it_too():
    parts = ["Giá 5 < 7 & rẻ.", "Hết <b>giờ</b>."]
    exe = decode(EspeakEngine(backend="exe").synthesize_sentences(parts, 1.0))
    lib = decode(EspeakEngine(backend="library").synthesize_sentences(parts, 1.0))
    plain = decode(EspeakEngine(backend="exe").synthesize_sentences(parts, 0.45))
    for x in (exe, lib):
        assert np.sqrt(np.mean(x**2)) > 0.01
        assert len(x) > len(plain) + 0.3 * 44100  # the break was heard, the text read
    assert abs(len(exe) - len(lib)) / len(exe) < 0.1


def test_engines_have_vietnamese_labels():
    from loa.voice import engine_label_vi
    from loa.voice.piper_engine import PiperEngine

    assert EspeakEngine().label_vi == engine_label_vi("espeak") == "espeak-ng (ngoại tuyến)"
    assert GttsEngine().label_vi == engine_label_vi("gtts") == "Google (trực tuyến)"
    assert PiperEngine("x.onnx").label_vi == engine_label_vi("piper")
    assert engine_label_vi("la") == "la"


def test_engine_errors_in_vietnamese_for_the_officer():
    engine = GttsEngine(timeout=2, endpoint=f"http://127.0.0.1:{free_port()}/x", attempts=1)
    with pytest.raises(EngineError) as exc:
        engine.synthesize("xin chào")
    assert exc.value.message_vi == "bộ đọc Google (trực tuyến) không kết nối được"
    assert EngineError("chain", "broken", "no engine to try").message_vi == (
        "không bộ đọc nào đọc được")


# --- espeak-ng settings kept from the intelligibility measurements (issue 13) ---------------


def test_espeak_reads_at_the_measured_rate_and_word_gap():
    from loa.voice.espeak import BASE_WPM, WORD_GAP

    engine = EspeakEngine("north")
    assert (engine.words_per_minute, engine.word_gap) == (BASE_WPM, WORD_GAP)
    assert EspeakEngine("north", speed=0.8).words_per_minute == round(BASE_WPM * 0.8)
    # a wider gap between syllables makes the same words longer, on both backends alike
    from loa.audio.produce import trim_silence

    text = "Kính thưa bà con nhân dân trong xã"
    lengths = {}
    for backend in ("exe", "library"):
        for gap in (0, 8):
            x = decode(EspeakEngine("north", backend=backend, word_gap=gap).synthesize(text))
            lengths[backend, gap] = len(trim_silence(x, 44100, -45)) / 44100
    for backend in ("exe", "library"):
        # 8 syllables: 7 gaps of 80 ms (espeak-ng stretches them a little)
        assert 0.4 < lengths[backend, 8] - lengths[backend, 0] < 1.2, lengths
    assert abs(lengths["exe", 8] - lengths["library", 8]) / lengths["exe", 8] < 0.1


def test_clips_read_with_other_espeak_settings_are_made_again(tmp_path):
    from loa.audio import AudioSettings, ClipStore, Renderer

    store = ClipStore(tmp_path / "clips")
    old = EspeakEngine("north", word_gap=0)
    old.words_per_minute = 150  # as loa read before issue 13: clips made then keep their key
    assert old.key_tag == ""
    new = EspeakEngine("north", word_gap=8)
    assert new.key_tag != ""
    text = "Bà con chú ý."
    made = Renderer(EngineChain([old]), store, str.strip, AudioSettings()).render(text)
    assert not made.cached
    assert Renderer(EngineChain([old]), store, str.strip, AudioSettings()).lookup(text)
    assert Renderer(EngineChain([new]), store, str.strip, AudioSettings()).lookup(text) is None


@pytest.mark.parametrize("wpm, gap", [(150, 0), (150, 8), (120, 0)])
def test_one_call_keeps_the_sentence_gap_at_other_settings(wpm, gap):
    """The SSML break is sized for the rate and word gap (espeak-ng stretches it)."""
    from loa.audio.produce import speech_track
    from loa.audio.render import sentences
    from loa.audio.settings import TRIM_KEEP_S, AudioSettings

    text = ("Kính thưa bà con nhân dân! Ủy ban xã thông báo lịch tiêm phòng. Bà con đưa trẻ "
            "đến trạm y tế: mang theo sổ tiêm. Xin cảm ơn bà con đã lắng nghe.")
    settings = AudioSettings()
    engine = EspeakEngine("north", word_gap=gap)
    engine.words_per_minute = wpm
    parts = sentences(text)
    separate = speech_track([engine.synthesize(s) for s in parts], settings)
    gap_s = settings.sentence_gap_s + 2 * TRIM_KEEP_S
    whole = speech_track([engine.synthesize_sentences(parts, gap_s)], settings)
    assert abs(len(whole) - len(separate)) / len(separate) < 0.03
