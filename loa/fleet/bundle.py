"""The device's bundles on disk: what it plays when the network is gone, for days.

    <data>/server/bundles/<etag>/        the manifest's files (lich.yaml, bulletins ...)
                                         and .bundle.json (the manifest itself)
    <data>/server/bundles/current        a link to the last good one, swapped atomically
    <data>/server/clips/<sha256>.wav     clips by content, shared between bundles

A new bundle is accepted only whole: every clip present and its sha256 verified, and the
schedule loading with loa's own loader. Anything less is refused (BundleRefused, in
Vietnamese) and the last good bundle keeps playing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import IO

from loa.audio.cache import Clip, ClipError
from loa.script.bulletin import Bulletin, Version

log = logging.getLogger(__name__)

MANIFEST = ".bundle.json"
CURRENT = "current"
KEEP = 2
ENGINE = "may-chu"  # the log's engine for a clip the server produced
EMERGENCY = "khan-cap"  # the daemon's emergency bulletins: khan-cap-YYYYMMDD-HHMMSS
_ETAG = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SHA = re.compile(r"[0-9a-f]{64}")
MAX_FILES = 500
MAX_FILE_BYTES = 8 << 20


class BundleRefused(Exception):
    """A bundle that must not replace the last good one; str() is Vietnamese."""


def text_binding(text: str) -> str:
    """What a clip binds on the server's side ("text_sha256"): the words it reads."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_rel(name: object) -> PurePosixPath:
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise BundleRefused(f"gói lịch có tên tệp không hợp lệ: {name!r}")
    p = PurePosixPath(name)
    if p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) \
            or p.parts[0] in (MANIFEST, CURRENT):
        raise BundleRefused(f"gói lịch có tên tệp không hợp lệ: {name!r}")
    return p


@dataclass(frozen=True)
class Accepted:
    etag: str
    folder: Path
    schedule: Path
    downloaded: int  # clips fetched for it


class BundleStore:
    """<data>/server: bundles and clips. Thread-safe enough for one writer (the follower)
    and readers (the daemon): a reader sees the old bundle or the new one, never half."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.bundles = self.root / "bundles"
        self.clips = self.root / "clips"

    # --- reading ---------------------------------------------------------------------

    @property
    def current_link(self) -> Path:
        return self.bundles / CURRENT

    def current_etag(self) -> str | None:
        try:
            target = os.readlink(self.current_link)
        except OSError:
            return None
        name = Path(target).name
        return name if (self.bundles / name / MANIFEST).is_file() else None

    def manifest(self, etag: str | None = None) -> dict | None:
        etag = etag or self.current_etag()
        if etag is None:
            return None
        try:
            return json.loads((self.bundles / etag / MANIFEST).read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def schedule_path(self) -> Path | None:
        """The current schedule, reached through the `current` link: a swap is a reload."""
        man = self.manifest()
        if man is None:
            return None
        return self.current_link / str(_safe_rel(man.get("schedule") or "lich.yaml"))

    def clip_path(self, sha256: str) -> Path:
        return self.clips / f"{sha256}.wav"

    # --- accepting ---------------------------------------------------------------------

    def accept(self, etag: str, manifest: dict,
               fetch_clip: Callable[[str, IO[bytes]], int],
               zones: list[str] | None = None) -> Accepted:
        """Make `manifest` the current bundle once it is whole; BundleRefused otherwise
        (the current link untouched). Errors of fetch_clip (the network) pass through."""
        if not isinstance(etag, str) or not _ETAG.fullmatch(etag) or etag == CURRENT:
            raise BundleRefused(f"gói lịch có mã phiên bản không hợp lệ: {etag!r}")
        files = manifest.get("files")
        if not isinstance(files, dict) or not files or len(files) > MAX_FILES:
            raise BundleRefused("gói lịch không có tệp nào (hoặc quá nhiều tệp)")
        schedule = _safe_rel(manifest.get("schedule") or "lich.yaml")
        if str(schedule) not in files:
            raise BundleRefused(f"gói lịch thiếu tệp lịch {schedule}")
        clips = manifest.get("clips") or []
        if not isinstance(clips, list):
            raise BundleRefused("danh sách đoạn âm thanh của gói lịch không đúng dạng")
        downloaded = 0
        for c in clips:
            downloaded += self._ensure_clip(c, fetch_clip)
        self.bundles.mkdir(parents=True, exist_ok=True)
        final = self.bundles / etag
        if (final / MANIFEST).is_file():  # accepted before (e.g. rolled back to): check again
            self._load(final / str(schedule), manifest)
            self._swap(etag)
            return Accepted(etag, final, self.current_link / str(schedule), downloaded)
        tmp = Path(tempfile.mkdtemp(prefix=f".{etag}.", dir=self.bundles))
        try:
            for name, text in files.items():
                rel = _safe_rel(name)
                if not isinstance(text, str) or len(text.encode("utf-8")) > MAX_FILE_BYTES:
                    raise BundleRefused(f"tệp {rel} trong gói lịch không đúng dạng")
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            self._load(tmp / str(schedule), manifest)
            with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
                json.dump({**manifest, "etag": etag}, fh, ensure_ascii=False)
                fh.flush()
                os.fsync(fh.fileno())
            if final.exists():
                shutil.rmtree(final)  # a half-kept folder of an earlier try
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._swap(etag)
        return Accepted(etag, final, self.current_link / str(schedule), downloaded)

    def _load(self, schedule: Path, manifest: dict) -> None:
        from loa.errors import LoaError

        try:
            loaded = load_bundled(schedule, manifest)
        except LoaError as exc:
            raise BundleRefused(f"lịch trong gói không đọc được: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any failure refuses the bundle
            raise BundleRefused(f"lịch trong gói không đọc được ({type(exc).__name__})") from None
        # every approved bulletin that would air must have its clip in the bundle
        clips = BundleClips(self, manifest)
        for pool in loaded.bulletins.values():
            for b in pool:
                if clips.entry(b) is None:
                    raise BundleRefused(f"gói lịch thiếu đoạn âm thanh của bản tin «{b.title}»")
                for lang in b.versions:  # an approved version airs from its own clip
                    aired = b.for_air(lang)
                    if aired is not None and clips.entry(aired) is None:
                        from loa.languages import lower_name

                        raise BundleRefused(f"gói lịch thiếu đoạn âm thanh bản {lower_name(lang)} "
                                            f"của bản tin «{b.title}»")

    def _ensure_clip(self, c: object, fetch: Callable[[str, IO[bytes]], int]) -> int:
        if not isinstance(c, dict) or not isinstance(c.get("sha256"), str) \
                or not _SHA.fullmatch(c["sha256"]):
            raise BundleRefused("gói lịch có đoạn âm thanh không đúng dạng")
        sha = c["sha256"]
        path = self.clip_path(sha)
        if path.is_file():
            if file_sha256(path) == sha:
                return 0
            log.warning("clip %s on disk is damaged; fetching it again", sha)
            path.unlink(missing_ok=True)
        self.clips.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{sha[:16]}.", suffix=".part", dir=self.clips)
        try:
            with os.fdopen(fd, "wb") as fh:
                fetch(sha, fh)
                fh.flush()
                os.fsync(fh.fileno())
            got = file_sha256(Path(tmp))
            if got != sha:
                raise BundleRefused(f"đoạn âm thanh {sha[:12]}… tải về bị hỏng (mã kiểm tra "
                                    "không khớp)")
            expected = c.get("bytes")
            if isinstance(expected, int) and os.path.getsize(tmp) != expected:
                raise BundleRefused(f"đoạn âm thanh {sha[:12]}… tải về không đủ dung lượng")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return 1

    def _swap(self, etag: str) -> None:
        """temp link + rename: the daemon never sees no `current`."""
        tmp = self.bundles / f".current.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(etag, tmp)
        os.replace(tmp, self.current_link)
        with contextlib.suppress(OSError):
            fd = os.open(self.bundles, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # --- pruning -----------------------------------------------------------------------

    def prune(self, keep: int = KEEP) -> tuple[int, int]:
        """Keep the current bundle and the newest others up to `keep`; clips no kept bundle
        names are removed. (bundles removed, clips removed)."""
        if not self.bundles.is_dir():
            return 0, 0
        current = self.current_etag()
        kept = [d for d in self.bundles.iterdir()
                if d.is_dir() and not d.is_symlink() and (d / MANIFEST).is_file()]
        kept.sort(key=lambda d: (d.name == current, (d / MANIFEST).stat().st_mtime),
                  reverse=True)
        gone = 0
        for d in kept[keep:]:
            shutil.rmtree(d, ignore_errors=True)
            gone += 1
        for d in self.bundles.iterdir():  # temp folders an interrupted accept left
            if d.name.startswith(".") and d.is_dir() and not d.is_symlink():
                shutil.rmtree(d, ignore_errors=True)
        used: set[str] = set()
        for d in kept[:keep]:
            man = self.manifest(d.name) or {}
            used |= {c.get("sha256") for c in man.get("clips") or [] if isinstance(c, dict)}
        removed = 0
        if self.clips.is_dir():
            for f in self.clips.iterdir():
                if f.suffix == ".wav" and f.stem not in used:
                    f.unlink(missing_ok=True)
                    removed += 1
                elif f.name.endswith(".part"):
                    f.unlink(missing_ok=True)
        return gone, removed


class BundleClips:
    """The daemon's clip resolver on a bundle: each bulletin's verified clip, never
    rendered here. The manifest is read from the current bundle at each call unless
    one is given (checking a bundle before it is current)."""

    def __init__(self, store: BundleStore, manifest: dict | None = None):
        self.store = store
        self._fixed = manifest
        self._cache: tuple[str | None, dict] = (None, {})
        # an emergency's words come with it, not in a bundle: read on this machine, offline
        self.emergency: Callable[[object], Clip] | None = None

    def _index(self) -> dict[tuple[str, str], dict]:
        if self._fixed is not None:
            return _index(self._fixed)
        etag = self.store.current_etag()
        if self._cache[0] != etag:
            self._cache = (etag, _index(self.store.manifest(etag) or {}))
        return self._cache[1]

    def entry(self, bulletin) -> dict | None:
        index = self._index()
        lang = getattr(bulletin, "language", "vi") or "vi"
        for name in (bulletin.key, bulletin.id):
            c = index.get((name, lang))
            if c is not None and _binds(c, bulletin):
                return c
        return None

    def ahead(self, bulletins) -> None:
        """Nothing to render: the bundle was accepted whole."""

    def at_air(self, bulletin) -> Clip:
        """The bundle's clip for `bulletin`, its content hash checked now.
        Raises ClipError (Vietnamese) when there is none or it was damaged."""
        from loa.audio.wav import read_wav

        if self.emergency is not None and bulletin.id.startswith(EMERGENCY):
            return self.emergency(bulletin)
        c = self.entry(bulletin)
        if c is None:
            raise ClipError("gói lịch từ máy chủ không có đoạn âm thanh cho bản tin này")
        path = self.store.clip_path(c["sha256"])
        try:
            ok = file_sha256(path) == c["sha256"]
        except OSError:
            raise ClipError("đoạn âm thanh của gói lịch không còn trên đĩa") from None
        if not ok:
            raise ClipError("đoạn âm thanh của gói lịch bị hỏng trên đĩa (mã kiểm tra không "
                            "khớp)")
        try:
            samples, rate = read_wav(path)
            seconds = len(samples) / rate
        except Exception:  # noqa: BLE001 - an unreadable WAV is a bad clip
            raise ClipError("đoạn âm thanh của gói lịch không phải tệp WAV đọc được") from None
        return Clip(path, c["sha256"][:32], str(c.get("engine") or ENGINE), "", seconds)


def _index(manifest: dict) -> dict[tuple[str, str], dict]:
    out = {}
    for c in manifest.get("clips") or []:
        if isinstance(c, dict) and isinstance(c.get("bulletin"), str):
            out[(c["bulletin"], str(c.get("lang") or "vi"))] = c
    return out


def _binds(c: dict, bulletin) -> bool:
    """The clip reads what this bulletin says now (an edited bulletin keeps its id)."""
    bound = c.get("text_sha256")
    if not bound:
        return True
    candidates = {text_binding(bulletin.text)}
    with contextlib.suppress(Exception):
        candidates.add(bulletin.approval_hash())
    return bound in candidates


# --- recordings: aired from the bundle's produced clip, never from the file itself ----------
#
# A bulletin (or a version in another language) with an officer's recording names a file
# beside its bulletins file; the bundle carries the YAML but not the recording, only the
# clip the server produced from it (chime, intro, levelled), bound to the approval hash the
# server computed with the file in hand. On the player the file is absent, so loa's own
# model would call the bulletin "thiếu tệp ghi âm" and drop it. Here a bulletin whose
# YAML approval equals the hash the clip binds stands in for the file: the server checked
# the approval against the real recording when it published.

@dataclass
class _BundledVersion(Version):
    bound: str = field(default="", compare=False, repr=False)

    @property
    def audio_missing(self) -> bool:
        return False if self.bound else Version.audio_missing.fget(self)

    def approval_hash(self) -> str:
        if self.bound and Version.audio_missing.fget(self):
            return self.bound
        return super().approval_hash()


@dataclass
class _BundledBulletin(Bulletin):
    # language -> the approval hash the bundle's clip binds (the recording is not here)
    bound: dict = field(default_factory=dict, compare=False, repr=False)

    def _bound(self) -> str:
        return self.bound.get(self.language, "") if self.audio else ""

    @property
    def audio_missing(self) -> bool:
        return False if self._bound() else Bulletin.audio_missing.fget(self)

    def approval_hash(self) -> str:
        if self._bound() and Bulletin.audio_missing.fget(self):
            return self._bound()
        return super().approval_hash()


def _clip_of(index: dict, bulletin, lang: str) -> dict | None:
    for name in (bulletin.key, bulletin.id):
        c = index.get((name, lang))
        if c is not None:
            return c
    return None


def _bundled(b, index: dict):
    """`b` with its recordings (its own, its versions') stood in for by the bundle's clips
    when the clip binds exactly the approval in the YAML; else `b` as it is."""
    bound: dict[str, str] = {}
    if b.audio and b.approved_hash and Bulletin.audio_missing.fget(b):
        c = _clip_of(index, b, "vi")
        if c is not None and c.get("text_sha256") == b.approved_hash:
            bound["vi"] = b.approved_hash
    versions = dict(b.versions)
    for lang, v in b.versions.items():
        if not (v.audio and v.approved_hash and v.audio_missing):
            continue
        c = _clip_of(index, b, lang)
        if c is not None and c.get("text_sha256") == v.approved_hash:
            bound[lang] = v.approved_hash
            versions[lang] = _BundledVersion(
                **{f.name: getattr(v, f.name) for f in fields(Version)}, bound=v.approved_hash)
    if not bound:
        return b
    own = {f.name: getattr(b, f.name) for f in fields(Bulletin)}
    return _BundledBulletin(**{**own, "versions": versions}, bound=bound)


def load_bundled(schedule: Path, manifest: dict):
    """load_station for a bundle: loa's own loader (every check it makes), then each
    program's pool taken again with recordings stood in for by the bundle's clips."""
    from loa.schedule.expand import ProgramBulletins
    from loa.script.bulletin import load_bulletins
    from loa.station.core import LoadedStation, load_station

    loaded = load_station(schedule)
    index = _index(manifest)
    files: dict[Path, list] = {}
    pools = ProgramBulletins()
    for prog in loaded.schedule.programs.values():
        if prog.bulletins_file not in files:
            files[prog.bulletins_file] = [_bundled(b, index) for b in
                                          load_bulletins(prog.bulletins_file).bulletins]
        pools[prog.id] = [b for b in files[prog.bulletins_file]
                          if b.is_approved and (not prog.only or b.id in prog.only)]
    airs = {(p, b.id) for p, bs in files.items() for b in bs if b.is_approved}
    pools.refused = [r for r in getattr(loaded.bulletins, "refused", ())
                     if (r.path, r.bulletin.id) not in airs]
    return LoadedStation(loaded.schedule, pools)


def only_zones(loaded, zones: list[str] | tuple[str, ...] | None):
    """The station as this device plays it: its zones only, sessions cut to them (a
    session left with none is dropped), announcements likewise. None/[]: all zones.
    Programs keep their sessions: the rotation of bulletins stays the station's."""
    if not zones:
        return loaded
    keep = set(zones)
    sched = loaded.schedule
    sessions = {}
    for sid, s in sched.sessions.items():
        mine = tuple(z for z in s.zones if z in keep)
        if mine:
            sessions[sid] = replace(s, zones=mine)
    announcements = tuple(replace(a, zones=tuple(z for z in a.zones if z in keep))
                          for a in sched.announcements if any(z in keep for z in a.zones))
    schedule = replace(sched, zones={z: v for z, v in sched.zones.items() if z in keep},
                       sessions=sessions, announcements=announcements)
    return replace(loaded, schedule=schedule)
