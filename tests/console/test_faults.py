"""The console on a station whose disk is full or read-only: every save is refused in
Vietnamese naming the file (status 400), pages still show, nothing on disk changes and no
temp file is left. Real faults: a small tmpfs of its own (needs root)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from console.conftest import copy_station

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")

PLAN = Path(__file__).resolve().parents[1] / "data" / "ha-noi-2026.txt"


@pytest.fixture
def disk(tmp_path, settings):
    """The station's schedules folder on a 4 MB tmpfs; settings point the console at it."""
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)], check=True)
    settings.LOA_SCHEDULE = str(copy_station(where / "schedules"))
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path) -> None:
    with open(folder / "filler", "ab") as fh:
        while (n := min(1 << 20, os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize)):
            try:
                fh.write(bytes(n))
                fh.flush()
            except OSError:
                break


def files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != "filler"}


def version_in(page: str) -> str:
    return re.search(r'name="version" value="([0-9a-f]{64})"', page).group(1)


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_saves_on_a_full_or_read_only_disk_are_refused_in_vietnamese(client_as, station, disk,
                                                                     fault):
    officer = client_as("editor", "technician")
    form = officer.get("/lich-phat/vung/them/")  # read before the fault, sent after it
    if fault == "full":
        fill(disk)
        reason = "đĩa đã đầy, không ghi được"
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        reason = "chỉ cho đọc, không ghi được"
    before = files(disk)

    # a page that only looks still shows (it may not write its temp copy)
    assert officer.get("/lich-phat/vung/them/").status_code == 200
    resp = officer.post("/lich-phat/vung/them/", {
        "name": "Thôn Mới", "volume": "80", "version": version_in(form.content.decode())})
    assert resp.status_code == 400
    assert "ba-vi.yaml: " in resp.content.decode() and reason in resp.content.decode()

    with open(PLAN, "rb") as fh:
        resp = officer.post("/ke-hoach/tai-len/", {
            "plan": SimpleUploadedFile("ke-hoach.txt", fh.read(), "text/plain")})
    assert resp.status_code == 400 and reason in resp.content.decode()
    assert "plans" in resp.content.decode()

    assert files(disk) == before
    assert not [p for p in disk.rglob(".*")]  # no temp file left behind
