"""Scanned plans: how well and how fast `loa plan import` reads a plan that arrives as a scan.

For each shared plan (loa/data/plans/*.txt) the benchmark makes its own scan: the text as an
office types it (tests/plan_docs.word_document) rendered to PDF by LibreOffice, each page
rasterized at 300 dpi by pdftoppm, then turned a little (1-2°, alternating sides), blurred,
given sensor noise and JPEG-compressed (quality 60), and the pages put into an image-only
PDF — what a copier's "scan to PDF" gives. Scans are cached under ~/.cache/loa-bench/plans.
Then the scan is imported (real Tesseract, this machine) and compared with the clean import
of the .txt:
  word_recall   multiset of the words (letter runs, NFC lowercase) of the imported text
                against the clean text's: share of the clean words found; target >= 0.98
  topics_same   the same topics (outline path and title) as the clean import;
                topic_paths_same: the same outline paths (titles may differ by a letter)
  s_per_page    wall seconds of the whole import per page; target <= 10 on this machine
  context_fixes words the OCR context pass changed; context_model "leave-one-out": its
                syllable bigrams come from the other shared plans, never the one read

With --photos the pages are also read as JPG photos (the `loa plan import a.jpg b.jpg`
path). When benchmarks/plan_repair.py (`loa plan repair`) is importable its measure() is
included under "repair".

Prints one JSON object:
  word_recall_min, topics_same, s_per_page, confidence_min, pages, plans {name: details},
  repair (or {"missing": why})

    python benchmarks/plans.py [--photos] [--plans ba-vi-2026 …] [--fresh]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from loa.plan import ocr  # noqa: E402
from loa.plan.content import import_plan  # noqa: E402
from loa.plan.repair import train  # noqa: E402
from loa.plan.syllables import WORD  # noqa: E402

PLANS = ROOT / "loa" / "data" / "plans"
CACHE = Path.home() / ".cache" / "loa-bench" / "plans"
RECIPE = "v1 300dpi rot1-2 blur0.7 noise6 jpeg60"  # change it and the cache is rebuilt


def words(plan) -> Counter:
    """The words of the imported text: every line of its outline (item markers aside)."""
    text = " ".join(line for node in plan.outline.walk() for line in node.lines)
    return Counter(WORD.findall(unicodedata.normalize("NFC", text).lower()))


def recall(clean: Counter, got: Counter) -> float:
    total = sum(clean.values())
    return sum(min(n, got[w]) for w, n in clean.items()) / total if total else 0.0


def degrade(page, rng: random.Random, side: int):
    """A clean 300-dpi page as a copier scans it: turned, soft, noisy."""
    import numpy as np
    from PIL import Image, ImageFilter

    angle = side * rng.uniform(1.0, 2.0)
    page = page.convert("L").rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=250)
    page = page.filter(ImageFilter.GaussianBlur(0.7))
    a = np.asarray(page, dtype=np.float32)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 6, a.shape)
    return Image.fromarray(np.clip(a + noise, 0, 255).astype(np.uint8)), angle


def make_scan(txt: Path, fresh: bool = False) -> tuple[Path, list[Path]]:
    """The plan's scanned PDF and its pages as JPG photos (cached)."""
    import io
    import subprocess

    from PIL import Image
    from plan_docs import convert, word_document

    digest = hashlib.sha256(txt.read_bytes() + RECIPE.encode()).hexdigest()[:12]
    folder = CACHE / f"{txt.stem}-{digest}"
    scan = folder / f"{txt.stem}-scan.pdf"
    if scan.exists() and not fresh:
        return scan, sorted(folder.glob("trang-*.jpg"))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pdf = convert(word_document(txt, tmp / f"{txt.stem}.docx"), "pdf", tmp)
        subprocess.run(["pdftoppm", "-r", "300", "-gray", str(pdf), str(tmp / "p")],
                       check=True, timeout=600)
        rng = random.Random(txt.stem)
        pages, photos = [], []
        for i, png in enumerate(sorted(tmp.glob("p-*.pgm")), start=1):
            page, _ = degrade(Image.open(png), rng, 1 if i % 2 else -1)
            buf = io.BytesIO()
            page.save(buf, format="JPEG", quality=60)  # the copier's compression
            jpg = folder / f"trang-{i:02d}.jpg"
            jpg.write_bytes(buf.getvalue())
            photos.append(jpg)
            pages.append(Image.open(io.BytesIO(buf.getvalue())))
        pages[0].save(scan, save_all=True, append_images=pages[1:], resolution=300.0)
    return scan, photos


def held_out_model(txt: Path):
    """The OCR context pass's model trained on the other shared plans only: the plan under
    test must not teach the model its own word pairs (production uses all four)."""
    return train([p.read_text(encoding="utf-8") for p in sorted(PLANS.glob("*.txt"))
                  if p.stem != txt.stem])


def measure_plan(txt: Path, photos: bool, fresh: bool) -> dict:
    scan, jpgs = make_scan(txt, fresh)
    model = held_out_model(txt)
    clean_plan = import_plan(txt)
    clean_words = words(clean_plan)
    clean_topics = [(t.path, t.title) for t in clean_plan.topics]
    result: dict = {}
    for kind, source in (("pdf", scan), ("photos", jpgs))[: 2 if photos else 1]:
        start = time.perf_counter()
        with ocr.context_model(model):
            plan = import_plan(source)
        seconds = time.perf_counter() - start
        got = words(plan)
        topics = [(t.path, t.title) for t in plan.topics]
        pages = plan.ocr.total_pages if plan.ocr else 0
        result[kind] = {
            "pages": pages,
            "ocr_pages": len(plan.ocr.pages) if plan.ocr else 0,
            "seconds": round(seconds, 1),
            "s_per_page": round(seconds / max(pages, 1), 2),
            "word_recall": round(recall(clean_words, got), 4),
            "confidence": round(plan.ocr.confidence, 3) if plan.ocr else None,
            "context_fixes": plan.ocr.context_fixes if plan.ocr else 0,
            "topics": len(topics),
            "topics_clean": len(clean_topics),
            "topics_same": topics == clean_topics,
            "topic_paths_same": [a for a, _ in topics] == [a for a, _ in clean_topics],
            "topics_differ": [[a, b] for a, b in zip(clean_topics, topics, strict=False)
                              if a != b][:5],
            "garbled": bool(plan.quality and plan.quality.garbled),
            "missed_words": [w for w, n in (clean_words - got).most_common(12)],
        }
    return result


def repair() -> dict:
    try:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from plan_repair import measure
    except ImportError as exc:
        return {"missing": f"benchmarks/plan_repair.py not importable: {exc}"}
    return measure()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", action="store_true", help="also read the pages as JPG photos")
    ap.add_argument("--plans", nargs="*", help="plan names (default: all four)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the cached scans")
    ap.add_argument("--no-repair", action="store_true")
    args = ap.parse_args()
    txts = sorted(PLANS.glob("*.txt"))
    if args.plans:
        txts = [t for t in txts if t.stem in args.plans]
    plans = {t.stem: measure_plan(t, args.photos, args.fresh) for t in txts}
    runs = [r for p in plans.values() for r in p.values()]
    pages = sum(r["pages"] for r in runs)
    report = {
        "word_recall_min": min(r["word_recall"] for r in runs),
        "topics_same": all(r["topics_same"] for r in runs),
        "topic_paths_same": all(r["topic_paths_same"] for r in runs),
        "topic_titles_differ": sum(len(r["topics_differ"]) for r in runs),
        "s_per_page": round(sum(r["seconds"] for r in runs) / max(pages, 1), 2),
        "confidence_min": min(r["confidence"] or 0 for r in runs),
        "context_fixes": sum(r["context_fixes"] for r in runs),
        "context_model": "leave-one-out",
        "pages": pages,
        "targets": {"word_recall_min": 0.98, "topics_same": True, "s_per_page": 10},
        "recipe": RECIPE,
        "plans": plans,
    }
    if not args.no_repair:
        report["repair"] = repair()
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
