"""How well a listener would understand loa's voices: synthesize -> (horn channel) -> an
offline Vietnamese recogniser -> word error rate. Prints ONE JSON object.

Usage: python benchmarks/intelligibility.py [--quick] [--seed N] [--piper MODEL.onnx]...
       (needs the `eval` extra: pip install 'loa[eval]', i.e. viet-asr==0.1.0.dev11)

What is measured
- Sentences: benchmarks/intelligibility_sentences.yaml, from the bulletins loa drafts of
  the sample plans (12; --quick: the 5 marked quick). Each has its written `text` (what
  the engine is given, through loa's reading rules) and its `spoken` form (the right
  reading, checked by hand): WER is always against `spoken`, so a number or abbreviation
  read wrongly counts as an error. `reading_mismatches` lists sentences whose reading by
  today's loa differs from `spoken`.
- Each engine/setting loa offers, as loa produces the bulletin's body (its reading rules,
  the engine, trimming, sentence pauses, loudness, the station's preset; no chime and no
  intro): `wer_clean` on the clip, `wer_horn` through the seeded horn channel
  (loa.voice.intelligibility.horn_channel: 300-3400 Hz, reverb, noise at 15 dB SNR).
  "espeak-default" is what a fresh station uses (read from loa's defaults.yaml and
  EspeakEngine, so it follows when they change); "espeak-9baf9f0" is espeak-ng as loa
  ran it at commit 9baf9f0 (before issue 13), pinned here so the "before" stays put.
  piper: each model given with --piper / $LOA_BENCH_PIPER (os.pathsep-separated) or
  found in loa's data folder (voices/*.onnx); else listed as skipped. gTTS: cached mp3s
  in the cache's gtts/ folder, else one try online (5 s); else listed as not measured.
- Natural speech: the sample clips of the vieneu wheel (Apache-2.0), fetched with
  `pip download --no-deps vieneu==3.8.3` into $LOA_BENCH_CACHE (default
  ~/.cache/loa-bench), never committed. Texts: the .txt beside each sample (the same
  as vieneu/assets/voices.json); the examples/audio_ref texts are in the package's own
  code (apps/gradio_main.py, examples/main.py). Their references are loa's reading of
  those texts ("thế kỷ 19" -> "thế kỷ mười chín"), as a reader says them.
  `wer_reference_clean` / `wer_reference_horn`: the clips as they are;
  `wer_recorded_horn`: the same clips imported with loa.audio.recording.import_recording
  and levelled by loa's production (body only), then the horn channel (same seeds).
- Figures are corpus WER (total edits / total reference words), fractions 0-1 (may exceed
  1 with insertions). One horn seed per clip: seed + its index (--seeds K: K horn
  channels per clip, pooled, each round's figure in wer_horn_by_seed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402

from loa.voice import intelligibility as asr  # noqa: E402

SENTENCES = Path(__file__).with_name("intelligibility_sentences.yaml")
VIENEU = "vieneu==3.8.3"
VIENEU_WHEEL = "vieneu-3.8.3-py3-none-any.whl"
HORN = {"band_hz": list(asr.HORN_BAND_HZ), "rt60_s": 0.5, "wet": 0.35, "snr_db": 15.0}
# espeak-ng as loa ran it at 9baf9f0: the executable, voice vi, 150 words a minute
# (speed 1.0), one call per sentence, levelled at -16 LUFS / -1 dBTP, no preset.
BEFORE = {"commit": "9baf9f0", "command": "espeak-ng -v vi -s 150 --stdout",
          "voice": "north (vi)", "speed": 1.0, "preset": "none", "loudness_lufs": -16.0,
          "reading": "the fixture's `spoken` (loa's reading at 9baf9f0)"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Item:
    """One thing to understand: what was meant, and the audio as it airs (float, rate)."""

    reference: str
    audio: np.ndarray
    rate: int


def cache_dir() -> Path:
    d = Path(os.environ.get("LOA_BENCH_CACHE") or Path.home() / ".cache" / "loa-bench")
    d.mkdir(parents=True, exist_ok=True)
    return d


def load_sentences(quick: bool) -> list[dict]:
    from loa.yamlio import load_yaml

    rows = load_yaml(SENTENCES)
    return [r for r in rows if r.get("quick")] if quick else rows


# ---- the recogniser: each distinct audio heard once (the same audio, the same words) ----

class Ears:
    """transcribe() with a memo by the audio's hash; kept in the cache between runs
    (heard-<recogniser version>.json) unless --fresh, so a rerun pays only for audio
    that changed."""

    def __init__(self, path: Path | None):
        self.path, self.new, self.reused = path, 0, 0
        self.memo: dict[str, str] = {}
        if path is not None and path.exists():
            self.memo = json.loads(path.read_text(encoding="utf-8"))

    def __call__(self, x: np.ndarray, rate: int) -> str:
        pcm = asr.to_asr_pcm(x, rate)  # what the recogniser gets is what identifies it
        key = hashlib.sha256(pcm.tobytes()).hexdigest()
        if key in self.memo:
            self.reused += 1
        else:
            self.memo[key] = asr.transcribe(x, rate)
            self.new += 1
        return self.memo[key]

    def save(self) -> None:
        if self.path is not None and self.new:
            from loa.fsio import atomic_write_text

            atomic_write_text(self.path, json.dumps(self.memo, ensure_ascii=False))


hear: Ears = Ears(None)


def score(items: list[Item], seed: int, details: bool, seeds: int = 1) -> dict:
    """wer_clean, and wer_horn pooled over `seeds` horn channels: item i of round k is
    heard through seed + 100 * k + i."""
    clean = [(it.reference, hear(it.audio, it.rate)) for it in items]
    rounds = []
    for k in range(seeds):
        rounds.append([(it.reference, hear(asr.horn_channel(it.audio, it.rate,
                                                            seed=seed + 100 * k + i, **_horn_kw()),
                                           it.rate))
                       for i, it in enumerate(items)])
    out = {"wer_clean": round(asr.corpus_wer(clean), 4),
           "wer_horn": round(asr.corpus_wer([p for r in rounds for p in r]), 4),
           "audio_s": round(sum(len(it.audio) / it.rate for it in items), 1)}
    if seeds > 1:
        out["wer_horn_by_seed"] = [round(asr.corpus_wer(r), 4) for r in rounds]
    if details:
        out["heard_clean"] = [h for _, h in clean]
        out["heard_horn"] = [h for _, h in rounds[0]]
    return out


def _horn_kw() -> dict:
    return {"snr_db": HORN["snr_db"], "rt60_s": HORN["rt60_s"], "wet": HORN["wet"]}


# ---- loa's engines, as loa produces a bulletin's body ----

def fresh_station(tmp: Path):
    """The station a new schedule gets: every setting from loa's defaults.yaml."""
    from loa.schedule.load import load_schedule

    path = tmp / "do-do-de-nghe.yaml"
    path.write_text("station:\n  name: Đài đo độ dễ nghe\nzones:\n  - id: z\n"
                    "sessions: []\nprograms: []\n", encoding="utf-8")
    return load_schedule(path).station


def body_audio(station, texts: list[str], tmp: Path) -> list[np.ndarray]:
    """Each text as loa would air it for this station, minus the chime and the intro."""
    renderer = body_renderer(station, tmp)
    out = []
    for text in texts:
        _, spoken, failures = renderer.speak(text)
        if failures:
            raise RuntimeError(f"{spoken.engine.name} after {failures[0]}")
        samples, _ = renderer.produce(spoken)
        out.append(samples.astype(np.float32) / 32768.0)
    return out


def produce_body(speech, settings) -> np.ndarray:
    """One Speech through loa's production (trim, level, preset), no chime, no intro."""
    from loa.audio.produce import assemble_measured

    samples, _ = assemble_measured([speech], settings, [], [])
    return samples.astype(np.float32) / 32768.0


def espeak_before(spoken: list[str]) -> list[np.ndarray]:
    """espeak-ng exactly as loa called it at 9baf9f0, produced with that day's settings."""
    from loa.audio.settings import AudioSettings
    from loa.voice.engine import Speech

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng not installed")
    env = {k: v for k, v in os.environ.items() if k != "ESPEAK_DATA_PATH"}
    settings = AudioSettings(rate=44100, target_lufs=-16.0, ceiling_dbtp=-1.0, chime=False,
                             sentence_gap_s=0.35, preset="none", silence_threshold_dbfs=-45.0)
    out = []
    for text in spoken:
        wav = subprocess.run([exe, "-v", "vi", "-s", "150", "--stdout"], input=text.encode(),
                             capture_output=True, check=True, env=env).stdout
        out.append(produce_body(Speech(wav, "wav", "espeak", "vi"), settings))
    return out


def piper_models(given: list[str]) -> list[Path]:
    from loa import settings

    found = [Path(p) for p in given]
    found += [Path(p) for p in os.environ.get("LOA_BENCH_PIPER", "").split(os.pathsep) if p]
    # where `loa voices add` installs them (settings.voices_dir once that is merged)
    voices = settings.voices_dir() if hasattr(settings, "voices_dir") else \
        settings.data_dir() / "voices"
    if voices.is_dir():
        found += sorted(p for p in voices.rglob("*.onnx") if Path(f"{p}.json").exists())
    return list(dict.fromkeys(p.resolve() for p in found))


def gtts_audio(spoken: list[str], cache: Path, try_online: bool) -> list[np.ndarray]:
    """Google's reading of each sentence, from the cache (gtts/<sha256>.mp3) or, missing,
    fetched once now; produced like loa's body. RuntimeError when it cannot be had."""
    from loa.audio.settings import AudioSettings
    from loa.voice.engine import EngineError, Speech
    from loa.voice.google import GttsEngine

    folder = cache / "gtts"
    engine = GttsEngine(timeout=5.0) if try_online else None
    out = []
    for text in spoken:
        mp3 = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.mp3"
        if not mp3.exists():
            if engine is None:
                raise RuntimeError("no cached mp3 and --offline")
            try:
                speech = engine.synthesize(text)
            except EngineError as exc:
                raise RuntimeError(f"Google TTS unreachable from here ({exc})") from None
            folder.mkdir(parents=True, exist_ok=True)
            mp3.write_bytes(speech.data)
        out.append(produce_body(Speech(mp3.read_bytes(), "mp3", "gtts", "vi"),
                                AudioSettings(chime=False)))
    return out


# ---- natural speech: the vieneu wheel's sample clips ----

def fetch_reference(cache: Path) -> list[tuple[str, Path, str]]:
    """(name, wav, text) of every natural clip in the vieneu wheel, unpacked in the cache."""
    wheel = cache / VIENEU_WHEEL
    if not wheel.exists():
        log(f"fetching {VIENEU} into {cache}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        VIENEU, "-d", str(cache)], check=True, stdout=sys.stderr)
    out_dir = cache / "vieneu-3.8.3"
    clips = []
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()

        def text_of(name: str) -> str:
            return z.read(name).decode("utf-8")

        # examples/audio_ref: the texts are in the package's code, beside the file names
        code = text_of("apps/gradio_main.py") + text_of("examples/main.py")
        ref_texts = dict(re.findall(r'"(example[\w]*\.wav)"\s*\)\s*,\s*"([^"]+)"', code))
        m = re.search(r'ref_audio = "examples/audio_ref/([\w]+\.wav)"\s*\n\s*ref_text = "([^"]+)"',
                      code)
        if m:
            ref_texts[m.group(1)] = m.group(2)
        for name in sorted(names):
            if not name.endswith(".wav"):
                continue
            if name.startswith("vieneu/assets/samples/"):
                txt = name[:-4] + ".txt"
                text = text_of(txt).strip() if txt in names else None
            elif name.startswith("examples/audio_ref/"):
                text = ref_texts.get(Path(name).name)
            else:
                continue
            if not text:
                log(f"no text for {name}: left out")
                continue
            dest = out_dir / name
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(name))
            clips.append((Path(name).stem, dest, text))
    return clips


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    from loa.audio.wav import read_wav

    samples, rate = read_wav(path)
    return samples.astype(np.float32) / 32768.0, rate


def body_renderer(station, tmp: Path):
    """loa's renderer for this station, minus the chime and the intro: the body alone."""
    from loa.audio import AudioSettings, ClipStore, Renderer
    from loa.station.wiring import chain_for, normalizer

    settings = AudioSettings(target_lufs=station.loudness, preset=station.preset, chime=False)
    return Renderer(chain_for(station), ClipStore(tmp / "clips"), normalizer(station=station),
                    settings, intro="", outro="", speed=station.speed)


def recorded(path: Path, station, tmp: Path) -> tuple[np.ndarray, int]:
    """The clip as loa airs an officer's recording: imported (decoded, high-pass, gate,
    trimmed), then produced by loa's chain (levelled, the station's preset) without the
    chime and the intro."""
    from loa.audio.recording import import_recording, produce_recorded

    dest = tmp / "ghi-am" / f"{hashlib.sha256(str(path).encode()).hexdigest()[:12]}.wav"
    rec = import_recording(path, dest)
    renderer = body_renderer(station, tmp)
    clip = produce_recorded(renderer, Path(rec.path)).clip
    return read_clip(clip.path)


# ---- the run ----

def espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if not exe:
        return "absent"
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split(
        "Data at")[0].strip()


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 sentences, fewer settings")
    ap.add_argument("--seed", type=int, default=13, help="horn channel seed (clip i: seed+i)")
    ap.add_argument("--seeds", type=int, default=1, choices=range(1, 10), metavar="K",
                    help="hear each clip through K horn channels (K times the horn's cost)")
    ap.add_argument("--piper", action="append", default=[], metavar="MODEL.onnx")
    ap.add_argument("--offline", action="store_true", help="do not try Google for gTTS")
    ap.add_argument("--details", action="store_true", help="add what the recogniser heard")
    ap.add_argument("--fresh", action="store_true",
                    help="hear everything again (no transcripts kept from earlier runs)")
    args = ap.parse_args(argv)
    if not asr.available():
        print(json.dumps({"error": "the recogniser is not installed: pip install 'loa[eval]' "
                                   "(viet-asr==0.1.0.dev11)"}))
        return 2
    started = time.perf_counter()
    cache = cache_dir()
    from loa.audio.render import sentences as split_sentences
    from loa.station.wiring import normalizer
    from loa.voice.espeak import VOICES

    global hear
    hear = Ears(None if args.fresh else cache / f"heard-{asr.recogniser_version()}.json")
    rows = load_sentences(args.quick)
    texts = [r["text"] for r in rows]
    spoken = [r["spoken"] for r in rows]
    result: dict = {
        "recogniser": f"viet-asr=={asr.recogniser_version()}", "espeak_ng": espeak_version(),
        "loa_commit": git_commit(), "seed": args.seed, "seeds": args.seeds, "horn": HORN, "quick": args.quick,
        "sentences": len(rows), "words": sum(len(asr.normalize_words(s)) for s in spoken),
        "sentence_file": str(SENTENCES.relative_to(ROOT)),
        "compared_to": "the hand-checked spoken form of each sentence (numbers and "
                       "abbreviations as read aloud), not the written text",
    }
    engines: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        station = fresh_station(tmp)
        read = normalizer(station=station)
        result["reading_mismatches"] = [
            {"text": t, "loa_reads": read(t)} for t, s in zip(texts, spoken, strict=True)
            if asr.normalize_words(read(t)) != asr.normalize_words(s)]
        offline = replace(station, engines=("espeak",))
        setups = [("espeak-default", offline, {"default": True})]
        for name in VOICES:
            if name != station.voice:
                setups.append((f"espeak-{name}", replace(offline, voice=name), {}))
        if not args.quick:
            slower = round(station.speed * 0.8, 2)
            setups.append((f"espeak-speed-{slower}", replace(offline, speed=slower), {}))
            setups.append(("espeak-preset-horn", replace(offline, preset="horn"), {}))

        def measure(name: str, make, meta: dict) -> None:
            log(f"{name} ...")
            t = time.perf_counter()
            try:
                audio = make()
            except Exception as exc:  # a setting that cannot be made is reported, not fatal
                engines[name] = {**meta, "skipped": f"{type(exc).__name__}: {exc}"}
                return
            rate = 44100
            engines[name] = {**meta, **score([Item(s, a, rate) for s, a in
                                              zip(spoken, audio, strict=True)],
                                             args.seed, args.details, args.seeds),
                             "seconds": round(time.perf_counter() - t, 1)}
            log(f"{name}: {engines[name]}")

        measure("espeak-9baf9f0", lambda: espeak_before(spoken), {"before": BEFORE})
        for name, st, meta in setups:
            measure(name, lambda st=st: body_audio(st, texts, tmp),
                    {**meta, "engine": "espeak", "voice": st.voice, "speed": st.speed,
                     "preset": st.preset})
        models = piper_models(args.piper)
        if not models:
            engines["piper"] = {"skipped": "no Vietnamese piper voice here: none is given "
                                "(--piper MODEL.onnx, LOA_BENCH_PIPER) or installed in loa's "
                                "data folder (voices/)"}
        for model in models:
            st = replace(station, engines=("piper",), piper_model=model)
            measure(f"piper:{model.stem}", lambda st=st: body_audio(st, texts, tmp),
                    {"engine": "piper", "model": str(model), "speed": st.speed})
        gtts_spoken = [" ".join(split_sentences(read(t))) for t in texts]
        measure("gtts", lambda: gtts_audio(gtts_spoken, cache, not args.offline),
                {"engine": "gtts", "online": True})
        if "skipped" in engines["gtts"]:
            engines["gtts"]["skipped"] = "not measured: " + engines["gtts"]["skipped"]
        result["engines"] = engines

        # natural speech
        log("reference clips ...")
        clips = fetch_reference(cache)
        if args.quick:
            clips = [c for c in clips if "audio_ref" not in str(c[1])]
        ref_items, rec_items, rec_error = [], [], None
        for _, path, text in clips:
            x, rate = read_clip(path)
            ref = " ".join(split_sentences(read(text)))
            ref_items.append(Item(ref, x, rate))
            if rec_error is None:
                try:
                    y, yrate = recorded(path, station, tmp)
                    rec_items.append(Item(ref, y, yrate))
                except ImportError as exc:
                    rec_error = f"loa.audio.recording not available here ({exc})"
                except Exception as exc:  # noqa: BLE001 - reported in the JSON, not a traceback
                    rec_error = f"{path.name}: {type(exc).__name__}: {exc}"
        raw = score(ref_items, args.seed + 1000, args.details, args.seeds)
        result["reference"] = {"source": f"{VIENEU} (Apache-2.0): vieneu/assets/samples, "
                                         "examples/audio_ref", "clips": [c[0] for c in clips],
                               "words": sum(len(asr.normalize_words(i.reference))
                                            for i in ref_items), **raw}
        result["wer_reference_clean"] = raw["wer_clean"]
        result["wer_reference_horn"] = raw["wer_horn"]
        if rec_error is None:
            rec = score(rec_items, args.seed + 1000, args.details, args.seeds)
            result["recorded"] = {"how": "import_recording, then loa's production (body "
                                         "only: no chime, no intro), then the horn channel",
                                  **rec}
            result["wer_recorded_horn"] = rec["wer_horn"]
            result["recorded_within_5_points"] = rec["wer_horn"] <= raw["wer_horn"] + 0.05
        else:
            result["wer_recorded_horn"] = None
            result["recorded"] = {"skipped": rec_error}

    measured = {k: v for k, v in engines.items() if "wer_horn" in v}
    result["wer_espeak_before_horn"] = measured.get("espeak-9baf9f0", {}).get("wer_horn")
    result["wer_espeak_default_horn"] = measured.get("espeak-default", {}).get("wer_horn")
    offline_ones = {k: v for k, v in measured.items()  # settings loa offers today
                    if v.get("engine") != "gtts" and "before" not in v}
    best = min(offline_ones, key=lambda k: offline_ones[k]["wer_horn"], default=None)
    result["best_offline"] = best
    result["wer_best_offline_horn"] = offline_ones[best]["wer_horn"] if best else None
    hear.save()
    result["transcriptions"] = {"made": hear.new, "reused": hear.reused}  # memo hits
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_1m"] = round(os.getloadavg()[0], 2)  # the machine is shared
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
