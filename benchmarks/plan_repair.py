"""How well `loa plan repair` restores a garbled plan; print one JSON object.

Usage: python benchmarks/plan_repair.py

Each clean plan of loa/data/plans is garbled here (seeded: most words lose their marks,
some get another tone, a few letters are misread as Tesseract does), then repaired with a
model trained on the OTHER plans (leave-one-out), so the plan's own bigrams never help.
Reported per plan and overall: syllable accuracy before and after, the share it could not
restore, and the seconds to train and to repair. Also the real OCR-garbled plan
tests/data/unseen_plans/ocr-e-2026.txt (no ground truth: share unknown before and after),
and for typos(): how many words it flags in each clean plan (leave-one-out; fewer is
better, the plans have a handful of real typos).
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
REAL_GARBLED = ROOT / "tests" / "data" / "unseen_plans" / "ocr-e-2026.txt"


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
        n = sum(1 for w in repair._TOKEN.findall(clean)
                if repair._kind(w) == "word" and syllables.is_syllable(w))
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
    real = REAL_GARBLED.read_text(encoding="utf-8")
    fixed = repair.restore(real)
    before_unknown = sum(1 for w in repair._TOKEN.findall(real)
                         if repair._kind(w) == "word" and not syllables.is_syllable(w))
    return {
        "accuracy_before": round(right_before / total, 4),
        "accuracy_after": round(right_after / total, 4),
        "share_unknown": round(unknown / max(syllables_n, 1), 4),
        "plans": per_plan,
        "train_seconds_max": round(train_s, 3),
        "repair_seconds_per_1000_syllables": round(repair_s / total * 1000, 3),
        "real_garbled": {"file": REAL_GARBLED.name, "syllables": fixed.syllables,
                         "share_unknown_before": round(before_unknown / max(fixed.syllables, 1), 4),
                         "share_unknown_after": round(fixed.share_unknown, 4),
                         "changed": fixed.changed},
        "typos_flagged_clean_plans": typos,
    }


def main() -> int:
    print(json.dumps(measure(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
