"""Fuzz loa's inputs at scale: the suite's harness (tests/fuzz) with more cases.

    PYTHONPATH=. .venv/bin/python benchmarks/fuzz.py --count 2000 --seed 1 \
        --findings /tmp/loa-fuzz-findings

Prints one JSON object: files, tracebacks, hangs, over_memory, errors_without_file,
errors_without_line, wrong_results (and the other flags), by command, and the failure classes
ordered by count, each with a reproducer directory when --findings is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import campaign, closed_port  # noqa: E402
from fuzz.seeds import Seeds  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first case number (run a campaign in parts)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--findings", type=Path, help="copy failing cases here (inputs, stderr, repro.sh)")
    ap.add_argument("--cache", type=Path, help="keep the seeds (DOCX, PDF, warm clips) here")
    ap.add_argument("--no-pdf", action="store_true", help="skip the PDF seed (needs LibreOffice)")
    ap.add_argument("--progress", action="store_true", help="one line per case on stderr")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="loa-fuzz-") as tmp:
        cache = args.cache or Path(tmp) / "seeds"
        seeds = Seeds(cache, closed_port(), pdf=not args.no_pdf)

        def progress(r):
            print(f"{r.case.id} {r.case.mutation[:40]:40} exit={r.run.rc} "
                  f"{r.run.seconds:5.1f}s {r.run.rss_mb:5.0f}MB {sorted(r.flags) or ''}",
                  file=sys.stderr, flush=True)

        summary = campaign(args.count, args.seed, Path(tmp) / "cases", seeds, args.findings,
                           workers=args.workers, progress=progress if args.progress else None,
                           start=args.start)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
