"""The intelligibility core: Vietnamese-aware WER, the horn channel, and one real round trip
through the offline recogniser (natural speech against espeak-ng)."""

from __future__ import annotations

import importlib.util
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from loa.voice.intelligibility import (
    HORN_BAND_HZ,
    corpus_wer,
    edit_distance,
    horn_channel,
    horn_parts,
    normalize_words,
    wer,
)

ROOT = Path(__file__).resolve().parents[1]
RATE = 44100


def _bench():
    """benchmarks/intelligibility.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_intelligibility",
                                                  ROOT / "benchmarks" / "intelligibility.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---- normalization ----

def test_nfc_nfd_case_and_punctuation_do_not_count():
    written = "Kính thưa bà con nhân dân!"
    decomposed = unicodedata.normalize("NFD", "KÍNH THƯA, bà con — nhân dân...")
    assert decomposed != unicodedata.normalize("NFC", decomposed)  # really decomposed
    assert normalize_words(written) == normalize_words(decomposed)
    assert normalize_words("“Một cửa”, (liên thông); số: 15/KH-UBND") == \
        normalize_words("một cửa liên thông số 15 kh ubnd")
    assert wer(written, "kính thưa bà con nhân dân") == 0.0


@pytest.mark.parametrize("old, new", [("hoà", "hòa"), ("uỷ", "ủy"), ("thuỷ", "thủy"),
                                      ("khoẻ", "khỏe"), ("Hoá", "hóa"), ("toà", "tòa"),
                                      ("hoạ", "họa"), ("tuỳ", "tùy"), ("thuỵ", "thụy")])
def test_old_and_new_tone_placement_are_the_same_word(old, new):
    assert normalize_words(old) == normalize_words(new)
    assert wer(f"ngành văn {old} xã", f"ngành văn {new} xã") == 0.0


def test_different_tones_and_letters_stay_different():
    tones = ["ma", "má", "mà", "mả", "mã", "mạ"]
    keys = [normalize_words(t)[0] for t in tones]
    assert len(set(keys)) == len(tones)
    assert normalize_words("hòa") != normalize_words("hóa")
    assert normalize_words("ủy") != normalize_words("úy")
    assert normalize_words("thủy") != normalize_words("thùy")
    # not tones, but letters: horn, breve, circumflex, đ
    for a, b in [("tư", "tu"), ("ơn", "ôn"), ("ăn", "ân"), ("đà", "dà")]:
        assert normalize_words(a) != normalize_words(b), (a, b)


# ---- edit distance and WER ----

def test_edit_distance_counts_substitutions_insertions_deletions():
    a = "kính thưa bà con".split()
    assert edit_distance(a, a) == 0
    assert edit_distance(a, "kính mà bà con".split()) == 1  # substitution
    assert edit_distance(a, "kính thưa bà".split()) == 1  # deletion
    assert edit_distance(a, "kính thưa cả bà con".split()) == 1  # insertion
    assert edit_distance(a, []) == 4
    assert edit_distance([], a) == 4
    assert edit_distance(a, list(reversed(a))) == 4


def test_wer_of_the_issues_example():
    # espeak-ng's "Kính thưa bà con nhân dân" as the recogniser heard it (issue 13)
    assert wer("Kính thưa bà con nhân dân", "kính mà do lo sang á") == pytest.approx(5 / 6)
    assert wer("bà con", "bà con ơi nhớ nhé") == pytest.approx(3 / 2)  # insertions: > 1
    assert wer("", "") == 0.0
    assert wer("", "ồn") == 1.0


def test_corpus_wer_weighs_by_words_not_by_utterance():
    pairs = [("một", "hai"),  # 1 edit of 1 word
             ("kính thưa bà con nhân dân xã ba vì", "kính thưa bà con nhân dân xã ba vì")]
    assert corpus_wer(pairs) == pytest.approx(1 / 10)
    mean_of_utterances = sum(wer(r, h) for r, h in pairs) / len(pairs)
    assert mean_of_utterances == pytest.approx(0.5)
    assert corpus_wer([]) == 0.0


# ---- the horn channel ----

def _speechlike(seconds: float = 3.0, rate: int = RATE) -> np.ndarray:
    """Harmonics of a moving pitch, syllable-like bursts: broadband like a voice."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 40))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
    return (0.1 * x * envelope).astype(np.float32)


def test_horn_channel_is_deterministic_per_seed():
    x = _speechlike()
    a, b = horn_channel(x, RATE, seed=7), horn_channel(x, RATE, seed=7)
    assert a.dtype == np.float32 and len(a) == len(x)
    assert np.array_equal(a, b)
    c = horn_channel(x, RATE, seed=8)
    assert not np.array_equal(a, c)
    assert np.max(np.abs(a - c)) > 1e-3  # a different yard and different noise


def test_horn_channel_keeps_only_the_horns_band():
    from scipy.signal import welch

    x = np.random.default_rng(1).standard_normal(RATE * 4).astype(np.float32) * 0.1
    f, p_in = welch(x, RATE, nperseg=4096)
    _, p_out = welch(horn_channel(x, RATE, seed=3), RATE, nperseg=4096)
    lo, hi = HORN_BAND_HZ

    def share(p, a, b):
        return p[(f >= a) & (f < b)].sum() / p.sum()

    def density(p, a, b):
        return p[(f >= a) & (f < b)].mean()

    assert share(p_in, lo, hi) < 0.2  # white noise: mostly outside the band
    assert share(p_out, lo, hi) > 0.85
    assert share(p_out, 0, lo) < 0.02  # under 300 Hz
    assert share(p_out, hi, RATE / 2) < 0.12  # over 3400 Hz (the filter's skirt)
    assert share(p_out, 6000, RATE / 2) < 0.005
    mid = density(p_out, 800, 2000)
    assert 10 * np.log10(density(p_out, 50, 150) / mid) < -30
    assert 10 * np.log10(density(p_out, 7000, 9000) / mid) < -30


@pytest.mark.parametrize("snr_db", [15.0, 5.0])
def test_horn_noise_sits_snr_db_below_the_speech(snr_db):
    x = _speechlike()
    speech, noise = horn_parts(x, RATE, seed=2, snr_db=snr_db)
    heard = horn_channel(x, RATE, seed=2, snr_db=snr_db)
    assert np.max(np.abs(speech + noise)) < 0.99  # so no peak limiting: the sum is exact
    assert np.allclose(heard, speech + noise, atol=1e-6)
    measured = 10 * np.log10(np.mean(speech ** 2) / np.mean((heard - speech) ** 2))
    assert measured == pytest.approx(snr_db, abs=0.1)


def test_horn_channel_on_silence_and_on_loud_input():
    assert not np.any(horn_channel(np.zeros(RATE, dtype=np.float32), RATE, seed=1))
    assert len(horn_channel(np.zeros(0, dtype=np.float32), RATE)) == 0
    loud = horn_channel(_speechlike() * 9, RATE, seed=1)
    assert np.all(np.isfinite(loud)) and np.max(np.abs(loud)) <= 0.99 + 1e-6


# ---- the benchmark's fixed sentences ----

def test_benchmark_sentences_are_from_the_plans_and_read_as_loa_reads_them():
    from loa.audio.render import sentences
    from loa.plan import import_plan
    from loa.script.bulletin import drafts_from_plan
    from loa.station.wiring import normalizer

    bench = _bench()
    rows = bench.load_sentences(quick=False)
    quick = bench.load_sentences(quick=True)
    assert 12 <= len(rows) <= 20 and 4 <= len(quick) < len(rows)
    drafted = {}
    for plan in {row["plan"] for row in rows}:
        bulletins = drafts_from_plan(import_plan(ROOT / "loa" / "data" / "plans" / f"{plan}.txt"))
        drafted[plan] = {s for b in bulletins for s in sentences(b.text)}
    read = normalizer("north")
    for row in rows:
        assert row["text"] in drafted[row["plan"]], row  # a sentence loa drafted from the plan
        # the reference is what loa says, not the digits and abbreviations
        assert normalize_words(read(row["text"])) == normalize_words(row["spoken"]), row


def test_benchmark_hears_each_audio_once_and_keeps_what_it_heard(tmp_path):
    bench = _bench()
    x = _speechlike(1.0)
    key = bench.hashlib.sha256(bench.asr.to_asr_pcm(x, RATE).tobytes()).hexdigest()
    memo = tmp_path / "heard.json"
    memo.write_text(f'{{"{key}": "đã nghe từ lần trước"}}', encoding="utf-8")
    ears = bench.Ears(memo)
    # no recogniser says this: the words come from the memo, nothing was transcribed
    assert ears(x, RATE) == "đã nghe từ lần trước"
    assert (ears.new, ears.reused) == (0, 1)
    ears.save()  # nothing new: the file is left as it was
    assert "đã nghe từ lần trước" in memo.read_text(encoding="utf-8")


def test_benchmark_uses_cached_gtts_mp3_and_says_why_not_without(tmp_path):
    from helpers import espeak_mp3

    bench = _bench()
    text = "xin chào bà con"
    with pytest.raises(RuntimeError, match="no cached mp3"):
        bench.gtts_audio([text], tmp_path, try_online=False)
    name = bench.hashlib.sha256(text.encode()).hexdigest()[:24]
    (tmp_path / "gtts").mkdir()
    (tmp_path / "gtts" / f"{name}.mp3").write_bytes(espeak_mp3(text))
    (audio,) = bench.gtts_audio([text], tmp_path, try_online=False)
    assert 0.5 < len(audio) / RATE < 3.0  # the phrase, once, produced at the station rate
    assert np.max(np.abs(audio)) > 0.1


# ---- one real round trip through the recogniser ----

@pytest.fixture(scope="module")
def natural_clips():
    pytest.importorskip("vietasr")
    bench = _bench()
    try:
        clips = bench.fetch_reference(bench.cache_dir())
    except Exception as exc:  # the wheel is fetched from PyPI once, then cached
        pytest.skip(f"vieneu wheel not available: {exc}")
    return {name: (path, text) for name, path, text in clips}


def test_reference_clips_come_with_their_texts(natural_clips):
    assert len(natural_clips) == 11  # 6 samples + 5 examples/audio_ref
    assert natural_clips["example_4"][1].startswith("Tết là dịp mọi người háo hức")
    assert "chiến đấu" in natural_clips["example_ngoc_huyen"][1]
    assert natural_clips["Ly (nữ miền Bắc)"][1] == \
        "Chúng ta có thể áp dụng logic tương tự với người khác."


def test_natural_speech_is_understood_far_better_than_espeak(natural_clips, tmp_path):
    from loa.voice.intelligibility import transcribe

    bench = _bench()
    station = bench.fresh_station(tmp_path)
    from dataclasses import replace

    espeak = replace(station, engines=("espeak",))
    natural, synthetic = [], []
    for name in ("Ly (nữ miền Bắc)", "Đoan (nữ miền Nam)"):
        path, text = natural_clips[name]
        x, rate = bench.read_clip(path)
        natural.append((text, transcribe(x, rate)))
        (y,) = bench.body_audio(espeak, [text], tmp_path)
        synthetic.append((text, transcribe(y, RATE)))
    natural_wer, espeak_wer = corpus_wer(natural), corpus_wer(synthetic)
    assert natural_wer <= 0.2, natural
    assert espeak_wer >= natural_wer + 0.3, synthetic
