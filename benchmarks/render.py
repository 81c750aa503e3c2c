"""Offline render of every bulletin of ha-noi-2026, then a fully cached re-render.

Prints one JSON object: audio_s (seconds of audio made), render_s, rtf (render_s /
audio_s; goal <= 0.02), cached_s (goal <= 1 s).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loa.audio import AudioSettings, ClipStore, Renderer  # noqa: E402
from loa.audio.batch import render_many  # noqa: E402
from loa.plan import import_plan  # noqa: E402
from loa.script.bulletin import drafts_from_plan  # noqa: E402
from loa.script.normalize import Normalizer  # noqa: E402
from loa.voice import EngineChain, EspeakEngine  # noqa: E402


def main() -> None:
    plan_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "loa/data/plans/ha-noi-2026.txt"
    texts = [b.text for b in drafts_from_plan(import_plan(plan_path))]
    with tempfile.TemporaryDirectory() as tmp:
        def renderer() -> Renderer:
            return Renderer(EngineChain([EspeakEngine()]), ClipStore(Path(tmp) / "clips"),
                            Normalizer().normalize, AudioSettings(),
                            intro="Đài truyền thanh phường xin thông báo.")

        t = time.perf_counter()
        outcomes = render_many(renderer(), texts)
        render_s = time.perf_counter() - t
        assert all(o.clip and not o.cached for o in outcomes), "render failed"
        audio_s = sum(o.clip.seconds for o in outcomes)
        t = time.perf_counter()
        again = render_many(renderer(), texts)
        cached_s = time.perf_counter() - t
        assert all(o.cached for o in again)
    print(json.dumps({"bulletins": len(texts), "audio_s": round(audio_s, 1),
                      "render_s": round(render_s, 2), "rtf": round(render_s / audio_s, 4),
                      "cached_s": round(cached_s, 3)}))


if __name__ == "__main__":
    main()
