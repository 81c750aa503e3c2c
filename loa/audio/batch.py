"""Render many texts at once: synthesis in threads (it waits on the network or on a
subprocess), production in processes (it is numpy work, bound by the CPU)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loa.audio.cache import Clip, ClipError
from loa.audio.render import Renderer, Spoken
from loa.audio.settings import AudioSettings
from loa.voice.engine import Engine, EngineError, Speech

if TYPE_CHECKING:  # numpy and scipy load in the workers that make clips
    from concurrent.futures import Future

    import numpy as np

    from loa.audio import loudness


@dataclass
class Outcome:
    text: str
    clip: Clip | None = None
    cached: bool = False
    upgraded: bool = False
    failures: list[EngineError] = field(default_factory=list)
    error: str | None = None


def _produce(body: list[Speech], intro: list[Speech], outro: list[Speech],
             settings: AudioSettings) -> tuple[np.ndarray, loudness.Levels]:
    import loa.audio._one_thread  # noqa: F401 - before numpy, in a spawned worker
    from loa.audio.produce import assemble_measured  # numpy: only where clips are made

    return assemble_measured(body, settings, intro, outro)


def _warm(rate: int) -> None:
    """A worker loads numpy and designs its filters while the engines speak."""
    import loa.audio._one_thread  # noqa: F401 - before numpy, in a spawned worker
    from loa.audio.produce import warm

    warm(rate)


def render_many(renderer: Renderer, texts: list[str], *, upgrade: bool = False,
                threads: int = 4, processes: int | None = None,
                progress: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Render each text once (duplicates share a clip); with upgrade, clips a fallback
    engine made are redone by the better engines when they answer."""
    outcomes = {t: Outcome(t) for t in dict.fromkeys(texts)}
    todo: list[tuple[Outcome, list[Engine] | None]] = []
    for out in outcomes.values():
        clip = renderer.lookup(out.text, verify="full")  # a damaged clip is made again
        if clip is not None and not (upgrade and clip.fallback):
            out.clip, out.cached = clip, True
            if progress:
                progress(out)
            continue
        if clip is not None:  # upgrade: only the engines better than the one that made it
            out.clip, out.cached = clip, True
            todo.append((out, renderer.better_than(clip)))
        else:
            todo.append((out, None))
    if not todo:
        return list(outcomes.values())
    import multiprocessing  # pools only when there is something to make
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait

    processes = processes or max(1, min(len(todo), os.cpu_count() or 1))
    # Not fork: a worker forked while a thread runs espeak-ng would inherit that pipe,
    # and the parent would wait forever for its end.
    context = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    if context.get_start_method() == "forkserver":
        # Workers fork from a server that loaded numpy once, rather than each loading it.
        # Takes effect if this process had no forkserver yet.
        context.set_forkserver_preload(["loa.audio._one_thread", "loa.audio.produce"])
    with ThreadPoolExecutor(threads) as speakers, \
            ProcessPoolExecutor(processes, mp_context=context) as cpu:
        for _ in range(processes):
            cpu.submit(_warm, renderer.settings.rate)
        speaking: dict[Future, tuple[Outcome, list[Engine] | None]] = {
            speakers.submit(renderer.speak, out.text, engines): (out, engines)
            for out, engines in todo
        }
        producing: dict[Future, tuple[Outcome, str, Spoken]] = {}
        while speaking or producing:
            done, _ = wait(list(speaking) + list(producing), return_when=FIRST_COMPLETED)
            for fut in done:
                if fut in speaking:
                    out, engines = speaking.pop(fut)
                    try:
                        spoken_text, spoken, failures = fut.result()
                    except EngineError as exc:
                        out.failures.append(exc)
                        if out.clip is None:
                            out.error = str(exc)
                        if progress:
                            progress(out)
                        continue
                    out.failures.extend(failures)
                    job = cpu.submit(_produce, spoken.body, spoken.intro, spoken.outro,
                                     renderer.settings)
                    producing[job] = (out, spoken_text, spoken)
                else:
                    out, spoken_text, spoken = producing.pop(fut)
                    try:
                        samples, levels = fut.result()
                        had = out.clip
                        out.clip = renderer.store_clip(spoken_text, spoken, samples, levels)
                        out.cached, out.upgraded = False, had is not None
                    except ClipError as exc:  # refused (disk reserve) or failed its check
                        out.error = str(exc)
                    except Exception as exc:  # a broken clip must not stop the others
                        out.error = f"{type(exc).__name__}: {exc}"
                    if progress:
                        progress(out)
    return list(outcomes.values())
