"""How well the offline voice (espeak-ng) is understood, setting by setting; one JSON object.

Usage: python benchmarks/offline_voice.py [--attempts NAME,NAME] [--seeds 1,2,3] [--list]

Each attempt reads the same fixed bulletin sentences (written as in the plans, then put
through loa's reading normalizer, which is also the reference text) with one set of
espeak-ng options or one way of shaping the text. Each clip goes to the offline recogniser
(`vietasr`, the `eval` extra) as it is (`wer_clean`) and through the seeded horn channel of
loa.voice.intelligibility, once per seed (`wer_horn`: all seeds pooled). WER is a fraction
(0-1) over all words. Clips are peak-levelled first, as loa's production levels every clip,
so an option that only changes loudness shows no effect.

The attempts are the ones tried for issue 13 (rate, pitch, word gap, amplitude, the vi
voices and variants, pauses at commas, shorter sentences, espeak-ng's own dictionary); the
one kept as loa's espeak default is `loa_default`. Measured 2026-11-30 (espeak-ng 1.51,
viet-asr 0.1.0.dev11, 12 sentences, 214 words, seeds 1-3), wer_clean / wer_horn / seconds
of speech:

    espeak_default  0.860 0.833  61   gap_8 (= loa_default) 0.804 0.703  86
    rate_120        0.836 0.763  78   gap_12                0.822 0.769  98
    rate_100        0.841 0.754  94   gap_16                0.836 0.746 110
    rate_175        0.892 0.903  52   rate_120_gap_8        0.846 0.734 114
    pitch_35        0.846 0.852  61   rate_120_gap_12       0.841 0.695 130
    pitch_70        0.869 0.875  61   amplitude_180         0.846 0.745  61 (clips: not kept)
    gap_3           0.832 0.759  72   comma_break_250       0.878 0.833  62
    voice_central   0.925 0.882  63   split_commas          0.874 0.843  60
    voice_south     0.892 0.897  64   dict_stressed_gap_8   0.813 0.701  87
    variant_klatt   0.911 0.843  60   variant_m3            0.916 0.819  61
    variant_f2      0.785 0.811  61

Slower speech is what helps (about equally per second added; a gap between syllables a
little more than a lower rate); nothing else did beyond the noise of a 214-word set (about
+-4 points). The dictionary (stressing espeak-ng's 41 unstressed function words) changed
nothing, so loa ships no dictionary. rate_120_gap_12 is no better than gap_8 within the
noise and 50 % longer.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402

from loa.script.normalize import normalize  # noqa: E402
from loa.voice import intelligibility as intel  # noqa: E402
from loa.voice.espeak import BASE_WPM, WORD_GAP  # noqa: E402

# Bulletin sentences as officers write them (wording of the shipped and unseen plans).
SENTENCES = [
    "Kính thưa bà con nhân dân trong xã.",
    "UBND xã ban hành Kế hoạch thông tin, tuyên truyền về kiểm soát thủ tục hành chính năm 2026.",
    "Người dân có thể nộp hồ sơ trực tuyến trên Cổng Dịch vụ công Quốc gia.",
    "Bộ phận Một cửa tiếp nhận hồ sơ từ thứ 2 đến thứ 6, buổi sáng từ 7h30 đến 11h30.",
    "Đề nghị các hộ gia đình thực hiện tốt việc phân loại rác tại nguồn.",
    "Tổ công nghệ số cộng đồng các thôn hướng dẫn bà con cài đặt ứng dụng VNeID.",
    "Trạm y tế xã tổ chức tiêm chủng cho trẻ em dưới 5 tuổi vào ngày 15/9.",
    "Bà con cần giữ gìn an ninh trật tự, phòng cháy, chữa cháy trong mùa khô.",
    "Mọi thắc mắc xin liên hệ số điện thoại 0912 345 678.",
    "Cuộc bầu cử đại biểu Quốc hội và HĐND các cấp diễn ra vào ngày Chủ nhật.",
    "Người tham gia giao thông phải đội mũ bảo hiểm khi đi xe máy.",
    "Xin trân trọng cảm ơn bà con đã lắng nghe.",
]
SEEDS = (1, 2, 3)
PEAK = 0.5  # every clip levelled to this peak before the channel


@dataclass
class Attempt:
    name: str
    what: str
    voice: str = "vi"
    wpm: int = 150
    pitch: int | None = None  # espeak-ng -p, 0-99 (voice default 50)
    word_gap: int | None = None  # espeak-ng -g, in 10 ms units
    amplitude: int | None = None  # espeak-ng -a (default 100)
    shape: str = ""  # "", "comma-break:MS", "split-commas"
    dictionary: bool = False  # vi_dict rebuilt with loa's vi_extra (needs the sources)
    extra: dict = field(default_factory=dict)


ATTEMPTS = [
    Attempt("espeak_default", "loa before issue 13: vi, 150 words a minute"),
    Attempt("loa_default", f"loa's espeak default now: {BASE_WPM} wpm, -g {WORD_GAP}",
            wpm=BASE_WPM, word_gap=WORD_GAP),
    Attempt("rate_120", "slower: 120 wpm", wpm=120),
    Attempt("rate_100", "much slower: 100 wpm", wpm=100),
    Attempt("rate_175", "faster: 175 wpm", wpm=175),
    Attempt("pitch_35", "lower pitch (-p 35)", pitch=35),
    Attempt("pitch_70", "higher pitch (-p 70)", pitch=70),
    Attempt("gap_3", "word gap 30 ms (-g 3)", word_gap=3),
    Attempt("gap_8", "word gap 80 ms (-g 8)", word_gap=8),
    Attempt("amplitude_180", "louder (-a 180): levelled away by production", amplitude=180),
    Attempt("voice_central", "vi-vn-x-central", voice="vi-vn-x-central"),
    Attempt("voice_south", "vi-vn-x-south", voice="vi-vn-x-south"),
    Attempt("variant_klatt", "vi with the klatt variant", voice="vi+klatt"),
    Attempt("variant_m3", "vi with the m3 variant", voice="vi+m3"),
    Attempt("variant_f2", "vi with the f2 variant", voice="vi+f2"),
    Attempt("comma_break_250", "a 250 ms pause at every comma (SSML)", shape="comma-break:250"),
    Attempt("split_commas", "commas become sentence ends (shorter sentences)", shape="split-commas"),
    Attempt("dict_stressed", "espeak-ng's vi dictionary with a vi_extra that stresses the 41 "
            "function words vi_list marks unstressed ($u: con, không, các, và ...)",
            dictionary=True),
    Attempt("gap_12", "word gap 120 ms (-g 12)", word_gap=12),
    Attempt("gap_16", "word gap 160 ms (-g 16)", word_gap=16),
    # combinations of what helped alone
    Attempt("rate_120_gap_8", "120 wpm and an 80 ms word gap", wpm=120, word_gap=8),
    Attempt("rate_120_gap_12", "120 wpm and a 120 ms word gap", wpm=120, word_gap=12),
    Attempt("dict_stressed_gap_8", "dict_stressed with an 80 ms word gap", word_gap=8,
            dictionary=True),
]
ATTEMPTS_BY_NAME = {a.name: a for a in ATTEMPTS}

# espeak-ng's vi_list marks these unstressed ($u); "bà con", "không" then come out weak
UNSTRESSED = ("bị bởi các cái chẳng cho chưa con còn của dẫu dù đang đã đến để được hoặc khi "
              "khoảng không là lúc mà mọi mỗi nên nếu như nhưng những phải sẽ thì tới từ và "
              "vẫn vì với").split()


def build_dictionary(sources: Path, home: Path) -> str:
    """A private espeak-ng data folder whose vi_dict is espeak-ng's own vi_rules/vi_list
    plus a vi_extra giving each UNSTRESSED word its own phonemes, stressed. Returns the
    --path value."""
    exe = shutil.which("espeak-ng")
    info = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    system_data = Path(info.split("Data at:")[1].strip())
    data = home / "espeak-ng-data"
    shutil.copytree(system_data, data)
    work = home / "dictsource"
    work.mkdir()
    for name in ("vi_rules", "vi_list", "vi_emoji"):
        shutil.copy(sources / name, work / name)
    lines = []
    for word in UNSTRESSED:
        ph = subprocess.run([exe, "-v", "vi", "-q", "-x", word], capture_output=True,
                            text=True, check=True).stdout.strip()
        lines.append(f"{word}\t{ph.rstrip('_|').replace(',', chr(39))}")
    (work / "vi_extra").write_text("\n".join(lines) + "\n", encoding="utf-8")
    subprocess.run([exe, f"--path={home}", "--compile=vi"], cwd=work, check=True,
                   capture_output=True)
    return str(home)


_COMMA = re.compile(r"\s*,\s*")
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def shape_text(text: str, shape: str) -> tuple[str, bool]:
    """The text as handed to espeak-ng for this shaping, and whether it is SSML."""
    if shape.startswith("comma-break:"):
        ms = int(shape.split(":", 1)[1])
        parts = _COMMA.split(text.translate(_XML))
        return "<speak>" + f' <break time="{ms}ms"/> '.join(parts) + "</speak>", True
    if shape == "split-commas":
        return ". ".join(p for p in _COMMA.split(text)), False
    if shape:
        raise ValueError(f"unknown shape {shape!r}")
    return text, False


def espeak_args(a: Attempt, data_path: str | None) -> list[str]:
    args = ["-v", a.voice, "-s", str(a.wpm)]
    if a.pitch is not None:
        args += ["-p", str(a.pitch)]
    if a.word_gap is not None:
        args += ["-g", str(a.word_gap)]
    if a.amplitude is not None:
        args += ["-a", str(a.amplitude)]
    if data_path:
        args += ["--path", data_path]
    return args


def synthesize(text: str, a: Attempt, data_path: str | None = None) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SystemExit("espeak-ng is not installed")
    body, is_ssml = shape_text(text, a.shape)
    cmd = [exe, *espeak_args(a, data_path), "--stdout", *(["-m"] if is_ssml else [])]
    out = subprocess.run(cmd, input=body.encode(), capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(out)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32)
    x /= 32768.0
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0:
        x *= PEAK / peak
    return x, rate


def run_attempt(a: Attempt, references: list[str], seeds: tuple[int, ...],
                data_path: str | None = None) -> dict:
    clean: list[tuple[str, str]] = []
    horn: list[tuple[str, str]] = []
    heard: list[str] = []
    seconds = 0.0
    for ref in references:
        x, rate = synthesize(ref, a, data_path)
        seconds += len(x) / rate
        hyp = intel.transcribe(x, rate)
        clean.append((ref, hyp))
        heard.append(hyp)
        for seed in seeds:
            horn.append((ref, intel.transcribe(intel.horn_channel(x, rate, seed=seed), rate)))
    return {
        "name": a.name,
        "what": a.what,
        "wer_clean": round(intel.corpus_wer(clean), 4),
        "wer_horn": round(intel.corpus_wer(horn), 4),
        "speech_seconds": round(seconds, 1),
        "heard_clean": heard[:3],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--list", action="store_true", help="list the attempts and exit")
    parser.add_argument("--espeak-sources", default="",
                        help="folder with espeak-ng's dictsource vi_rules, vi_list, vi_emoji "
                             "(same version as the installed espeak-ng) for dict_* attempts")
    args = parser.parse_args(argv[1:])
    if args.list:
        for a in ATTEMPTS:
            print(f"{a.name}: {a.what}")
        return 0
    if not intel.available():
        print("the recogniser is not installed: pip install 'loa[eval]'", file=sys.stderr)
        return 2
    names = [n for n in args.attempts.split(",") if n] or [a.name for a in ATTEMPTS]
    unknown = [n for n in names if n not in ATTEMPTS_BY_NAME]
    if unknown:
        print(f"unknown attempts: {', '.join(unknown)}", file=sys.stderr)
        return 2
    seeds = tuple(int(s) for s in args.seeds.split(",") if s)
    references = [normalize(s) for s in SENTENCES]
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="loa-espeak-") as tmp:
        for name in names:
            a = ATTEMPTS_BY_NAME[name]
            data_path = None
            if a.dictionary:
                if not args.espeak_sources:
                    print(f"{name}: skipped, needs --espeak-sources", file=sys.stderr)
                    continue
                data_path = build_dictionary(Path(args.espeak_sources), Path(tmp) / name)
            results.append(run_attempt(a, references, seeds, data_path))
            print(f"{name}: clean {results[-1]['wer_clean']:.3f} horn "
                  f"{results[-1]['wer_horn']:.3f}", file=sys.stderr)
    if not results:
        print("no attempt was run", file=sys.stderr)
        return 2
    best = min(results, key=lambda r: r["wer_horn"])
    default = next((r for r in results if r["name"] == "espeak_default"), None)
    kept = next((r for r in results if r["name"] == "loa_default"), None)
    out = {
        "sentences": len(references),
        "words": sum(len(intel.normalize_words(r)) for r in references),
        "seeds": list(seeds),
        "attempts": results,
        "wer_espeak_default_horn": default["wer_horn"] if default else None,
        "wer_loa_default_horn": kept["wer_horn"] if kept else None,
        "best_attempt": best["name"],
        "wer_best_offline_horn": best["wer_horn"],
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
