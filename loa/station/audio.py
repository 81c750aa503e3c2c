"""Clips made before air time (render), their upkeep, and a sentence read to a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError

if TYPE_CHECKING:
    from loa.audio.batch import Outcome
    from loa.audio.cache import Clip
    from loa.clock import Clock
    from loa.schedule.expand import Refused
    from loa.schedule.model import Schedule
    from loa.script.bulletin import Bulletin


def needed_bulletins(schedule: Schedule, bulletins: dict[str, list[Bulletin]],
                     today: date) -> list[Bulletin]:
    """Approved bulletins of programs that have not ended."""
    out = {}
    for pid, pool in bulletins.items():
        prog = schedule.programs[pid]
        if prog.end is not None and prog.end < today:
            continue
        for b in pool:
            out[b.key] = b
    return list(out.values())


@dataclass
class RenderResult:
    needed: list[Bulletin]
    outcomes: list[Outcome]
    notes: list[str] = field(default_factory=list)  # the clip store's own warnings
    refused: list[Refused] = field(default_factory=list)  # approved once, not airing now

    @property
    def made(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.clip and not o.cached]

    @property
    def cached(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.clip and o.cached]

    @property
    def upgraded(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.upgraded]

    @property
    def fallback(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.clip and o.clip.fallback]

    def engines(self) -> dict[str, int]:
        """{engine name: clips it read}."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            if o.clip:
                out[o.clip.engine] = out.get(o.clip.engine, 0) + 1
        return dict(sorted(out.items()))

    def airtime_s(self) -> float:
        return sum(o.clip.seconds for o in self.outcomes if o.clip)

    def engines_failed(self) -> list[str]:
        """'gtts (network)', once each: the engines the chain had to pass over."""
        return sorted({f"{f.engine} ({f.kind})" for o in self.outcomes for f in o.failures})

    def failed(self) -> list[tuple[Bulletin, str]]:
        """(bulletin, Vietnamese reason) for every bulletin with no clip."""
        by_text = {o.text: o for o in self.outcomes}
        keys = [(b, recording_key(b) if b.audio else b.text) for b in self.needed]
        return [(b, str(by_text[k].error)) for b, k in keys
                if k in by_text and by_text[k].clip is None]


def render(schedule_path: str | Path, *, upgrade: bool = False, mp3: bool = False,
           jobs: int = 4, clock: Clock | None = None,
           progress: Callable[[int, int], None] | None = None,
           note: Callable[[str], None] | None = None) -> RenderResult:
    """Read aloud, ahead of air time, every approved bulletin the schedule still needs.

    progress(done, total) after each clip; note(text) for the clip store's warnings as
    they happen (else they are kept in the result)."""
    from loa.audio.batch import render_many
    from loa.station.core import clock_for, load_station
    from loa.station.wiring import chain_for, renderer_for, voice_of, voiced

    if jobs < 1:
        raise LoaError("--jobs phải là số nguyên lớn hơn 0.")
    station = load_station(schedule_path)
    clock = clock_for(station, clock)
    st = station.schedule.station
    renderer = renderer_for(st, chain_for(st, clock), mp3=mp3)
    result = RenderResult(needed_bulletins(station.schedule, station.bulletins,
                                           clock.now().date()), [],
                          refused=list(getattr(station.bulletins, "refused", ())))

    def tell(r) -> None:
        for text in r.store.take_notes():
            note(text) if note else result.notes.append(text)

    tell(renderer)
    # a bulletin with its own voice or speed is read by a renderer of its own
    groups: dict[tuple[str, float | None], list[str]] = {}
    recorded = {b.audio_path: b for b in result.needed if b.audio}
    for b in result.needed:
        if not b.audio:  # a recording is produced below, not read
            groups.setdefault(voice_of(b), []).append(b.text)
    total = sum(len(dict.fromkeys(texts)) for texts in groups.values()) + len(recorded)
    done = 0

    def step(outcome) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    for voice, texts in groups.items():
        if voice == ("", None):
            r = renderer
        else:
            own = voiced(st, *voice)
            r = renderer_for(own, chain_for(own, clock), mp3=mp3)
        result.outcomes += render_many(r, list(dict.fromkeys(texts)), upgrade=upgrade,
                                       threads=jobs, progress=step)
        tell(r)
    for b in recorded.values():
        result.outcomes.append(_produce_outcome(renderer, b, upgrade))
        step(None)
    tell(renderer)
    return result


def recording_key(bulletin: Bulletin) -> str:
    """A recorded bulletin's place among RenderResult.outcomes (never a bulletin's text)."""
    return f"\0{bulletin.audio_path}"


def _produce_outcome(renderer, bulletin: Bulletin, upgrade: bool = False) -> Outcome:
    """A recording produced (chime, intro, levelled) as a render outcome; with upgrade,
    its intro read again by a better engine if a lesser one read it."""
    from loa.audio.batch import Outcome
    from loa.audio.recording import lookup_recorded
    from loa.station.wiring import _why_not, produce_recording

    out = Outcome(recording_key(bulletin))
    try:
        had = lookup_recorded(renderer, bulletin.audio_path, "") if upgrade else None
        made = produce_recording(renderer, bulletin, upgrade=upgrade)
        out.clip, out.cached, out.failures = made.clip, made.cached, made.failures
        out.upgraded = had is not None and not made.cached
    except LoaError as exc:
        out.error = exc.problems[0].message
    except Exception as exc:  # one bad recording must not stop the others
        out.error = _why_not(exc)
    return out


@dataclass(frozen=True)
class ClipRow:
    clip: Clip
    text: str  # "" when the index was rebuilt and lost it
    used: str  # when it last aired or was made, ISO


def _store():
    from loa import settings
    from loa.audio import ClipStore

    return ClipStore(settings.clips_dir())


def list_clips() -> tuple[list[ClipRow], list[str]]:
    """Every clip in the store, and the store's warnings."""
    store = _store()
    try:
        return [ClipRow(c, t or "", u or "") for c, t, u in store.all()], store.take_notes()
    finally:
        store.close()


def check_clips() -> tuple[list[tuple[str, str]], int, list[str]]:
    """(bad clips as (key, problem), clips in the store, warnings)."""
    store = _store()
    try:
        bad = store.check()
        return bad, len(store.all()), store.take_notes()
    finally:
        store.close()


def find_clip(key: str) -> Clip:
    """The one clip whose key starts with `key`."""
    store = _store()
    try:
        matches = [c for c, _, _ in store.all() if c.hash.startswith(key)]
    finally:
        store.close()
    if len(matches) != 1:
        raise LoaError(f"mã '{key}' khớp {len(matches)} đoạn âm thanh; xem loa clips list.")
    return matches[0]


def play_clip(clip: Clip, sink_kind: str = "auto",
              note: Callable[[str], None] | None = None) -> None:
    """Play a clip now on the default device (or into a WAV file); note(text) says which,
    before it plays."""
    from loa.audio import read_wav
    from loa.station.wiring import sink_factory

    sink_for, sink_note = sink_factory(sink_kind, None)
    if note:
        note(sink_note)
    samples, rate = read_wav(clip.path)
    sink_for("default").play(samples, rate, f"clip_{clip.hash[:12]}")


def recorded_keys(renderer, bulletin: Bulletin) -> list[str]:
    """Every key a recorded bulletin's produced clip may be stored under."""
    from loa.audio.recording import _candidates, file_digest, recorded_key

    try:
        digest = file_digest(bulletin.audio_path)
    except OSError:
        return []
    return [recorded_key(renderer, digest, e) for e in _candidates(renderer)]


def prune_clips(schedule_paths: list[str | Path], clock: Clock | None = None
                ) -> tuple[int, int]:
    """Remove clips no schedule given still needs; (clips removed, bytes freed)."""
    from loa.station.core import clock_for, load_station
    from loa.station.wiring import chain_for, renderer_for, voice_of, voiced

    keep: set[str] = set()
    for path in schedule_paths:
        station = load_station(path)
        st = station.schedule.station
        renderers = {("", None): renderer_for(st, chain_for(st))}
        today = clock_for(station, clock).now().date()
        for b in needed_bulletins(station.schedule, station.bulletins, today):
            voice = voice_of(b)
            if voice not in renderers:
                own = voiced(st, *voice)
                renderers[voice] = renderer_for(own, chain_for(own))
            if b.audio:  # its produced clip, whichever intro it has
                keep.update(recorded_keys(renderers[("", None)], b))
                continue
            renderer = renderers[voice]
            spoken = renderer.normalize(b.text)
            keep.update(renderer.key(spoken, e) for e in renderer.chain.engines)
    store = _store()
    try:
        return store.prune(keep)
    finally:
        store.close()


@dataclass
class Said:
    path: Path
    seconds: float
    engine: str
    voice: str
    engines_failed: list[str]  # Vietnamese, for each engine passed over


def say(text: str, output: str | Path, engines: tuple[str, ...] | None = None,
        voice: str = "north", chime: bool = True) -> Said:
    """Read one text into a WAV file (the station's chain of engines, no station needed)."""
    from loa.audio import AudioSettings, assemble, sentences, write_wav
    from loa.fsio import check_target
    from loa.station.wiring import chain_for, normalizer
    from loa.voice.espeak import VOICES

    check_target(output)  # before the voice works for nothing
    chain = chain_for(None, engines=engines)
    for engine in chain.engines:
        if engine.name == "espeak":
            engine.voice = VOICES[voice]
    spoken = normalizer(voice)(text)
    batch = chain.synthesize_all([sentences(spoken)])
    audio = AudioSettings(chime=chime)
    samples = assemble(batch.speeches[0], audio)
    used_voice = getattr(batch.engine, "voice", "")
    write_wav(output, samples, audio.rate,
              comment=f"loa engine={batch.engine.name} voice={used_voice}")
    return Said(Path(output), len(samples) / audio.rate, batch.engine.name, used_voice,
                list(dict.fromkeys(f.message_vi for f in batch.failures)))


class Voicing:
    """How the station reads bulletins, for a page that shows several: the schedule read
    once, one renderer (and its clip store) per voice. Use as a context manager."""

    def __init__(self, schedule_path: str | Path):
        from loa.schedule import load_schedule

        self.station = load_schedule(schedule_path).station
        self._renderers: dict = {}

    def __enter__(self) -> Voicing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for r in self._renderers.values():
            r.store.close()
        self._renderers.clear()

    def renderer(self, voice: tuple[str, float | None] = ("", None)):
        from loa.station.wiring import chain_for, renderer_for, voiced

        if voice not in self._renderers:
            station = voiced(self.station, *voice)
            self._renderers[voice] = renderer_for(station, chain_for(station))
        return self._renderers[voice]

    def reading(self, text: str, voice: str = "") -> str:
        """The words as the station's voice reads them (its normalizer: numbers, dates,
        abbreviations, its lexicon); remembered in the clip store like a render's."""
        return self.renderer((voice, None)).spoken(" ".join(text.split()))

    def find(self, bulletin: Bulletin) -> Clip | None:
        """The clip already made for a bulletin as it is now (any engine), or None."""
        from loa.station.wiring import voice_of

        if bulletin.audio:
            from loa.audio.recording import lookup_recorded

            if bulletin.audio_path is None or not bulletin.audio_path.is_file():
                return None
            return lookup_recorded(self.renderer(), bulletin.audio_path)
        return self.renderer(voice_of(bulletin)).lookup(bulletin.text)

    def listen(self, bulletin: Bulletin, offline: bool = True) -> Clip:
        """The clip a bulletin airs as, made now if missing (offline engines by default: a
        listen must not wait on the internet). LoaError (Vietnamese) if none can be made."""
        from loa.station.wiring import _why_not, produce_recording, voice_of

        try:
            if bulletin.audio:  # a recording is heard as it airs: produced
                return produce_recording(self.renderer(), bulletin, offline).clip
            renderer = self.renderer(voice_of(bulletin))
            found = renderer.lookup(bulletin.text)
            if found is not None:
                return found
            engines = renderer.offline() if offline else None
            return renderer.render(bulletin.text, engines or None).clip
        except Exception as exc:  # an engine's failure, in words for the officer
            why = exc.problems[0].message if isinstance(exc, LoaError) else _why_not(exc)
            raise LoaError(f"không đọc thử được bản tin “{bulletin.title}”: "
                           f"{why.rstrip('.')}.") from exc


def reading(schedule_path: str | Path, text: str, voice: str = "") -> str:
    """The words as the station's voice will read them, in a bulletin's own voice if set."""
    with Voicing(schedule_path) as v:
        return v.reading(text, voice)


def listen_clip(schedule_path: str | Path, bulletin: Bulletin, offline: bool = True) -> Clip:
    """The clip a bulletin airs as, made now if missing (see Voicing.listen)."""
    with Voicing(schedule_path) as v:
        return v.listen(bulletin, offline)


def find_listen_clip(schedule_path: str | Path, bulletin: Bulletin) -> Clip | None:
    """The clip already made for a bulletin as it is now (any engine), or None."""
    with Voicing(schedule_path) as v:
        return v.find(bulletin)
