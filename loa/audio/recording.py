"""An officer's own recording as a bulletin's body: imported once, produced like speech.

Import (`import_recording`) decodes what phones and browsers make (mp3, m4a/aac, amr,
ogg/opus, webm, wav) through ffmpeg, to mono at the station rate, and cleans it for
horns: a gentle high-pass (handling rumble, wind, the table the phone lay on), a soft
noise gate between phrases, silence trimmed at both ends. The result is a plain 16-bit
WAV beside the bulletins file; its bytes are what an approval binds.

Production (`produce_recorded`) puts the chime, the station's spoken intro and outro
around it and levels the whole like any TTS clip; the clip is kept in the clip store
under the recording's hash and the production settings, so air time finds it made.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loa.audio.settings import RATE
from loa.errors import LoaError

if TYPE_CHECKING:
    import numpy as np

    from loa.audio.cache import Clip
    from loa.audio.render import Rendered, Renderer
    from loa.voice.engine import Engine, Speech

RECORDED = "ghi-am"  # the "engine" of a bulletin read by a person; the log keeps this code
LABEL_VI = "giọng đọc thu âm"  # what officers read for it
MAX_SECONDS = 30 * 60  # longer than any bulletin: a wrong file, or a phone left recording
HIGHPASS_HZ = 90  # below the voice's fundamental; phones pick up handling noise there
GATE_FLOOR_DB = -15.0  # how far the gate turns pauses down (not off: breaths stay natural)
PEAK_DBFS = -3.0  # the imported file's peak: quiet phone recordings keep their detail
CLEANING = f"hp={HIGHPASS_HZ};gate={GATE_FLOOR_DB};peak={PEAK_DBFS};v1"
FORMATS_VI = "mp3, m4a, aac, amr, ogg, opus, webm, wav"
# ffmpeg's demuxers for what phones and browsers record, and no others: a playlist (hls,
# concat) uploaded as "ghi-am.mp3" would otherwise read other files on the machine
DEMUXERS = "mp3,mov,mp4,m4a,3gp,aac,amr,amrnb,amrwb,ogg,matroska,webm,wav,flac,caf,aiff"


@dataclass(frozen=True)
class Recording:
    path: Path  # the cleaned 16-bit mono WAV
    seconds: float
    sha256: str  # of the WAV file's bytes (what an approval binds)
    rate: int
    source: Path  # the file it was imported from
    trimmed_s: float  # silence cut from both ends together


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found is None:
        raise LoaError("không tìm thấy chương trình ffmpeg để đọc tệp ghi âm; cài bằng: "
                       "sudo apt install ffmpeg")
    return found


def decode_file(src: str | Path, rate: int = RATE, highpass_hz: float | None = None,
                max_seconds: float | None = None) -> np.ndarray:
    """Any audio file ffmpeg reads, as mono float32 at `rate`. LoaError (Vietnamese,
    naming the file) if it is not audio, unreadable, or longer than `max_seconds`
    (default MAX_SECONDS)."""
    import numpy as np

    max_seconds = MAX_SECONDS if max_seconds is None else max_seconds
    src = Path(src)
    if not src.is_file():
        if src.exists():  # a folder, a FIFO (ffmpeg would wait on it forever), a device
            raise LoaError(f"'{src.name}' không phải một tệp ghi âm (là thư mục hay tệp "
                           "đặc biệt); hãy chọn tệp âm thanh.", src)
        raise LoaError(f"không tìm thấy tệp ghi âm '{src.name}'.", src)
    if src.stat().st_size == 0:
        raise LoaError(f"tệp ghi âm '{src.name}' rỗng (0 byte): điện thoại chưa ghi được gì.",
                       src)
    # "file:" and the whitelist: a name such as '-', 'pipe:0' or 'concat:a|b' is a file
    # name, never stdin or another protocol; nor may a playlist inside reach elsewhere
    args = [_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error",
            "-protocol_whitelist", "file", "-format_whitelist", DEMUXERS,
            "-i", f"file:{src.absolute()}",
            "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(rate)]
    if highpass_hz:
        # two poles at 90 Hz: gentle, leaves the voice's body alone
        args += ["-af", f"highpass=f={highpass_hz}:poles=2"]
    # one second more than allowed: enough to tell "too long" without decoding hours
    args += ["-t", str(max_seconds + 1), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=600, check=False)
    except subprocess.TimeoutExpired:
        raise LoaError(f"đọc tệp ghi âm '{src.name}' quá lâu (hơn 10 phút); tệp có thể "
                       "hỏng.", src) from None
    except OSError as exc:
        raise LoaError(f"không chạy được ffmpeg để đọc tệp ghi âm '{src.name}' ({exc}).",
                       src) from None
    if done.returncode != 0 or not done.stdout:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = (detail[-1] if detail else "không có âm thanh")
        for shown in (f"file:{src.absolute()}", str(src.absolute()), str(src)):
            why = why.replace(shown, src.name)
        raise LoaError(f"tệp '{src.name}' không phải tệp âm thanh đọc được (nhận: "
                       f"{FORMATS_VI}); ffmpeg báo: {why[:200]}", src)
    pcm = np.frombuffer(done.stdout, dtype="<i2", count=len(done.stdout) // 2)
    if len(pcm) > max_seconds * rate:
        limit = (f"{max_seconds / 60:g} phút" if max_seconds >= 60
                 else f"{max_seconds:g} giây")
        raise LoaError(f"tệp ghi âm '{src.name}' dài hơn {limit}; một bản tin không dài "
                       "như vậy (chọn nhầm tệp, hay quên tắt ghi âm?).", src)
    x = pcm.astype(np.float32)
    x *= np.float32(1 / 32768.0)
    return x


def _frame_levels(x: np.ndarray, win: int) -> np.ndarray:
    import numpy as np

    n = len(x) // win
    if n == 0:
        return np.zeros(0)
    frames = x[: n * win].reshape(n, win)  # a view: half an hour is 300 MB of float32
    power = np.einsum("ij,ij->i", frames, frames).astype(np.float64) / win
    return 10 * np.log10(power + 1e-12)


def clean(x: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """Noise gate and silence trim (x already high-passed, float32, changed in place: a
    Pi has no room for copies of half an hour); returns the cleaned samples (peak at
    PEAK_DBFS) and the seconds trimmed. Raises ValueError if there is no voice.

    Levels are judged against the recording itself: the noise floor is its quietest
    tenth, the voice its loudest twentieth; a phone held far away is quiet, not silent."""
    import numpy as np

    win = max(1, int(rate * 0.02))
    levels = _frame_levels(x, win)
    if len(levels) < 10:
        raise ValueError("too short")
    floor, voice = np.percentile(levels, 10), np.percentile(levels, 95)
    if voice < -60 or voice - floor < 6:
        raise ValueError("silent")
    # halfway up from the floor, never more than 12 dB over it: soft syllables pass
    threshold = floor + min(12.0, (voice - floor) / 2)
    loud = levels > threshold
    # hold 200 ms after and 60 ms before a loud frame: the gate never clips a word
    hold, lead = int(0.2 * rate / win), int(0.06 * rate / win)
    open_ = np.zeros(len(loud), dtype=bool)
    for i in np.nonzero(loud)[0]:
        open_[max(0, i - lead): i + hold + 1] = True
    if not open_.any():
        raise ValueError("silent")
    first, last = np.nonzero(open_)[0][[0, -1]]
    if voice - floor >= 15:  # a real gap between voice and noise: gate the pauses
        gain = np.where(open_, 1.0, 10 ** (GATE_FLOOR_DB / 20))
        # 20 ms ramps between the two gains: no clicks
        ramp = np.ones(max(1, int(0.02 * rate / win) * 2 + 1))
        gain = np.convolve(gain, ramp / len(ramp), mode="same")
        centers = (np.arange(len(gain)) + 0.5) * win
        step = rate * 10  # ten seconds at a time: the gain never exists for the whole file
        for at in range(0, len(x), step):
            part = x[at:at + step]
            part *= np.interp(np.arange(at, at + len(part)), centers, gain).astype(np.float32)
    start = first * win
    end = min(len(x), (last + 1) * win)
    y = x[start:end]
    if len(y) < rate * 0.3:
        raise ValueError("silent")
    peak = max(float(y.max()), -float(y.min()))
    if peak > 0:
        y *= np.float32(10 ** (PEAK_DBFS / 20) / peak)
    return y, (len(x) - len(y)) / rate


def import_recording(src: Path, dest: Path) -> Recording:
    """Decode `src` (what a phone or browser records) through ffmpeg to mono at loa's
    RATE, clean it (high-pass, noise gate, silence trimmed) and write a 16-bit WAV to
    `dest` atomically. LoaError (Vietnamese, naming the file) for a file that is not
    audio or cannot be read, one empty or silent, one over 30 minutes, or no ffmpeg."""
    import numpy as np

    from loa.audio.wav import write_wav
    from loa.fsio import check_target

    src, dest = Path(src), Path(dest)
    check_target(dest)  # before the decoding works for nothing
    x = decode_file(src, RATE, HIGHPASS_HZ)
    try:
        y, trimmed = clean(x, RATE)
    except ValueError:
        raise LoaError(f"tệp ghi âm '{src.name}' không có tiếng nói (trống hoặc im lặng).",
                       src) from None
    y *= np.float32(32767.0)  # as produce.to_int16, in place: no second copy of it all
    np.round(y, out=y)
    np.clip(y, -32768, 32767, out=y)
    write_wav(dest, y.astype(np.int16), RATE, comment=f"loa recording cleaning={CLEANING}")
    digest = hashlib.sha256(dest.read_bytes()).hexdigest()
    return Recording(dest, round(len(y) / RATE, 3), digest, RATE, src, round(trimmed, 3))


# --- production -------------------------------------------------------------------------


def recording_speech(path: Path, data: bytes | None = None) -> Speech:
    """A recording file as the body of a clip: its WAV bytes as they are (`data`: those
    bytes, already read); any other format (an `audio:` set by hand) decoded through
    ffmpeg. LoaError if unreadable."""
    from loa.audio.wav import parse_wav
    from loa.voice.engine import Speech

    try:
        data = path.read_bytes() if data is None else data
    except OSError:
        raise LoaError(f"không đọc được tệp ghi âm '{path.name}'.", path) from None
    try:
        parse_wav(data)
    except Exception:  # not a WAV loa reads directly (an `audio:` set by hand): ffmpeg
        import io
        import wave

        from loa.audio.produce import to_int16

        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(to_int16(decode_file(path, RATE)).tobytes())
        data = buf.getvalue()
    return Speech(data, "wav", RECORDED, "")


# (path, inode, mtime_ns, ctime_ns, size) -> sha256; ctime: mtime can be set back by hand
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of the file, remembered while it is unchanged (looked up at every air)."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _intro_id(engine: Engine | None) -> str:
    return "-" if engine is None else f"{engine.name}:{getattr(engine, 'voice', '')}"


def recorded_key(renderer: Renderer, digest: str, engine: Engine | None) -> str:
    """The clip store's key of a recording produced by this renderer's settings, its intro
    and outro read by `engine` (None: no intro or outro, or none could be read)."""
    from loa.audio.cache import clip_key

    return clip_key(f"{RECORDED}:{digest}", RECORDED, _intro_id(engine), renderer.speed,
                    renderer.settings.fingerprint(), renderer.intro, renderer.outro)


def _candidates(renderer: Renderer) -> list[Engine | None]:
    if not (renderer.intro or renderer.outro):
        return [None]
    return [*renderer.chain.engines, None]


def lookup_recorded(renderer: Renderer, path: Path, verify: str = "cheap",
                    problems: list[str] | None = None) -> Clip | None:
    """The produced clip of this recording, best intro first; a damaged one is removed
    (why goes to `problems`). None if none is made or the file cannot be read."""
    try:
        digest = file_digest(path)
    except OSError:
        return None
    for engine in _candidates(renderer):
        clip = renderer.store.get(recorded_key(renderer, digest, engine))
        if clip is None:
            continue
        problem = renderer.store.verify(clip, full=verify == "full") if verify else None
        if problem is None:
            return clip
        renderer.store.discard(clip.hash, problem)
        if problems is not None:
            problems.append(problem)
    return None


def better_intro(renderer: Renderer, clip: Clip) -> list[Engine]:
    """Engines the station prefers over the one that read this produced recording's intro
    (made offline at air time, say): `loa render --upgrade` tries them."""
    if not (renderer.intro or renderer.outro):
        return []
    names = [e.name for e in renderer.chain.engines]
    used = clip.voice.split(":")[0]
    if clip.voice == "-":  # made with no intro at all: any engine is better
        return list(renderer.chain.engines)
    return renderer.chain.engines[: names.index(used)] if used in names else []


def produce_recorded(renderer: Renderer, path: Path, engines: list[Engine] | None = None,
                     label: str = "", upgrade: bool = False) -> Rendered:
    """The recording with the chime, the station's intro and outro (read by the first of
    `engines` that can, default the chain's; none: without them), levelled like any clip,
    stored. Found in the store if already made; with upgrade, one whose intro a lesser
    engine read is made again by the better ones when they answer (else kept). LoaError
    if the file cannot be read."""
    from loa.audio.produce import assemble_measured
    from loa.audio.render import Rendered, sentences
    from loa.audio.settings import TRIM_KEEP_S
    from loa.voice.engine import EngineError

    found = lookup_recorded(renderer, path, verify="full")
    if found is not None:
        engines = better_intro(renderer, found) if upgrade else []
        if not engines:
            return Rendered(found, True)
    try:
        data = path.read_bytes()
    except OSError:
        raise LoaError(f"không đọc được tệp ghi âm '{path.name}'.", path) from None
    # the key is the hash of the very bytes produced: a file changed meanwhile is never
    # stored under the hash its approval bound
    digest = hashlib.sha256(data).hexdigest()
    body = [recording_speech(path, data)]
    engine, intro, outro, failures = None, [], [], []
    if renderer.intro or renderer.outro:
        gap = renderer.settings.sentence_gap_s + 2 * TRIM_KEEP_S
        try:
            batch = renderer.chain.synthesize_all(
                [sentences(renderer.intro), sentences(renderer.outro)], engines, gap_s=gap)
            engine, (intro, outro), failures = batch.engine, batch.speeches, batch.failures
        except EngineError as exc:  # the recording airs all the same, without its intro
            if found is not None:  # an upgrade that could not be: keep what was made
                return Rendered(found, True, [exc])
            failures = [exc]
    samples, levels = assemble_measured(body, renderer.settings, intro, outro)
    clip = renderer.store.put(
        recorded_key(renderer, digest, engine), samples, renderer.settings.rate,
        engine=RECORDED, voice=_intro_id(engine), preferred=RECORDED,
        text=f"[{LABEL_VI}] {label or path.name}", lufs=round(levels.lufs, 3),
        true_peak=round(levels.true_peak_dbtp, 3), mp3=renderer.mp3)
    return Rendered(clip, False, failures)
