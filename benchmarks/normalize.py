"""Time the reading normalizer on whole plans; print one JSON object: {"chars", "seconds"}.

Usage: python benchmarks/normalize.py [FOLDER]   (default: loa/data/plans)

`seconds` is the time to normalize every *.txt plan of FOLDER once (best of three passes,
so a busy machine does not blur the number); `chars` is their total length in characters.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from loa.script.normalize import Normalizer  # noqa: E402


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else ROOT / "loa" / "data" / "plans"
    texts = [p.read_text(encoding="utf-8-sig") for p in sorted(folder.glob("*.txt"))]
    if not texts:
        print(f"no .txt plans in {folder}", file=sys.stderr)
        return 1
    normalizer = Normalizer()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for text in texts:
            normalizer.normalize(text)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({"chars": sum(len(t) for t in texts), "seconds": round(best, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
