"""Offline render of every bulletin of ha-noi-2026, against espeak-ng alone; then a fully
cached re-render, in process and as a real `loa render` command.

Prints one JSON object:
- audio_s (seconds of audio made), render_s, rtf (render_s / audio_s; goal <= 0.02);
- engine_only_s: espeak-ng alone reading the same texts (the normalized bulletins and the
  intro, one run each, one after the other), same voice and speed, in the same run;
- pipeline_over_engine: render_s / engine_only_s (goal <= 4);
- cached_s: render_many again with every clip cached (goal <= 1 s);
- cached_cli_s: median of 5 `python -m loa render SCHEDULE` subprocesses on a schedule
  whose every clip is cached (goal <= 0.3 s), with Python's bytecode cache on, as an
  installed loa runs; cached_cli_nopyc_s: the same with PYTHONDONTWRITEBYTECODE=1 when
  the environment sets it (every loa module compiled from source at each start);
- load_1m: the machine's load average when it ends (other work inflates render_s, not
  engine_only_s, which uses one core).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
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

INTRO = "Đài truyền thanh phường xin thông báo."


def engine_only(texts: list[str], engine: EspeakEngine) -> float:
    """espeak-ng by itself: one run per text, audio to a pipe, nothing else."""
    exe = shutil.which(engine.executable) or engine.executable
    t = time.perf_counter()
    for text in texts:
        subprocess.run([exe, "-v", engine.voice, "-s", str(engine.words_per_minute),
                        "--stdout"], input=text.encode("utf-8"), stdout=subprocess.PIPE,
                       check=True)
    return time.perf_counter() - t


def cached_cli(tmp: Path, env: dict[str, str], runs: int = 5) -> float:
    """Median wall time of `python -m loa render` when every clip is already made."""
    def once() -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "loa", "render", str(tmp / "ba-vi.yaml")],
                       env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - t

    once()  # warm: the bytecode cache when it is on, the OS's file cache
    return statistics.median(once() for _ in range(runs))


def main() -> None:
    plan_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "loa/data/plans/ha-noi-2026.txt"
    texts = [b.text for b in drafts_from_plan(import_plan(plan_path))]
    normalize = Normalizer().normalize
    with tempfile.TemporaryDirectory() as tmp:
        def renderer() -> Renderer:
            return Renderer(EngineChain([EspeakEngine()]), ClipStore(Path(tmp) / "clips"),
                            normalize, AudioSettings(), intro=INTRO)

        engine_s = engine_only([normalize(t) for t in texts] + [normalize(INTRO)],
                               EspeakEngine())
        t = time.perf_counter()
        outcomes = render_many(renderer(), texts)
        render_s = time.perf_counter() - t
        assert all(o.clip and not o.cached for o in outcomes), "render failed"
        audio_s = sum(o.clip.seconds for o in outcomes)
        t = time.perf_counter()
        again = render_many(renderer(), texts)
        cached_s = time.perf_counter() - t
        assert all(o.cached for o in again)

        # The command, on the sample station read by espeak-ng only (no network to wait on)
        station = Path(tmp) / "station"
        shutil.copytree(ROOT / "schedules", station)
        yaml = station / "ba-vi.yaml"
        yaml.write_text(yaml.read_text(encoding="utf-8").replace(
            "engines: [gtts, espeak]", "engines: [espeak]"), encoding="utf-8")
        env = {**os.environ, "LOA_DATA_DIR": str(Path(tmp) / "data"),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "loa", "render", str(yaml)], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # every clip made once
        cli_s = cached_cli(station, env)
        nopyc_s = (cached_cli(station, {**env, "PYTHONDONTWRITEBYTECODE": "1"})
                   if os.environ.get("PYTHONDONTWRITEBYTECODE") else None)
    print(json.dumps({"load_1m": round(os.getloadavg()[0], 2),  # the machine is shared
                      "bulletins": len(texts), "audio_s": round(audio_s, 1),
                      "render_s": round(render_s, 2), "rtf": round(render_s / audio_s, 4),
                      "engine_only_s": round(engine_s, 2),
                      "pipeline_over_engine": round(render_s / engine_s, 2),
                      "cached_s": round(cached_s, 3), "cached_cli_s": round(cli_s, 3),
                      "cached_cli_nopyc_s": None if nopyc_s is None else round(nopyc_s, 3)}))


if __name__ == "__main__":
    main()
