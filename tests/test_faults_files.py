"""File-system faults an officer meets, through the real `python -m loa`: an output that is
a folder, a device or a FIFO, a read-only or full disk, a path through a file, an input
that is a folder or that cannot be read. Each is a Vietnamese error naming the file,
exit 2, no traceback, and the target left as it was. Files keep their mode; new files
get the umask's.

Real faults need root (mount, mknod); a root without capabilities gets a real
"Permission denied"."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loa.clock import DEFAULT_TZ
from loa.log import LogStore

ROOT = Path(__file__).resolve().parents[1]
NO_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]  # root, but no override

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount and mknod need root")


def loa(*args, umask: int = 0o022, prefix=(), cwd=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*prefix, sys.executable, "-m", "loa", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
                          preexec_fn=lambda: os.umask(umask))


def _snapshot(path: Path):
    """What must not change: kind, mode, device number, size, content time; a folder's
    listing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):  # a temp file may come and go: the listing must not
        return stat.S_IMODE(st.st_mode), sorted(os.listdir(path))
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_rdev, st.st_size,
            st.st_mtime_ns)


@pytest.fixture
def mounts(tmp_path):
    made = []

    def mount(name: str, options: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d)], check=True)
        made.append(d)
        return d

    yield mount
    for d in reversed(made):
        subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture
def station(data_dir, tmp_path):
    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    store = LogStore(data_dir / "loa.sqlite3")
    for day in range(1, 61):  # enough rows that every export is bigger than a page
        at = datetime(2026, 1, 1, 6, 30, tzinfo=DEFAULT_TZ) + timedelta(days=day)
        row = store.claim(play_key=f"a{day}", station="ba-vi", zone="toan-xa", program="p",
                          session="sang", bulletin="ba-vi-2026/IV.1.a",
                          title="Tuyên truyền về dịch vụ công trực tuyến", field=2,
                          priority=3, scheduled_at=at, now=at, clip_s=30.0)
        store.finish(row, status="played", started_at=at, ended_at=at + timedelta(seconds=30))
    store.close()
    return tmp_path / "schedules" / "ba-vi.yaml"


def _fill(folder: Path) -> None:
    """Write until the disk says it is full."""
    with open(folder / "day", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_every_file_system_fault_is_a_clear_error(station, tmp_path, mounts):
    sched = station
    bulletins = sched.parent / "bulletins" / "ba-vi-2026.yaml"
    folder = tmp_path / "thu-muc"
    folder.mkdir()
    (folder / "giu-nguyen.txt").write_text("x")
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    plain = tmp_path / "tep.txt"
    plain.write_text("x")
    readonly = mounts("chi-doc", "size=1m")
    shutil.copy(bulletins, readonly / "ban-tin.yaml")
    subprocess.run(["mount", "-o", "remount,ro", str(readonly)], check=True)
    full = mounts("day", "size=64k")
    _fill(full)
    secret = tmp_path / "bi-mat"
    secret.mkdir()
    for name, src in (("ban-tin.yaml", bulletins), ("lich.yaml", sched),
                      ("ke-hoach.txt", ROOT / "loa/data/plans/ba-vi-2026.txt")):
        shutil.copy(src, secret / name)
        (secret / name).chmod(0)

    q = ("--quarter", "2026Q1")
    cases = [  # (argv, the file the error must name, what must stay as it was, no caps)
        (("export", "-o", folder, "--format", "csv", *q), folder, folder, False),
        (("export", "-o", folder, "--format", "xlsx", *q), folder, folder, False),
        (("export", "-o", folder, "--format", "json", *q), folder, folder, False),
        (("report", sched, "-o", folder, *q), folder, folder, False),
        (("calendar", sched, "--ics", folder), folder, folder, False),
        (("say", "xin chào", "-o", folder, "--engine", "espeak"), folder, folder, False),
        (("export", "-o", readonly / "nhat-ky.csv", *q), readonly / "nhat-ky.csv", readonly,
         False),
        (("report", sched, "-o", readonly / "bao-cao.docx", *q), readonly / "bao-cao.docx",
         readonly, False),
        (("bulletin", "approve", readonly / "ban-tin.yaml", "IV.1.b", "--by", "An",
          "--force"), readonly / "ban-tin.yaml", readonly, False),
        (("export", "-o", plain / "nhat-ky.csv", *q), plain / "nhat-ky.csv", plain, False),
        (("export", "-o", device, "--format", "csv", *q), device, device, False),
        (("calendar", sched, "--ics", device), device, device, False),
        (("export", "-o", fifo, "--format", "csv", *q), fifo, fifo, False),
        (("export", "-o", full / "nhat-ky.xlsx", *q), full / "nhat-ky.xlsx", full, False),
        (("say", "xin chào", "-o", full / "thu.wav", "--engine", "espeak"), full / "thu.wav",
         full, False),
        (("bulletin", "list", folder), folder, folder, False),
        (("bulletin", "approve", folder, "IV.1.a", "--by", "An"), folder, folder, False),
        (("validate", folder), folder, folder, False),
        (("next", folder), folder, folder, False),
        (("calendar", folder), folder, folder, False),
        (("report", folder, *q), folder, folder, False),
        (("plan", "import", folder), folder, folder, False),
        (("plan", "text", plain / "ke-hoach.txt"), plain / "ke-hoach.txt", plain, False),
        (("bulletin", "approve", secret / "ban-tin.yaml", "IV.1.b", "--by", "An", "--force"),
         secret / "ban-tin.yaml", secret / "ban-tin.yaml", True),
        (("validate", secret / "lich.yaml"), secret / "lich.yaml", secret / "lich.yaml", True),
        (("plan", "import", secret / "ke-hoach.txt"), secret / "ke-hoach.txt",
         secret / "ke-hoach.txt", True),
    ]
    for argv, named, kept, no_caps in cases:
        before = _snapshot(kept)
        proc = loa(*argv, prefix=NO_CAPS if no_caps else (), cwd=tmp_path)
        shown = " ".join(map(str, argv))
        assert proc.returncode == 2, (shown, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("Lỗi: "), (shown, proc.stderr)
        assert "Traceback" not in proc.stderr, (shown, proc.stderr)
        assert str(named) in proc.stderr, (shown, proc.stderr)
        assert _snapshot(kept) == before, shown
    assert stat.S_ISCHR(os.stat(device).st_mode) and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(full) == ["day"]  # no temp file left behind


def test_a_full_disk_mid_write_is_named_and_leaves_nothing(station, tmp_path, mounts):
    """The write starts (room for the first bytes) and the disk fills under it."""
    full = mounts("gan-day", "size=8k")
    for name in ("nhat-ky.csv", "nhat-ky.json", "nhat-ky.xlsx", "bao-cao.docx"):
        _fill(full)
        os.unlink(full / "day")
        with open(full / "day", "wb") as fh:
            fh.write(b"\0" * 4096)  # leave a little room: the export starts, then fails
        argv = (("report", station, "-o", full / name) if name.endswith("docx")
                else ("export", "-o", full / name)) + ("--quarter", "2026Q1")
        proc = loa(*argv)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith(f"Lỗi: {full / name}: "), proc.stderr
        assert "đĩa đã đầy" in proc.stderr
        assert os.listdir(full) == ["day"]
        os.unlink(full / "day")


@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_approve_keeps_the_bulletins_file_mode_and_owner(tmp_path, mode):
    path = tmp_path / "ban-tin.yaml"
    shutil.copy(ROOT / "schedules/bulletins/ba-vi-2026.yaml", path)
    path.chmod(mode)
    os.chown(path, 65534, 65534)  # the `loa` service user's file, approved by root
    link = tmp_path / "dang-dung.yaml"
    link.symlink_to(path.name)
    for target, bid in ((path, "IV.1.b"), (link, "IV.1.c")):
        proc = loa("bulletin", "approve", target, bid, "--by", "Nguyễn Văn An", "--force",
                   umask=0o077)
        assert proc.returncode == 0, proc.stderr
        entry = path.read_text(encoding="utf-8").split(f"- id: {bid}")[1].split("- id:")[0]
        assert "status: approved" in entry
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == mode and (st.st_uid, st.st_gid) == (65534, 65534)
    assert link.is_symlink()  # written through the link, the link stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ban-tin.yaml", "dang-dung.yaml"]


def test_new_files_get_the_umask_mode_and_rewrites_keep_theirs(station, tmp_path):
    out = tmp_path / "ra"
    made = {
        "nhat-ky.csv": ("export", "-o", out / "nhat-ky.csv", "--quarter", "2026Q1"),
        "nhat-ky.xlsx": ("export", "-o", out / "nhat-ky.xlsx", "--quarter", "2026Q1"),
        "len-tinh.json": ("export", "-o", out / "len-tinh.json"),
        "bao-cao.docx": ("report", station, "-o", out / "bao-cao.docx", "--quarter", "2026Q1"),
        "lich.ics": ("calendar", station, "--ics", out / "lich.ics"),
        "thu.wav": ("say", "xin chào", "-o", out / "thu.wav", "--engine", "espeak"),
    }
    for argv in made.values():
        proc = loa(*argv, umask=0o022)
        assert proc.returncode == 0, proc.stderr
    proc = loa(*made["bao-cao.docx"], "--pdf", umask=0o022)  # through LibreOffice
    assert proc.returncode == 0, proc.stderr
    files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert files == {**dict.fromkeys(made, 0o644), "bao-cao.pdf": 0o644}

    # another umask, another mode; an existing file keeps the mode it was given
    proc = loa("export", "-o", out / "moi.csv", umask=0o027)
    assert proc.returncode == 0 and stat.S_IMODE((out / "moi.csv").stat().st_mode) == 0o640
    for name in made:
        (out / name).chmod(0o604)
    for argv in made.values():
        assert loa(*argv, umask=0o077).returncode == 0
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()
            if p.name in made} == dict.fromkeys(made, 0o604)


def test_a_failed_write_is_an_officers_error_and_still_an_os_error(tmp_path, mounts):
    """The CLI prints it in Vietnamese; the daemon, which handles OSError on a full or
    read-only disk itself, still sees the errno."""
    from loa.errors import LoaError
    from loa.fsio import atomic_write_text

    readonly = mounts("chi-doc", "size=1m,ro")
    full = mounts("day", "size=16k")
    _fill(full)
    for target, code in ((readonly / "daemon.json", errno.EROFS),
                         (full / "daemon.json", errno.ENOSPC)):
        with pytest.raises(OSError) as err:
            atomic_write_text(target, "{}" * 10000)
        assert err.value.errno == code and isinstance(err.value, LoaError)
        assert str(err.value).startswith(f"{target}: ")
        assert not target.exists()
    assert os.listdir(full) == ["day"]
