"""Broadcast-ready clips: loudness, peaks, cache integrity, fallback and upgrade."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from helpers import free_port
from scipy.signal import resample_poly

from loa.audio import AudioSettings, ClipStore, Renderer, read_wav
from loa.audio.batch import render_many
from loa.audio.loudness import integrated_lufs, true_peak
from loa.cli import main
from loa.plan import import_plan
from loa.script.bulletin import drafts_from_plan
from loa.script.normalize import Normalizer
from loa.voice import EngineChain, EspeakEngine, GttsEngine

REPO = Path(__file__).resolve().parents[1]
PLANS = ["ba-vi-2026", "ha-noi-2026", "hang-gon-2026", "nguyen-giap-2024"]


def independent_true_peak_dbtp(x: np.ndarray) -> float:
    """scipy's own polyphase resampler at 4x: not the code under test."""
    up = resample_poly(x.astype(np.float64), 4, 1)
    return 20 * np.log10(max(np.abs(up).max(), np.abs(x).max()))


@pytest.fixture(scope="module")
def all_plan_clips(tmp_path_factory):
    texts = [b.text for name in PLANS
             for b in drafts_from_plan(import_plan(REPO / f"loa/data/plans/{name}.txt"))]
    store_dir = tmp_path_factory.mktemp("clips")
    renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(store_dir),
                        Normalizer().normalize, AudioSettings(), intro="Đài truyền thanh xã.")
    outcomes = render_many(renderer, texts)
    return [o.clip for o in outcomes]


def test_every_bulletin_of_every_plan_is_broadcast_ready(all_plan_clips):
    assert len(all_plan_clips) == 17 + 19 + 7 + 14
    meter = pyloudnorm.Meter(44100)  # the reference implementation, not loa's meter
    for clip in all_plan_clips:
        samples, rate = read_wav(clip.path)
        x = samples.astype(np.float64) / 32768.0
        lufs = meter.integrated_loudness(x)
        assert abs(lufs - (-16.0)) <= 0.5, (clip.path, lufs)
        assert independent_true_peak_dbtp(x) <= -1.0, clip.path
        assert np.abs(samples).max() < 32767 * 10 ** (-1 / 20)  # nothing near clipping
        assert clip.lufs == pytest.approx(lufs, abs=0.01)  # the index tells the truth


def test_loas_meter_agrees_with_pyloudnorm_and_true_peak_with_scipy_oversampling():
    rng = np.random.default_rng(7)
    t = np.arange(44100 * 3) / 44100
    x = (0.5 * np.sin(2 * np.pi * 997 * t) + 0.05 * rng.standard_normal(len(t))).astype(
        np.float32)
    x[44100:44200] *= 1.8  # a burst with inter-sample peaks
    assert integrated_lufs(x, 44100) == pytest.approx(
        pyloudnorm.Meter(44100).integrated_loudness(x.astype(np.float64)), abs=0.01)
    ours = 20 * np.log10(true_peak(x).max())
    assert ours == pytest.approx(independent_true_peak_dbtp(x), abs=0.2)


def test_clip_structure_chime_intro_body_outro(tmp_path):
    renderer = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path), str.strip,
                        AudioSettings(), intro="Đài truyền thanh xã Ba Vì xin thông báo.",
                        outro="Xin cảm ơn bà con.")
    plain = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path), str.strip,
                     AudioSettings(chime=False))
    full = renderer.render("Bà con nộp hồ sơ trực tuyến. Rất thuận tiện.").clip
    bare = plain.render("Bà con nộp hồ sơ trực tuyến. Rất thuận tiện.").clip
    assert full.hash != bare.hash
    assert full.seconds > bare.seconds + 1.5 + 2.0  # chime, intro and outro around the body
    x, rate = read_wav(full.path)
    # the clip opens with the chime: tonal energy at 784 Hz in its first 0.4 s
    head = x[: int(0.4 * rate)].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(head))
    freqs = np.fft.rfftfreq(len(head), 1 / rate)
    assert abs(freqs[np.argmax(spectrum)] - 784) < 15


def test_horn_preset_keeps_speech_band(tmp_path):
    text = "Kính thưa bà con, đây là bản tin về phòng chống thiên tai."
    def band_share(preset):
        r = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path / preset), str.strip,
                     AudioSettings(preset=preset, chime=False))
        x, rate = read_wav(r.render(text).clip.path)
        spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
        f = np.fft.rfftfreq(len(x), 1 / rate)
        return spec[(f < 150) | (f > 6000)].sum() / spec.sum()
    assert band_share("horn") < band_share("none") / 3


def test_mp3_archive_beside_the_wav(tmp_path):
    r = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path), str.strip,
                 AudioSettings(), mp3=True)
    clip = r.render("Bản tin lưu trữ.").clip
    mp3 = clip.path.with_suffix(".mp3")
    assert mp3.exists() and mp3.read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    from pydub import AudioSegment

    assert abs(len(AudioSegment.from_mp3(mp3)) / 1000 - clip.seconds) < 0.1


def test_a_damaged_clip_is_not_trusted_and_is_made_again(tmp_path):
    r = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path), str.strip, AudioSettings())
    first = r.render("Bà con chú ý.")
    with open(first.clip.path, "r+b") as fh:
        fh.truncate(first.clip.path.stat().st_size // 2)
    assert r.lookup("Bà con chú ý.") is None
    again = r.render("Bà con chú ý.")
    assert not again.cached and abs(read_wav(again.clip.path)[0].size / 44100
                                    - again.clip.seconds) < 1e-3


def test_prune_keeps_what_schedules_need(tmp_path):
    store = ClipStore(tmp_path)
    r = Renderer(EngineChain([EspeakEngine()]), store, str.strip, AudioSettings())
    keep = r.render("Giữ lại.").clip
    drop = r.render("Bỏ đi.").clip
    (tmp_path / ".stray.wav.123.part").write_bytes(b"half")
    removed, freed = store.prune({keep.hash})
    assert removed == 1 and freed > 0
    assert keep.path.exists() and not drop.path.exists()
    assert not (tmp_path / ".stray.wav.123.part").exists()
    assert r.lookup("Giữ lại.") is not None


# --- the CLI against a fake Google: offline, hanging, refusing; then back -----------------

@pytest.fixture
def station(tmp_path, data_dir):
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def _store_engines(data_dir) -> dict[str, str]:
    store = ClipStore(data_dir / "clips")
    try:
        return {c.hash: c.engine for c, _, _ in store.all()}
    finally:
        store.close()


@pytest.mark.parametrize("mode", ["down", "hang", "429"])
def test_render_offline_then_upgrade_exactly_those(station, data_dir, fake_google, monkeypatch,
                                                   capsys, mode):
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "1")
    # One bulletin is rendered while Google answers ...
    bfile = station.parent / "bulletins" / "ba-vi-2026.yaml"
    text = bfile.read_text(encoding="utf-8")
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    only_one = station.read_text(encoding="utf-8").replace(
        "    per_session: 2", "    per_session: 2\n    only: [IV.1.a]")
    station.with_name("one.yaml").write_text(only_one, encoding="utf-8")
    assert main(["render", str(station.with_name("one.yaml"))]) == 0
    assert list(_store_engines(data_dir).values()) == ["gtts"]
    capsys.readouterr()
    # ... then Google is down, hangs, or refuses: the rest is read offline, and said so.
    if mode == "down":
        monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    else:
        fake_google.mode = mode
    t = time.monotonic()
    assert main(["render", str(station)]) == 0
    out = capsys.readouterr().out
    assert time.monotonic() - t < 60
    assert "Đã đọc 3 bản tin mới, 1 bản tin có sẵn" in out
    assert "Không dùng được: bộ đọc Google (trực tuyến) " in out
    assert "3 bản tin đang dùng bộ đọc dự phòng" in out and "--upgrade" in out
    before = _store_engines(data_dir)
    assert sorted(before.values()) == ["espeak", "espeak", "espeak", "gtts"]
    # Google is back: --upgrade re-reads exactly the three espeak clips.
    fake_google.mode = "ok"
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    fake_google.requests.clear()
    assert main(["render", str(station), "--upgrade"]) == 0
    out = capsys.readouterr().out
    assert "Đọc lại bằng bộ đọc tốt hơn: 3 bản tin" in out
    after = _store_engines(data_dir)
    new = {k: v for k, v in after.items() if k not in before}
    assert sorted(new.values()) == ["gtts"] * 3
    # the gTTS clip made first was not touched, and the playing side now finds gTTS clips
    assert set(before) <= set(after)
    from loa.schedule import load_program_bulletins, load_schedule
    from loa.station.wiring import ChildRendering

    sched = load_schedule(station)
    at_air = ChildRendering(station, sched.station).at_air
    assert {at_air(b).engine for b in load_program_bulletins(sched)["kstthc-2026"]} == {"gtts"}
    assert bfile.read_text(encoding="utf-8") == text  # rendering never edits bulletins


def test_kill_during_rendering_leaves_no_trusted_partial_clip(tmp_path):
    """kill -9 a renderer at several points; every clip the index trusts must be whole."""
    store_dir = tmp_path / "clips"
    script = tmp_path / "render.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from loa.audio import AudioSettings, ClipStore, Renderer
from loa.audio.batch import render_many
from loa.plan import import_plan
from loa.script.bulletin import drafts_from_plan
from loa.script.normalize import Normalizer
from loa.voice import EngineChain, EspeakEngine
if __name__ == "__main__":
    plan = Path({str(REPO)!r}) / "loa/data/plans/ha-noi-2026.txt"
    texts = [b.text for b in drafts_from_plan(import_plan(plan))]
    r = Renderer(EngineChain([EspeakEngine()]), ClipStore(Path({str(store_dir)!r})),
                 Normalizer().normalize, AudioSettings())
    print("start", flush=True)
    render_many(r, texts)
    print("done", flush=True)
""", encoding="utf-8")
    def indexed() -> int:
        try:
            db = sqlite3.connect(f"file:{store_dir / 'index.sqlite3'}?mode=ro", uri=True)
            try:
                return db.execute("SELECT count(*) FROM clips").fetchone()[0]
            finally:
                db.close()
        except sqlite3.OperationalError:  # not made yet, or busy for a moment
            return 0

    # Each round resumes the last one's store and is killed once it has indexed more
    # clips, before the 19th: always in the middle of rendering, never after it.
    for k in (1, 6, 11, 16):
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                start_new_session=True)
        assert proc.stdout.readline().strip() == b"start"
        deadline = time.monotonic() + 240
        while indexed() < k and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the renderer finished before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the renderer and its worker processes
        assert proc.wait() == -signal.SIGKILL  # killed, not finished
        assert k <= indexed() < 19
        store = ClipStore(store_dir)
        assert store.check() == []  # every indexed clip decodes, is whole, is not silent
        store.close()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=300)
    assert done.stdout.split() == [b"start", b"done"]
    store = ClipStore(store_dir)
    assert len(store.all()) == 19 and store.check() == []
    store.close()


def test_gtts_engine_object_survives_a_process_pool():
    """render_many sends work to worker processes; engines must not break that."""
    import pickle

    pickle.loads(pickle.dumps(GttsEngine(timeout=1)))


def test_clips_cli_list_check_play_prune(station, data_dir, monkeypatch, capsys):
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    assert main(["render", str(station)]) == 0
    capsys.readouterr()
    assert main(["clips", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[-1].startswith("4 đoạn âm thanh") and "espeak" in listing[0]
    key = listing[0].split()[0]
    assert main(["clips", "check"]) == 0 and "đều tốt" in capsys.readouterr().out
    monkeypatch.setenv("HOME", str(data_dir))
    assert main(["clips", "play", key[:8], "--sink", "wav"]) == 0
    assert list((data_dir / "played").glob(f"clip_{key}*.wav"))
    # a schedule that needs only one bulletin keeps one clip
    one = station.read_text(encoding="utf-8").replace(
        "    per_session: 2", "    per_session: 2\n    only: [IV.1.a]")
    station.with_name("one.yaml").write_text(one, encoding="utf-8")
    capsys.readouterr()
    assert main(["clips", "prune", str(station.with_name("one.yaml"))]) == 0
    assert "Đã xóa 3 đoạn âm thanh" in capsys.readouterr().out
    store = ClipStore(data_dir / "clips")
    assert len(store.all()) == 1
    store.close()
    # a clip damaged on disk is reported with what to do
    clip = next((data_dir / "clips").glob("*.wav"))
    clip.write_bytes(clip.read_bytes()[:2000] + b"\0" * (clip.stat().st_size - 2000))
    assert main(["clips", "check"]) == 2
    assert "hỏng" in capsys.readouterr().err


def test_clip_store_says_why_in_vietnamese(tmp_path):
    import errno

    from loa.audio.cache import reason_vi

    r = Renderer(EngineChain([EspeakEngine()]), ClipStore(tmp_path), str.strip, AudioSettings())
    clip = r.render("Bà con chú ý.").clip
    clip.path.unlink()
    clip.path.mkdir()  # the clip's file became a folder: the real OS error, told in Vietnamese
    assert r.store.verify(clip) == "không đọc được tệp (đây là một thư mục, cần một tệp)"
    assert reason_vi(sqlite3.OperationalError("database is locked")) == (
        "chỉ mục đang bị chương trình khác khóa")
    assert reason_vi(OSError(errno.ENOSPC, "No space left on device")) == (
        "đĩa đã đầy, không ghi được")
    assert reason_vi(OSError(errno.EXDEV, "Invalid cross-device link")) == (
        "lỗi hệ thống: Invalid cross-device link")  # unknown to loa: kept, said as such


def test_light_filters_are_scipys_own_and_production_loads_no_scipy_signal():
    """loa.audio.dsp stands in for scipy.signal/ndimage (1.8 s to import): same results."""
    import scipy.ndimage
    import scipy.signal

    from loa.audio import dsp

    rng = np.random.default_rng(3)
    x = rng.standard_normal(50_001)
    sos = np.array([[1.5, -2.7, 1.2, 1, -1.9, 0.91], [1, -2, 1, 1, -1.99, 0.99]])
    assert np.array_equal(dsp.sosfilt(sos, x), scipy.signal.sosfilt(sos, x))
    for up, down in ((2, 1), (147, 80), (1, 2)):
        ours = dsp.resample_poly(x.astype(np.float32), up, down)
        theirs = resample_poly(x.astype(np.float32), up, down)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if (up, down) == (2, 1):  # numpy's own 2x (espeak-ng's 22.05 kHz): float32 sums
            assert np.allclose(ours, theirs, rtol=0, atol=1e-6)
        else:  # scipy's kernel itself
            assert np.array_equal(ours, theirs)
    assert np.allclose(dsp.firwin_kaiser(48, 0.25, 8.0),
                       scipy.signal.firwin(48, 0.25, window=("kaiser", 8.0)), atol=1e-15)
    for n in (1, 7, 353, 354, 5000):
        y = rng.standard_normal(n)
        assert np.array_equal(dsp.moving_max(y, 353),
                              scipy.ndimage.maximum_filter1d(y, 353, mode="nearest"))
        assert np.allclose(dsp.moving_mean(y, 177),
                           scipy.ndimage.uniform_filter1d(y, 177, mode="nearest"))
    for rate in (16000, 22050, 24000, 44100, 48000):  # loa's K-weighting is pyloudnorm's
        from loa.audio.loudness import _k_weighting

        meter = pyloudnorm.Meter(rate)
        ref = np.vstack([scipy.signal.tf2sos(f.b, f.a) for f in meter._filters.values()])
        assert np.allclose(_k_weighting(rate), ref, rtol=1e-12, atol=1e-12)
    code = ("import sys, loa.audio.produce as p, numpy as np; p.warm(44100); "
            "p.loudness.normalize(np.ones(44100, dtype=np.float32) * 0.1, 44100); "
            "print(sorted(m for m in ('scipy.signal', 'scipy.ndimage', 'pyloudnorm') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "[]"


def test_a_cached_clip_is_found_without_running_the_normalizer(tmp_path):
    """Readings are remembered by the rules' fingerprint: the cached path builds no
    Normalizer; another lexicon is another fingerprint, read afresh."""
    from loa.script.reading import Reading

    text = "UBND xã họp ngày 05/3/2026 với 1.500 người."
    store = ClipStore(tmp_path / "clips")
    first = Reading()
    made = Renderer(EngineChain([EspeakEngine()]), store, first, AudioSettings(),
                    intro="Đài truyền thanh xã.").render(text)
    assert not made.cached
    assert store.reading(hashlib_key(first.fingerprint, text)) == Normalizer().normalize(text)

    again = Reading()
    assert again.fingerprint == first.fingerprint
    found = Renderer(EngineChain([EspeakEngine()]), store, again, AudioSettings(),
                     intro="Đài truyền thanh xã.").lookup(text)
    assert found is not None and found.hash == made.clip.hash
    assert again._normalizer is None  # no rule ran

    lexicon = tmp_path / "lex.yaml"
    lexicon.write_text("UBND: ủy ban\n", encoding="utf-8")
    other = Reading(lexicon_files=[lexicon])
    assert other.fingerprint != first.fingerprint
    renderer = Renderer(EngineChain([EspeakEngine()]), store, other, AudioSettings(),
                        intro="Đài truyền thanh xã.")
    assert renderer.lookup(text) is None  # "ủy ban xã ...": another text, no clip yet
    assert other._normalizer is not None
    assert renderer.spoken(text).startswith("Ủy ban xã")


def hashlib_key(fingerprint: str, text: str) -> str:
    import hashlib

    return hashlib.sha256(f"{fingerprint}\0{text}".encode()).hexdigest()


def test_a_scipy_kernel_whose_signature_moved_falls_back_to_the_public_api(monkeypatch):
    import scipy.signal

    from loa.audio import dsp

    class Moved:  # a later scipy: same module names, other signatures
        def __getattr__(self, name):
            def call(*args, **kwargs):
                raise TypeError(f"{name}() takes other arguments now")
            return call

    monkeypatch.setattr(dsp, "_kernel", lambda name: Moved())
    rng = np.random.default_rng(7)
    x = rng.standard_normal(4000)
    sos = scipy.signal.butter(2, 0.1, output="sos")
    assert np.allclose(dsp.sosfilt(sos, x), scipy.signal.sosfilt(sos, x))
    assert np.allclose(dsp.resample_poly(x, 3, 2), scipy.signal.resample_poly(x, 3, 2))


def test_loa_say_reads_the_text_once(tmp_path):
    """assemble() without an intro or outro used to put the body in their places too:
    `loa say` wrote the text three times."""
    from loa.audio import assemble
    from loa.audio.produce import decode, trim_silence

    speech = EspeakEngine().synthesize("Kính thưa bà con nhân dân")
    settings = AudioSettings(chime=False)
    voiced = len(trim_silence(decode(speech, settings.rate), settings.rate,
                              settings.silence_threshold_dbfs))
    assert len(assemble([speech], settings)) == len(assemble([speech], settings, [], []))
    assert len(assemble([speech], settings)) < voiced + settings.rate  # once, and a gap
    out = tmp_path / "thu.wav"
    assert main(["say", "Kính thưa bà con nhân dân", "-o", str(out), "--engine", "espeak",
                 "--no-chime"]) == 0
    samples, rate = read_wav(out)
    assert len(samples) / rate < voiced / settings.rate + 1.0
