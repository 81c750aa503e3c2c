"""Build the pipeline's parts from a schedule and the embedded defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from loa import settings
from loa.audio.cache import Clip
from loa.audio.render import Renderer
from loa.clock import Clock
from loa.player.sinks import Sink, SoundDeviceSink, WavDirSink, output_devices
from loa.schedule.model import Station
from loa.script.bulletin import Bulletin
from loa.voice import EngineChain, default_chain


def normalizer(variant: str = "north", station: Station | None = None) -> Callable[[str], str]:
    """The station's reading rules: number variant by voice, its days, its lexicon."""
    from loa.script.normalize import Normalizer

    if station is not None:
        variant = station.voice
    return Normalizer(
        variant="south" if variant == "south" else "north",
        day_prefix=station.day_prefix if station else "mùng",
        lexicon_files=[station.lexicon] if station and station.lexicon else (),
    ).normalize


def chain_for(station: Station | None, clock: Clock | None = None,
              engines: tuple[str, ...] | None = None) -> EngineChain:
    """gTTS (with a timeout) then espeak-ng, unless the station says otherwise.

    LOA_GTTS_ENDPOINT points gTTS at another server (a local fake in tests);
    LOA_GTTS_TIMEOUT caps each request.
    """
    return default_chain(
        voice=station.voice if station else "north",
        speed=station.speed if station else 1.0,
        gtts_timeout=float(os.environ.get("LOA_GTTS_TIMEOUT", "10")),
        gtts_endpoint=os.environ.get("LOA_GTTS_ENDPOINT") or None,
        engines=engines or (station.engines if station else ("gtts", "espeak")),
        clock=clock,
        piper_model=station.piper_model if station else None,
    )


def renderer_for(station: Station, chain: EngineChain, clips_dir: Path | None = None,
                 mp3: bool = False) -> Renderer:
    from loa.audio import AudioSettings, ClipStore

    settings_ = AudioSettings(target_lufs=station.loudness, preset=station.preset,
                              chime=station.chime)
    intro = station.intro or f"{station.name} xin thông báo."
    return Renderer(chain, ClipStore(clips_dir or settings.clips_dir()),
                    normalizer(station=station), settings_, intro=intro, outro=station.outro,
                    speed=station.speed, mp3=mp3)


def clip_makers(renderer: Renderer) -> tuple[Callable[[Bulletin], Clip], Callable[[Bulletin], Clip]]:
    """(ahead, at_air): ahead of air time render with the whole chain; at air time use
    what is in the store, or read it offline: never wait on the internet on air."""

    def ahead(bulletin: Bulletin) -> Clip:
        return renderer.render(bulletin.text).clip

    def at_air(bulletin: Bulletin) -> Clip:
        clip = renderer.lookup(bulletin.text)
        if clip is None:
            clip = renderer.render(bulletin.text, renderer.offline()).clip
        return clip

    return ahead, at_air


def relays_for(station: Station, clock: Clock):
    from loa.player.relays import GpioRelays, NoRelays

    return GpioRelays() if station.relays == "gpio" else NoRelays()


def sink_factory(kind: str, wav_dir: Path | None) -> tuple[Callable[[str], Sink], str]:
    """kind: auto | device | wav. Returns the factory and a Vietnamese note for the officer."""
    if kind == "auto":
        kind = "device" if output_devices() else "wav"
    if kind == "device":
        sinks: dict[str, Sink] = {}

        def device_sink(device: str) -> Sink:
            if device not in sinks:
                sinks[device] = SoundDeviceSink(device)
            return sinks[device]

        return device_sink, "Phát ra thiết bị âm thanh."
    folder = wav_dir or settings.data_dir() / "played"
    wav = WavDirSink(folder)
    note = (f"Máy này không có thiết bị âm thanh: những gì lẽ ra được phát sẽ được ghi "
            f"thành tệp WAV trong {folder}.")
    return (lambda device: wav), note
