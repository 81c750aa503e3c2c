"""Faults in the clip store, tried on purpose through the real CLI and the real daemon:
a corrupt index, damaged clips, a clip that cannot be made again, a full disk's reserve.

Every run ends with the log reconciled: each scheduled play has exactly one final row."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from loa.audio import ClipStore, read_wav
from loa.clock import DEFAULT_TZ
from loa.log import LogStore
from loa.yamlio import write_yaml

TEXTS = {
    "IV.2.a": "Bà con nộp hồ sơ trực tuyến tại nhà.",
    "IV.2.b": "Điểm phục vụ có wifi miễn phí.",
    "IV.2.c": "Họp thôn lúc bảy giờ tối nay.",
}
ZONES = ("toan-xa", "thon-1")
HUGE_RESERVE = str(10**9)  # MB: no disk has that much free


def _write_schedule(folder: Path, at: datetime) -> Path:
    path = folder / "schedule.yaml"
    write_yaml(path, {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": z, "name": z, "device": "default"} for z in ZONES],
        "sessions": [{"id": "s", "name": "Buổi thử", "time": at.strftime("%H:%M:%S"),
                      "zones": list(ZONES)}],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": ["s"], "per_session": len(TEXTS),
                      "from": at.date().isoformat(), "until": at.date().isoformat()}],
    })
    return path


def _write_station(folder: Path, at: datetime) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_yaml(folder / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": bid, "title": f"Tin {bid}", "status": "approved", "text": text}
        for bid, text in TEXTS.items()]})
    return _write_schedule(folder, at)


def _env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LOA_DATA_DIR": str(data), **extra}
    env.pop("LOA_GTTS_ENDPOINT", None)
    env.pop("LOA_CLIP_RESERVE_MB", None)
    env.update(extra)
    return env


def _loa(data: Path, *args: str, timeout: float = 180, **env: str):
    return subprocess.run([sys.executable, "-m", "loa", *args], env=_env(data, **env),
                          capture_output=True, text=True, timeout=timeout)


def _soon(seconds: float = 12) -> datetime:
    """A whole second `seconds` from now, moved past midnight if the run would cross it."""
    at = (datetime.now(DEFAULT_TZ) + timedelta(seconds=seconds)).replace(microsecond=0)
    if at.date() != (at + timedelta(seconds=60)).date():
        at += timedelta(seconds=90)
    return at


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """A station whose three bulletins were rendered once by `loa render` (real espeak-ng)."""
    root = tmp_path_factory.mktemp("rendered")
    schedule = _write_station(root / "station", _soon(3600))
    done = _loa(root / "data", "render", str(schedule))
    assert done.returncode == 0, done.stderr
    assert "Đã đọc 3 bản tin mới" in done.stdout
    return root


@pytest.fixture
def rig(rendered, tmp_path) -> Path:
    """A copy of the rendered station and its data folder (mtimes kept)."""
    shutil.copytree(rendered / "station", tmp_path / "station")
    shutil.copytree(rendered / "data", tmp_path / "data")
    return tmp_path


def _clips(rig: Path) -> Path:
    return rig / "data" / "clips"


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every clip file: a re-render would change both."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.wav")}


def _key_of(rig: Path, bid: str) -> str:
    """The clip key of a bulletin, as the station's renderer computes it."""
    from loa.schedule import load_schedule
    from loa.station.wiring import chain_for, renderer_for

    station = load_schedule(rig / "station" / "schedule.yaml").station
    renderer = renderer_for(station, chain_for(station), _clips(rig))
    try:
        return renderer.key(renderer.normalize(TEXTS[bid]), renderer.chain.engines[0])
    finally:
        renderer.store.close()


def _corrupt(index: Path, kind: str) -> None:
    size = index.stat().st_size
    assert size > 0
    if kind == "garbage":
        index.write_bytes(os.urandom(size))
    elif kind == "truncated":
        os.truncate(index, size // 2)
    else:
        os.truncate(index, 0)


def _zero_samples(path: Path) -> None:
    """Keep the WAV header and size; every sample becomes 0."""
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 8
    size = struct.unpack("<I", data[at - 4:at])[0]
    data[at:at + size] = bytes(size)
    path.write_bytes(bytes(data))


def _rows(rig: Path):
    store = LogStore(rig / "data" / "loa.sqlite3")
    try:
        return sorted(store.plays(), key=lambda r: r.id)
    finally:
        store.close()


def _one_final_row_each(rig: Path) -> dict[tuple[str, str], object]:
    """Each scheduled play (zone x bulletin) has exactly one row, and it is final."""
    rows = _rows(rig)
    keys = [(r.zone, r.bulletin.rsplit("/", 1)[-1].rsplit(":", 1)[-1]) for r in rows]
    assert sorted(keys) == sorted((z, b) for z in ZONES for b in TEXTS), keys
    assert all(r.status in ("played", "late", "failed") for r in rows), [r.status for r in rows]
    return dict(zip(keys, rows, strict=True))


def _aired(rig: Path, bid: str) -> list[np.ndarray]:
    return [read_wav(p)[0] for p in sorted((rig / "played").glob("*.wav"))
            if p.name.endswith(f"_{bid}.wav")]


def _loud(samples: np.ndarray) -> bool:
    return float(np.sqrt(np.mean((samples.astype(np.float64) / 32768) ** 2))) > 0.01


def _run(rig: Path, at: datetime, **env: str):
    schedule = _write_schedule(rig / "station", at)
    return _loa(rig / "data", "run", str(schedule), "--sink", "wav", "--fast", "--wav-dir",
                str(rig / "played"), "--until-idle", "--no-time-sync", **env)


def _all_played_from_store(rig: Path, by_key: dict) -> None:
    for (zone, bid), row in by_key.items():
        # aired ("late" only if a busy machine took over 30 s to read it again at air)
        assert row.status in ("played", "late"), (zone, bid, row.status, row.reason)
        clip, _ = read_wav(_clips(rig) / f"{row.clip_hash}.wav")
        aired = _aired(rig, bid)
        assert aired and all(np.array_equal(a, clip) and _loud(a) for a in aired)


# --- a corrupt index ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["garbage", "truncated", "empty"])
def test_a_corrupt_index_is_rebuilt_from_the_clip_files(rig, kind):
    clips = _clips(rig)
    index = clips / "index.sqlite3"
    before = _stamps(clips)
    assert len(before) == 3

    _corrupt(index, kind)
    listed = _loa(rig / "data", "clips", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    assert "đã dựng lại từ 3 tệp âm thanh" in listed.stderr
    assert listed.stdout.splitlines()[-1].startswith("3 đoạn âm thanh")
    if kind != "empty":  # the damaged file is kept for the technician
        assert list(clips.glob("index.sqlite3.corrupt-*"))

    _corrupt(index, kind)
    checked = _loa(rig / "data", "clips", "check")
    assert checked.returncode == 0, checked.stderr
    assert "đã dựng lại" in checked.stderr and "Mọi đoạn âm thanh đều tốt (3 đoạn)" in checked.stdout

    _corrupt(index, kind)
    render = _loa(rig / "data", "render", str(rig / "station" / "schedule.yaml"))
    assert render.returncode == 0, render.stderr
    assert "Traceback" not in render.stderr and "đã dựng lại" in render.stderr
    assert "Đã đọc 0 bản tin mới, 3 bản tin có sẵn" in render.stdout
    assert _stamps(clips) == before  # nothing was read again

    _corrupt(index, kind)
    run = _run(rig, _soon(10))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "đã dựng lại từ 3 tệp âm thanh" in run.stderr
    assert _stamps(clips) == before  # the daemon reused every clip on disk
    by_key = _one_final_row_each(rig)
    assert {row.clip_hash + ".wav" for row in by_key.values()} == set(before)
    _all_played_from_store(rig, by_key)


def test_an_index_corrupted_while_in_use_is_rebuilt_on_the_next_lookup(rig):
    clips = _clips(rig)
    store, other = ClipStore(clips), ClipStore(clips)  # the daemon and its render child
    try:
        keys = {c.hash for c, _, _ in store.all()}
        assert len(keys) == 3 and {c.hash for c, _, _ in other.all()} == keys
        # replaced under both open stores (as a bad restore or another tool would)
        garbage = clips / "garbage.tmp"
        garbage.write_bytes(os.urandom((clips / "index.sqlite3").stat().st_size))
        os.replace(garbage, clips / "index.sqlite3")
        assert {k for k in keys if store.get(k) is not None} == keys
        assert any("đã dựng lại từ 3" in n for n in store.take_notes())
        # the other follows the rebuilt file: no second rebuild, every clip found
        assert {k for k in keys if other.get(k) is not None} == keys
        assert other.take_notes() == []
        assert len(list(clips.glob("index.sqlite3.corrupt-*"))) == 1
    finally:
        store.close()
        other.close()
    db = sqlite3.connect(clips / "index.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


# --- damaged clips ---------------------------------------------------------------------------

def test_clips_check_names_each_damage_in_vietnamese(rig):
    clips = _clips(rig)
    zeroed, random_ = _clips(rig) / f"{_key_of(rig, 'IV.2.a')}.wav", \
        clips / f"{_key_of(rig, 'IV.2.b')}.wav"
    _zero_samples(zeroed)
    random_.write_bytes(os.urandom(random_.stat().st_size))
    checked = _loa(rig / "data", "clips", "check")
    assert checked.returncode == 2
    lines = checked.stderr.splitlines()
    assert len(lines) == 2, checked.stderr
    assert any(zeroed.stem[:12] in line and "im lặng" in line for line in lines)
    assert any(random_.stem[:12] in line and "không còn là tệp WAV" in line for line in lines)
    assert all(line.startswith("Lỗi: đoạn âm thanh") and "loa render" in line for line in lines)
    assert "content" not in checked.stderr and "silent" not in checked.stderr
    # `loa render` (the full check) makes exactly those two again
    render = _loa(rig / "data", "render", str(rig / "station" / "schedule.yaml"))
    assert render.returncode == 0, render.stderr
    assert "Đã đọc 2 bản tin mới, 1 bản tin có sẵn" in render.stdout
    again = _loa(rig / "data", "clips", "check")
    assert again.returncode == 0 and "Mọi đoạn âm thanh đều tốt (3 đoạn)" in again.stdout


def test_a_zeroed_clip_is_made_again_before_air_and_the_new_one_airs(rig):
    key = _key_of(rig, "IV.2.a")
    path = _clips(rig) / f"{key}.wav"
    _zero_samples(path)
    zeroed_digest = hashlib.sha256(path.read_bytes()).hexdigest()
    others = {n: s for n, s in _stamps(_clips(rig)).items() if n != path.name}

    run = _run(rig, _soon(15))
    assert run.returncode == 0, run.stderr
    by_key = _one_final_row_each(rig)
    _all_played_from_store(rig, by_key)  # every row played, and what aired is the clip, loud
    new = path.read_bytes()
    assert hashlib.sha256(new).hexdigest() != zeroed_digest and _loud(read_wav(path)[0])
    store = ClipStore(_clips(rig))
    assert store.check() == []  # the index holds the new clip's hash
    store.close()
    for zone in ZONES:
        assert by_key[(zone, "IV.2.a")].clip_hash == key
    # made again ahead of air time (at plan time), not when the job woke 2 s before
    at = datetime.fromisoformat(by_key[(ZONES[0], "IV.2.a")].scheduled_at)
    assert path.stat().st_mtime < at.timestamp() - 2
    # the others were not touched
    assert {n: s for n, s in _stamps(_clips(rig)).items() if n != path.name} == others


def test_a_clip_overwritten_with_random_bytes_at_air_time_is_made_again(rig):
    key = _key_of(rig, "IV.2.b")
    path = _clips(rig) / f"{key}.wav"
    schedule = _write_schedule(rig / "station", _soon(12))
    proc = subprocess.Popen(
        [sys.executable, "-m", "loa", "run", str(schedule), "--sink", "wav", "--fast",
         "--wav-dir", str(rig / "played"), "--until-idle", "--no-time-sync"],
        env=_env(rig / "data"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # planned, and every clip checked ahead; now the clip is damaged before air time
        for line in proc.stdout:
            if line.startswith("Đang chạy lịch"):
                break
        garbage = os.urandom(path.stat().st_size)
        path.write_bytes(garbage)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    by_key = _one_final_row_each(rig)
    _all_played_from_store(rig, by_key)
    assert path.read_bytes() != garbage and _loud(read_wav(path)[0])


def test_a_bad_clip_that_cannot_be_made_again_is_logged_failed_and_the_rest_plays(rig):
    key = _key_of(rig, "IV.2.c")
    _zero_samples(_clips(rig) / f"{key}.wav")
    # the clip store may not take the disk's last MBs: no new clip can be stored
    run = _run(rig, _soon(15), LOA_CLIP_RESERVE_MB=HUGE_RESERVE)
    assert run.returncode == 0, run.stderr
    by_key = _one_final_row_each(rig)
    for zone in ZONES:
        row = by_key[(zone, "IV.2.c")]
        assert row.status == "failed"
        assert row.reason.startswith("không có tệp âm thanh: đoạn âm thanh đã đọc sẵn bị hỏng "
                                     "(nội dung tệp khác lúc tạo: im lặng, không có tiếng), "
                                     "đọc lại ngay bằng bộ đọc ngoại tuyến không được: "
                                     "không lưu đoạn âm thanh"), row.reason
        assert "phải chừa" in row.reason
    assert _aired(rig, "IV.2.c") == []  # silence never went out
    played = {k: r for k, r in by_key.items() if k[1] != "IV.2.c"}
    _all_played_from_store(rig, played)


# --- the reserve --------------------------------------------------------------------------------

def test_render_refuses_to_eat_into_the_disk_reserve(tmp_path):
    schedule = _write_station(tmp_path / "station", _soon(3600))
    data = tmp_path / "data"
    done = _loa(data, "render", str(schedule), LOA_CLIP_RESERVE_MB=HUGE_RESERVE)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    refusals = [line for line in done.stderr.splitlines()
                if line.startswith("Lỗi: không đọc được bản tin")]
    assert len(refusals) == 3, done.stderr
    assert all("không lưu đoạn âm thanh" in line and "phải chừa 1000000000 MB" in line
               for line in refusals)
    assert not list((data / "clips").glob("*.wav"))
    # with the reserve met, the same render stores every clip
    again = _loa(data, "render", str(schedule), LOA_CLIP_RESERVE_MB="1")
    assert again.returncode == 0 and "Đã đọc 3 bản tin mới" in again.stdout


def test_clip_store_reserve_argument(tmp_path):
    free_mb = shutil.disk_usage(tmp_path).free / 1e6
    samples = (np.sin(np.arange(44100) / 10) * 8000).astype(np.int16)
    kwargs = dict(engine="espeak", voice="vi", preferred="espeak", text="x", lufs=None,
                  true_peak=None)
    from loa.audio import ClipError

    tight = ClipStore(tmp_path / "tight", reserve_mb=free_mb)  # any write would go below
    with pytest.raises(ClipError, match="phải chừa"):
        tight.put("a" * 32, samples, 44100, **kwargs)
    assert not list((tmp_path / "tight").glob("*.wav")) and tight.all() == []
    tight.close()
    roomy = ClipStore(tmp_path / "roomy", reserve_mb=1)
    clip = roomy.put("b" * 32, samples, 44100, **kwargs)
    assert roomy.get(clip.hash) is not None
    roomy.close()
