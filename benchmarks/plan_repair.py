"""How well `loa plan repair` restores a garbled plan; print one JSON object.

Usage: python benchmarks/plan_repair.py

Each clean plan of loa/data/plans is garbled here (seeded: most words lose their marks,
some get another tone, a few letters are misread as Tesseract does), then repaired with a
model trained on the OTHER plans (leave-one-out), so the plan's own bigrams never help.
Reported per plan and overall: syllable accuracy before and after, the share it could not
restore, and the seconds to train and to repair. The four plans share topics (three are
about administrative procedures), so leave-one-out is the easy case: "unseen" garbles the
clean plans of tests/data/unseen_plans*/ (other topics: disasters, elections, vaccination,
traffic, environment) and repairs them with the shipped model, and "clean_changed" counts
the words a repair changes in those clean plans (few is right). The real OCR-garbled plans
there (ocr-e-2026, ta-nang-chuyen-doi-so-2025) have no ground truth: share unknown before
and after. For typos(): how many words it flags in each shared plan (leave-one-out; the
plans have a handful of real typos) and in the unseen clean plans (false alarms, mostly).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from loa.plan import repair, syllables  # noqa: E402

SEED = 14
TESTS = ROOT / "tests" / "data"
REAL_GARBLED = ("ocr-e-2026.txt", "ta-nang-chuyen-doi-so-2025.txt")


def _known(text: str) -> int:
    return sum(1 for w in repair._TOKEN.findall(text)
               if repair._kind(w) == "word" and syllables.is_syllable(w))


def _unseen() -> dict:
    """Other plans, other topics, garbled the same way; the shipped model repairs them."""
    right_before = right_after = total = changed = flagged = 0
    half_before = half_after = 0.0
    examples: list = []
    for path in sorted(TESTS.glob("unseen_plans*/*.txt")):
        if path.name in REAL_GARBLED:
            continue
        clean = path.read_text(encoding="utf-8")
        garbled = repair.garble(clean, seed=SEED)
        fixed = repair.restore(garbled)
        n = _known(clean)
        right_before += repair.accuracy(clean, garbled) * n
        right_after += repair.accuracy(clean, fixed.text) * n
        half = repair.garble(clean, seed=SEED, strip=0.5)  # as a poor OCR: half lose marks
        half_before += repair.accuracy(clean, half) * n
        half_after += repair.accuracy(clean, repair.restore(half).text) * n
        total += n
        changed += repair.restore(clean).changed
        found = repair.typos(clean)
        flagged += len(found)
        examples += found[:3]
    return {"syllables": total, "accuracy_before": round(right_before / total, 4),
            "accuracy_after": round(right_after / total, 4),
            "half_stripped_accuracy_before": round(half_before / total, 4),
            "half_stripped_accuracy_after": round(half_after / total, 4),
            "clean_changed": changed,
            "typos_flagged": flagged,
            "typos_examples": [f"{t.found}->{t.suggestion} ({t.reason})" for t in examples]}


def _real() -> dict:
    out = {}
    for name in REAL_GARBLED:
        path = next(TESTS.glob(f"unseen_plans*/{name}"))
        text = path.read_text(encoding="utf-8")
        fixed = repair.restore(text)
        before = sum(1 for w in repair._TOKEN.findall(text)
                     if repair._kind(w) == "word" and not syllables.is_syllable(w))
        out[path.stem] = {"syllables": fixed.syllables, "changed": fixed.changed,
                          "share_unknown_before": round(before / max(fixed.syllables, 1), 4),
                          "share_unknown_after": round(fixed.share_unknown, 4)}
    return out


def measure() -> dict:
    plans = {p.stem: p.read_text(encoding="utf-8")
             for p in sorted(syllables.CLEAN_PLANS.glob("*.txt"))}
    per_plan = {}
    right_before = right_after = total = 0
    unknown = syllables_n = 0
    train_s = repair_s = 0.0
    typos = {}
    for name, clean in plans.items():
        start = time.perf_counter()
        model = repair.train(t for n, t in plans.items() if n != name)
        train_s = max(train_s, time.perf_counter() - start)
        garbled = repair.garble(clean, seed=SEED)
        start = time.perf_counter()
        fixed = repair.restore(garbled, model)
        repair_s += time.perf_counter() - start
        before = repair.accuracy(clean, garbled)
        after = repair.accuracy(clean, fixed.text)
        n = _known(clean)
        right_before += round(before * n)
        right_after += round(after * n)
        total += n
        unknown += fixed.unknown
        syllables_n += fixed.syllables
        per_plan[name] = {"syllables": n, "accuracy_before": round(before, 4),
                          "accuracy_after": round(after, 4),
                          "share_unknown": round(fixed.share_unknown, 4)}
        flagged = repair.typos(clean, model)
        typos[name] = {"flagged": len(flagged),
                       "examples": [f"{t.found}->{t.suggestion}" for t in flagged[:8]]}
    return {
        "accuracy_before": round(right_before / total, 4),
        "accuracy_after": round(right_after / total, 4),
        "share_unknown": round(unknown / max(syllables_n, 1), 4),
        "plans": per_plan,
        "train_seconds_max": round(train_s, 3),
        "repair_seconds_per_1000_syllables": round(repair_s / total * 1000, 3),
        "unseen": _unseen(),
        "real_garbled": _real(),
        "typos_flagged_clean_plans": typos,
    }


def main() -> int:
    print(json.dumps(measure(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
