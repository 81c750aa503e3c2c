"""Build the pipeline's parts from a schedule and the embedded defaults."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from loa import settings
from loa.audio.cache import Clip, ClipError
from loa.audio.recording import RECORDED  # a recorded bulletin's "engine" in the log
from loa.audio.render import Renderer
from loa.clock import Clock
from loa.errors import LoaError
from loa.schedule.model import Station
from loa.script.bulletin import Bulletin
from loa.voice import EngineChain, default_chain

if TYPE_CHECKING:  # the player (APScheduler) loads only where something plays
    from loa.player.sinks import Sink

log = logging.getLogger(__name__)


def normalizer(variant: str = "north", station: Station | None = None) -> Callable[[str], str]:
    """The station's reading rules: number variant by voice, its days, its lexicon
    (built on first use: a cached render finds its readings in the clip store)."""
    from loa.script.reading import Reading

    if station is not None:
        variant = station.voice
    return Reading(
        variant="south" if variant == "south" else "north",
        day_prefix=station.day_prefix if station else "mùng",
        lexicon_files=[station.lexicon] if station and station.lexicon else (),
    )


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


def voiced(station: Station, voice: str = "", speed: float | None = None) -> Station:
    """The station as one bulletin is read: its own voice and speed, when it has them."""
    from dataclasses import replace

    if not voice and speed is None:
        return station
    return replace(station, voice=voice or station.voice,
                   speed=station.speed if speed is None else speed)


def voice_of(bulletin: Bulletin) -> tuple[str, float | None]:
    """A bulletin's own (voice, speed); ("", None): the station's."""
    return getattr(bulletin, "voice", "") or "", getattr(bulletin, "speed", None)


def recorded_clip(bulletin: Bulletin) -> Clip:
    """A bulletin's recording as it is, unproduced (no chime, intro or levelling): what
    airs only when production fails at air time (its bytes are the approved ones).
    ClipUnavailable (Vietnamese) if it is missing or not a WAV."""
    import hashlib

    from loa.audio.wav import read_wav

    path = bulletin.audio_path
    if path is None:
        raise ValueError("bulletin has no recording")
    try:
        data = path.read_bytes()
        samples, rate = read_wav(path)
    except OSError:
        raise ClipUnavailable(f"không tìm thấy tệp ghi âm '{bulletin.audio}' cạnh tệp bản "
                              "tin") from None
    except Exception as exc:  # not a WAV loa can read
        raise ClipUnavailable(f"tệp ghi âm '{bulletin.audio}' không phải tệp WAV đọc được "
                              f"({exc})") from None
    if not rate or not len(samples):
        raise ClipUnavailable(f"tệp ghi âm '{bulletin.audio}' không có âm thanh")
    return Clip(path, hashlib.sha256(data).hexdigest()[:32], RECORDED, "", len(samples) / rate)


def produce_recording(renderer: Renderer, bulletin: Bulletin, offline: bool = False,
                      upgrade: bool = False):
    """A bulletin's recording produced like any clip (chime, the station's intro and outro,
    levelled), from the store if made before. offline: the intro by the offline engines
    only (at air or for a listen: never wait on the internet). LoaError if unreadable."""
    from loa.audio.recording import produce_recorded

    path = bulletin.audio_path
    if path is None:
        raise ValueError("bulletin has no recording")
    if not path.is_file():
        raise LoaError(f"không tìm thấy tệp ghi âm '{bulletin.audio}' cạnh tệp bản tin.", path)
    return produce_recorded(renderer, path, renderer.offline() if offline else None,
                            label=bulletin.title, upgrade=upgrade)


def _produce_in_child(schedule_path: str, recordings: list[tuple[str, str]], offline: bool,
                      clips_dir: str) -> tuple[list, list]:
    """Runs in a child process: produces each (audio path, title) into the parent's clip
    store (named: a forkserver keeps the environment it started with); returns (clips or
    Vietnamese reasons, the store's notes)."""
    from loa.audio.recording import produce_recorded
    from loa.schedule import load_schedule

    station = load_schedule(schedule_path).station
    renderer = renderer_for(station, chain_for(station), Path(clips_dir))
    engines = renderer.offline() if offline else None
    out: list = []
    for path, title in recordings:
        try:
            out.append(produce_recorded(renderer, Path(path), engines, label=title).clip)
        except LoaError as exc:
            out.append(exc.problems[0].message)
        except Exception as exc:  # reported to the daemon, which airs the raw recording
            out.append(_why_not(exc))
    return out, renderer.store.take_notes()


def _why_not(exc: Exception) -> str:
    """A render failure in words for the play log (Vietnamese, technical detail kept)."""
    from loa.audio.cache import ClipError
    from loa.voice.engine import EngineError

    if isinstance(exc, ClipError):
        return str(exc)
    if isinstance(exc, EngineError):
        if exc.engine == "chain" and exc.detail == "no engine to try":
            return "đài không có bộ đọc ngoại tuyến (espeak hoặc piper)"
        return f"bộ đọc {exc.engine} không đọc được ({exc.kind}: {exc.detail})"
    return f"lỗi khi đọc ({type(exc).__name__}: {exc})"


def _render_in_child(schedule_path: str, texts: list[str], offline: bool,
                     voice: tuple[str, float | None] = ("", None),
                     env: dict[str, str] | None = None) -> tuple[list, list]:
    """Runs in a child process: loads the schedule, renders (in a bulletin's own voice, if
    given), returns (clips or Vietnamese reasons, the store's notes)."""
    from loa.schedule import load_schedule

    if env is not None:
        _use_env(env)
    station = voiced(load_schedule(schedule_path).station, *voice)
    renderer = renderer_for(station, chain_for(station))
    out: list = []
    for text in texts:
        try:
            out.append(renderer.render(text, renderer.offline() if offline else None).clip)
        except Exception as exc:  # reported to the daemon, which logs the play as failed
            out.append(_why_not(exc))
    return out, renderer.store.take_notes()


def _loa_env() -> dict[str, str]:
    """loa's own settings from the environment (data folder, gTTS endpoint and timeout),
    handed to a child: a forkserver's children inherit the server's, not ours now."""
    return {k: v for k, v in os.environ.items() if k.startswith("LOA_")}


def _use_env(env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("LOA_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)


def _upgrade_in_child(schedule_path: str, text: str, voice: tuple[str, float | None],
                      env: dict[str, str]) -> tuple[Clip | str | None, list[str]]:
    """Runs in a child process: read `text` again with the engines the station prefers
    over the one its clip was made by. (the new clip, or why not, or None when there is
    nothing to do; the store's notes). The old clip is untouched: the new one has a key
    of its own and is indexed only once complete."""
    from loa.schedule import load_schedule

    _use_env(env)
    station = voiced(load_schedule(schedule_path).station, *voice)
    renderer = renderer_for(station, chain_for(station))
    try:
        old = renderer.lookup(text, verify="full")
        better = renderer.better_than(old) if old is not None and old.fallback else []
        if not better:
            return None, renderer.store.take_notes()
        return renderer.render(text, better).clip, renderer.store.take_notes()
    except Exception as exc:  # reported to the daemon, which tries again later
        return _why_not(exc), renderer.store.take_notes()


class ClipUnavailable(ClipError):
    """No good clip for a bulletin at air time; the message (Vietnamese) goes to the log
    (a ClipError: the player shows its words to officers)."""


class ChildRendering:
    """The daemon's clips: looked up in the store in process; made, when missing, in a
    short-lived child process, so the always-on daemon never loads scipy (~75 MB).

    Every clip is checked before air: fully (decodes, right length, not silent, content
    hash) ahead of air time, by its content hash at air time. A bad clip is removed and
    made again: ahead with the whole chain, at air with the offline engines only."""

    def __init__(self, schedule_path: str | Path, station: Station,
                 report: Callable[[str], None] | None = None):
        self.path = str(schedule_path)
        self.station = station
        self.report = report or (lambda text: print(f"Cảnh báo: {text}", file=sys.stderr,
                                                    flush=True))
        self.lookup_renderer = renderer_for(station, chain_for(station))
        self._voiced: dict[tuple[str, float | None], Renderer] = {}  # bulletins' own voices
        self._damaged: dict[str, str] = {}  # text -> why its clip was removed, until remade
        self._tell(self.lookup_renderer.store.take_notes())

    def _renderer(self, voice: tuple[str, float | None]) -> Renderer:
        if voice == ("", None):
            return self.lookup_renderer
        if voice not in self._voiced:
            station = voiced(self.station, *voice)
            self._voiced[voice] = renderer_for(station, chain_for(station))
        return self._voiced[voice]

    def _tell(self, notes: list[str]) -> None:
        for note in notes:
            self.report(note)

    def _refresh(self) -> None:
        from loa.schedule import load_schedule

        try:
            station = load_schedule(self.path).station
        except Exception:  # a broken file is the reload's to report; keep the old station
            return
        if station != self.station:
            self.station = station
            self.lookup_renderer = renderer_for(station, chain_for(station))
            self._voiced.clear()

    @staticmethod
    def _child(fn, *args):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            return pool.submit(fn, *args).result()

    def _run(self, texts: list[str], offline: bool,
             voice: tuple[str, float | None] = ("", None)) -> list:
        made, notes = self._child(_render_in_child, self.path, texts, offline, voice, _loa_env())
        self._tell(notes)
        return made

    def _lookup_recorded(self, path: Path, verify: str) -> Clip | None:
        from loa.audio.recording import lookup_recorded

        problems: list[str] = []
        clip = lookup_recorded(self.lookup_renderer, path, verify, problems)
        self._tell(self.lookup_renderer.store.take_notes())
        if problems:
            log.warning("produced recording %s was damaged (%s); made again", path,
                        problems[0])
        return clip

    def _recorded_at_air(self, bulletin: Bulletin) -> Clip:
        """The produced recording; made now (offline intro) if missing; if production
        fails, the recording as it is: the approved voice airs either way."""
        path = bulletin.audio_path
        if path is None or not path.is_file():
            raise ClipUnavailable(f"không tìm thấy tệp ghi âm '{bulletin.audio}' cạnh tệp "
                                  "bản tin")
        # planned while approved; the file can change without the bulletins file (so
        # without a reload): what airs must be the bytes the approval bound
        if bulletin.approved_hash and bulletin.approved_hash != bulletin.approval_hash():
            raise ClipUnavailable(f"tệp ghi âm '{bulletin.audio}' đã bị thay đổi sau khi "
                                  "duyệt; không phát, cần duyệt lại")
        clip = self._lookup_recorded(path, "cheap")
        if clip is not None:
            return clip
        try:
            made, notes = self._child(_produce_in_child, self.path,
                                      [(str(path), bulletin.title)], True,
                                      str(self.lookup_renderer.store.folder))
            self._tell(notes)
            made = made[0]
        except Exception as exc:  # the child itself died
            made = _why_not(exc)
        if not isinstance(made, str):
            return made
        log.warning("cannot produce recording %s at air time (%s); airing it as it is",
                    path, made)
        try:
            return recorded_clip(bulletin)
        except ClipUnavailable as exc:
            raise ClipUnavailable(f"không làm được đoạn phát từ tệp ghi âm ({made}); "
                                  f"{exc}") from None

    def _lookup(self, text: str, verify: str,
                voice: tuple[str, float | None] = ("", None)) -> Clip | None:
        problems: list[str] = []
        renderer = self._renderer(voice)
        clip = renderer.lookup(text, verify=verify, problems=problems)
        self._tell(renderer.store.take_notes())
        if problems:
            self._damaged[text] = problems[0]
        elif clip is not None:
            self._damaged.pop(text, None)
        return clip

    def ahead(self, bulletins: list[Bulletin]) -> None:
        """Before air time, with the whole engine chain (the internet if it is there)."""
        self._refresh()
        groups: dict[tuple[str, float | None], list[str]] = {}
        recordings: dict[str, str] = {}  # audio path -> title
        for b in bulletins:  # one child per voice: a bulletin may have its own
            if b.audio:  # a recording: produced (chime, intro, levelled), not read
                if b.audio_path.is_file():
                    recordings.setdefault(str(b.audio_path), b.title)
            else:
                groups.setdefault(voice_of(b), []).append(b.text)
        missing_rec = [(path, title) for path, title in recordings.items()
                       if self._lookup_recorded(Path(path), "full") is None]
        if missing_rec:
            made, notes = self._child(_produce_in_child, self.path, missing_rec, False,
                                      str(self.lookup_renderer.store.folder))
            self._tell(notes)
            for (path, _), clip in zip(missing_rec, made, strict=True):
                if isinstance(clip, str):
                    log.warning("cannot produce a recording ahead of air time: %s (%s)",
                                clip, path)
        for voice, texts in groups.items():
            missing = [text for text in dict.fromkeys(texts)
                       if self._lookup(text, "full", voice) is None]
            if not missing:
                continue
            for text, made in zip(missing, self._run(missing, False, voice), strict=True):
                if isinstance(made, str):
                    log.warning("cannot render ahead of air time: %s (%s)", made, text[:60])

    def backup_voiced(self, bulletins: list[Bulletin]
                      ) -> dict[tuple[tuple[str, float | None], str], tuple[Clip, list]]:
        """{(voice, text): (clip, bulletins)} for those whose clip a backup engine read
        and a better engine of the station could read again."""
        out: dict = {}
        for b in bulletins:
            if b.audio:
                continue
            voice = voice_of(b)
            if (voice, b.text) in out:
                out[(voice, b.text)][1].append(b)
                continue
            clip = self._lookup(b.text, "cheap", voice)
            if clip is not None and clip.fallback and self._renderer(voice).better_than(clip):
                out[(voice, b.text)] = (clip, [b])
        return out

    def upgrade(self, bulletins: list[Bulletin], quiet: Callable[[], bool],
                done: Callable[[Bulletin, Clip, Clip], None]) -> int:
        """Read again, in a child process, the bulletins' clips a backup engine made, one
        clip at a time while quiet() holds; stop at the first the better engines cannot
        read (offline still). done(bulletin, old, new) for each bulletin upgraded.
        Returns how many clips were made."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._refresh()
        todo = self.backup_voiced(bulletins)
        if not todo or not quiet():
            return 0
        made = 0
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            for (voice, text), (old, group) in todo.items():
                if not quiet():
                    log.info("upgrade paused: a session is near")
                    break
                new, notes = pool.submit(_upgrade_in_child, self.path, text, voice,
                                         _loa_env()).result()
                self._tell(notes)
                if new is None:
                    continue  # made meanwhile (loa render --upgrade)
                if isinstance(new, str):
                    log.info("backup-voice clips stay for now: %s", new)
                    break
                made += 1
                for b in group:
                    done(b, old, new)
        return made

    def at_air(self, bulletin: Bulletin) -> Clip:
        """On air: the store's clip if its content is still the one made, else one read
        offline now; never wait on the internet; a recording, when the bulletin has one,
        produced like a clip (made now if missing).
        Raises ClipUnavailable (Vietnamese)."""
        if bulletin.audio:
            return self._recorded_at_air(bulletin)
        voice = voice_of(bulletin)
        clip = self._lookup(bulletin.text, "cheap", voice)
        if clip is None:
            try:
                made = self._run([bulletin.text], True, voice)[0]
            except Exception as exc:  # the child itself died
                made = _why_not(exc)
            if isinstance(made, str):
                damage = self._damaged.get(bulletin.text)
                before = (f"đoạn âm thanh đã đọc sẵn bị hỏng ({damage})" if damage
                          else "chưa có đoạn âm thanh đọc sẵn")
                raise ClipUnavailable(f"{before}, đọc lại ngay bằng bộ đọc ngoại tuyến "
                                      f"không được: {made}")
            self._damaged.pop(bulletin.text, None)
            clip = made
        return clip


def relays_for(station: Station, clock: Clock):
    from loa.player.relays import GpioRelays, NoRelays

    return GpioRelays() if station.relays == "gpio" else NoRelays()


def sink_factory(kind: str, wav_dir: Path | None, clock: Clock | None = None,
                 fast: bool = False) -> tuple[Callable[[str], Sink], str]:
    """kind: auto | device | wav. Returns the factory and a Vietnamese note for the officer.
    The WAV sink keeps real time on `clock` unless `fast` (tests only)."""
    from loa.player.sinks import SoundDeviceSink, WavDirSink, output_devices

    if kind == "auto":
        kind = "device" if output_devices() else "wav"
    if kind == "device":
        sinks: dict[str, Sink] = {}

        def device_sink(device: str) -> Sink:
            if device not in sinks:
                sinks[device] = SoundDeviceSink(device, clock)
            return sinks[device]

        return device_sink, "Phát ra thiết bị âm thanh."
    folder = wav_dir or settings.data_dir() / "played"
    wav = WavDirSink(folder, clock, fast)
    note = (f"Máy này không có thiết bị âm thanh: những gì lẽ ra được phát sẽ được ghi "
            f"thành tệp WAV trong {folder}.")
    return (lambda device: wav), note
