"""A bulletin's page shows its language versions (issue 13 item 6), read-only, escaped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def _speech(path: Path, words: str = "Nyob zoo txhua tus neeg") -> Path:
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


@pytest.mark.django_db
def test_the_console_shows_a_bulletins_versions_read_only_and_escaped(tmp_path, client_as, station):
    from loa.station.bulletins import approve_bulletin_versions, set_bulletin_version

    bfile = station.parent / "bulletins" / "ba-vi-2026.yaml"
    set_bulletin_version(bfile, "IV.1.a", "hmn", audio=_speech(tmp_path / "m.wav"))
    approve_bulletin_versions(bfile, ["IV.1.a"], "hmn", "<b>Lò Văn Páo</b>", account="web:pao")
    set_bulletin_version(bfile, "IV.1.a", "tyz", audio=_speech(tmp_path / "t.wav"))
    page = client_as("technician").get("/ban-tin/ba-vi-2026/IV.1.a/").content.decode()
    section = page[page.index('id="ban-dan-toc"'):]
    assert "<strong>Tiếng Mông</strong>: đã duyệt · Duyệt: &lt;b&gt;Lò Văn Páo&lt;/b&gt;" in section
    assert "<strong>Tiếng Tày</strong>: bản nháp" in section
    assert "<b>Lò" not in page
