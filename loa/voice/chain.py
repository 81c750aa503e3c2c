"""Try engines in the station's order; fall back and remember who was down."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from loa.clock import Clock, SystemClock
from loa.voice.engine import Engine, EngineError, Speech

log = logging.getLogger(__name__)


@dataclass
class ChainBatch:
    engine: Engine
    speeches: list[list[Speech]]
    failures: list[EngineError] = field(default_factory=list)


@dataclass
class ChainResult:
    speech: Speech
    failures: list[EngineError] = field(default_factory=list)

    @property
    def fell_back(self) -> bool:
        return bool(self.failures)


def _say(engine: Engine, group: list[str], gap_s: float | None) -> list[Speech]:
    whole = getattr(engine, "synthesize_sentences", None)
    if gap_s is None or whole is None or not group:
        return [engine.synthesize(t) for t in group]
    return [whole(group, gap_s)]  # one process start per clip, not one per sentence


class EngineChain:
    """After an online engine fails for other than the text itself, skip it for `cooldown` s
    so a batch of bulletins does not wait out one timeout each."""

    def __init__(self, engines: list[Engine], clock: Clock | None = None, cooldown: float = 300):
        if not engines:
            raise ValueError("an engine chain needs at least one engine")
        self.engines = engines
        self.clock = clock or SystemClock()
        self.cooldown = cooldown
        self._down_until: dict[str, float] = {}

    def synthesize(self, text: str) -> ChainResult:
        batch = self.synthesize_all([[text]])
        return ChainResult(batch.speeches[0][0], batch.failures)

    def synthesize_all(self, groups: list[list[str]], engines: list[Engine] | None = None,
                       gap_s: float | None = None) -> ChainBatch:
        """Every text of every group from ONE engine: the first that says them all.

        gap_s: an engine that can read a whole group in one call (synthesize_sentences)
        does so, `gap_s` between its texts, and gives one Speech for the group; the
        others give one Speech per text."""
        failures: list[EngineError] = []
        now = self.clock.now().timestamp()
        for engine in engines if engines is not None else self.engines:
            until = self._down_until.get(engine.name)
            if until is not None and now < until:
                failures.append(EngineError(engine.name, "offline", "skipped: failed recently"))
                continue
            try:
                speeches = [_say(engine, group, gap_s) for group in groups]
            except EngineError as exc:
                log.warning("engine %s failed (%s): %s", engine.name, exc.kind, exc.detail)
                failures.append(exc)
                if engine.online and exc.kind != "rejected":
                    self._down_until[engine.name] = now + self.cooldown
                continue
            self._down_until.pop(engine.name, None)
            return ChainBatch(engine, speeches, failures)
        if not failures:
            raise EngineError("chain", "broken", "no engine to try")
        raise failures[-1] if len(failures) == 1 else EngineError(
            "chain", "broken", "; ".join(str(f) for f in failures))
