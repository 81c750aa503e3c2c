"""Stage 3: text to speech, through a chain of engines (online first, offline always)."""

from loa.voice.chain import ChainResult, EngineChain
from loa.voice.engine import Engine, EngineError, Speech, engine_label_vi
from loa.voice.espeak import EspeakEngine
from loa.voice.google import GttsEngine


def default_chain(voice: str = "north", speed: float = 1.0, gtts_timeout: float = 10.0,
                  gtts_endpoint: str | None = None, engines: tuple[str, ...] = ("gtts", "espeak"),
                  clock=None, piper_model=None) -> EngineChain:
    made: list[Engine] = []
    for name in engines:
        if name == "piper":
            from loa.voice.piper_engine import PiperEngine

            if piper_model is None:
                raise ValueError("engine 'piper' needs a model file")
            made.append(PiperEngine(piper_model, speed=speed))
            continue
        if name == "gtts":
            made.append(GttsEngine(timeout=gtts_timeout, endpoint=gtts_endpoint,
                                   slow=speed < 0.8))
        elif name == "espeak":
            made.append(EspeakEngine(voice=voice, speed=speed))
        else:
            raise ValueError(f"unknown engine {name!r}")
    return EngineChain(made, clock=clock)


__all__ = [
    "ChainResult",
    "Engine",
    "EngineChain",
    "EngineError",
    "EspeakEngine",
    "GttsEngine",
    "Speech",
    "default_chain",
    "engine_label_vi",
]
