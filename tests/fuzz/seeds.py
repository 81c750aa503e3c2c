"""Seed files for the fuzzer: the real ones in the repo, and a DOCX and PDF made from a plan."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCHEDULE = ROOT / "schedules" / "ba-vi.yaml"
BULLETINS = ROOT / "schedules" / "bulletins" / "ba-vi-2026.yaml"
TEMPLATE = ROOT / "loa" / "data" / "template.yaml"
PLANS = ROOT / "loa" / "data" / "plans"
BULLETINS_REL = "bulletins/ba-vi-2026.yaml"  # as the schedule names it


def child_env(data_dir: Path, gtts_port: int) -> dict[str, str]:
    """The environment of every loa run: this checkout first, its own data dir, gTTS pointed
    at a closed local port (render never reaches the internet), one BLAS thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOA_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(LOA_DATA_DIR=str(data_dir), LOA_GTTS_ENDPOINT=f"http://127.0.0.1:{gtts_port}/",
               LOA_GTTS_TIMEOUT="1", PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1",
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def reduced_bulletins(text: str) -> str:
    """The bulletins file with only its shortest approved bulletin: a render stays short."""
    head, _, body = text.partition("\nbulletins:\n")
    blocks = re.split(r"(?m)^(?=- id:)", body)
    approved = [b for b in blocks if b.startswith("- id:") and "status: approved" in b]
    return head + "\nbulletins:\n" + min(approved, key=len)


class Seeds:
    """All seeds, built once into `cache` (reused when already there)."""

    def __init__(self, cache: Path, gtts_port: int, pdf: bool = True):
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self.schedule = SCHEDULE.read_bytes()
        self.bulletins = BULLETINS.read_bytes()
        self.render_bulletins = reduced_bulletins(BULLETINS.read_text("utf-8")).encode()
        self.template = TEMPLATE.read_bytes()
        self.plans_txt = {p.name: p.read_bytes() for p in sorted(PLANS.glob("*.txt"))}
        self.docx = self._docx()
        self.pdf = self._pdf() if pdf else None
        self.warm_data = self._warm(gtts_port)

    def _docx(self) -> bytes:
        out = self.cache / "ba-vi-2026.docx"
        if not out.exists():
            sys.path.insert(0, str(ROOT / "tests"))
            from plan_docs import word_document

            word_document(PLANS / "ba-vi-2026.txt", out, header="UBND XÃ BA VÌ",
                          page_numbers=True, auto_letters=True)
        return out.read_bytes()

    def _pdf(self) -> bytes | None:
        out = self.cache / "ba-vi-2026.pdf"
        if not out.exists():
            if not (shutil.which("soffice") or shutil.which("libreoffice")):
                return None
            sys.path.insert(0, str(ROOT / "tests"))
            from plan_docs import convert

            convert(self.cache / "ba-vi-2026.docx", "pdf", self.cache)
        return out.read_bytes()

    def _warm(self, gtts_port: int) -> Path:
        """A data dir whose clip store already holds the render seed's clip, so a render case
        only renders what its mutation changed."""
        warm = self.cache / "warm-data"
        if (warm / "ok").exists():
            return warm
        shutil.rmtree(warm, ignore_errors=True)
        work = self.cache / "warm-schedule"
        (work / "bulletins").mkdir(parents=True, exist_ok=True)
        (work / "ba-vi.yaml").write_bytes(self.schedule)
        (work / BULLETINS_REL).write_bytes(self.render_bulletins)
        subprocess.run([sys.executable, "-m", "loa", "render", "ba-vi.yaml"], cwd=work,
                       env=child_env(warm, gtts_port), check=True, capture_output=True,
                       timeout=300)
        (warm / "ok").write_text("")
        return warm
