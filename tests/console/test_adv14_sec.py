"""Adversarial checks on the console's plan upload (issue 14): hostile names, leftovers of a
killed worker, escaping of what the officer sent."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from loa.console.pages.models import ImportJob

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "ha-noi-2026.txt"
URL = "/ke-hoach/tai-len/"
JOB = "/ke-hoach/dang-doc/"
HOSTILE = "..\\..\\<img src=x onerror=alert(1)>\u202e\u200fgpj.txt"


def _data(station: Path) -> Path:
    return station.parent.parent / "data"


def _finish(client, job: int) -> dict:
    end = time.monotonic() + 120
    while True:
        status = client.get(f"{JOB}{job}/trang-thai.json").json()
        if status["finished"]:
            return status
        assert time.monotonic() < end, status
        time.sleep(0.1)


def _job(resp) -> int:
    assert resp.status_code == 302, resp.content.decode()[:1000]
    return int(resp["Location"].rstrip("/").rsplit("/", 1)[1])


@pytest.mark.django_db
def test_a_hostile_file_name_stays_a_name(client_as, station):
    client = client_as("editor")
    bad = "chỉ là vài chữ, không phải kế hoạch\n".encode() * 3
    job = _job(client.post(URL, {"plan": [SimpleUploadedFile(HOSTILE, bad)]}))
    assert _finish(client, job)["state"] == "failed"
    page = client.get(f"{JOB}{job}/").content.decode()
    assert "«&lt;img src=x onerror=alert(1)&gt;gpj.txt»" in page and "<img src=x" not in page
    assert "\u202e" not in page and "..\\" not in page  # no folders, no direction override

    job = _job(client.post(URL, {"plan": [SimpleUploadedFile(HOSTILE, SAMPLE.read_bytes())]}))
    assert _finish(client, job)["state"] == "done"
    plans = station.parent / "plans"
    stored = [p for p in plans.iterdir() if not p.name.startswith(".")]
    assert all(p.resolve().parent == plans.resolve() for p in stored)
    assert any(p.name == "img-src-x-onerror-alert-1-gpj.txt" for p in stored), sorted(p.name for p in stored)
    where = client.get(f"{JOB}{job}/")["Location"]
    page = client.get(where).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;gpj.txt" in page


@pytest.mark.django_db
def test_leftovers_of_a_killed_reading_are_removed_at_the_next_upload(client_as, station,
                                                                      django_user_model):
    home = _data(station) / "nhap-ke-hoach"
    home.mkdir(parents=True, exist_ok=True)
    # another officer's reading, cut off by a kill -9 mid-OCR; they never came back
    other = django_user_model.objects.create_user("ai-do", password="x")
    orphan = home / "job-cut-off"
    orphan.mkdir()
    (orphan / "trang-01.jpg").write_bytes(b"\xff\xd8\xff scan of a signed plan")
    cut = ImportJob.objects.create(user=other, created=datetime(2026, 3, 2, tzinfo=UTC),
                                   names=["a.jpg"], photos=True, workdir=str(orphan))
    lost = home / "job-no-row"  # its row pruned or never written
    lost.mkdir()
    # and a store killed between its temp folder and the plan's place
    plans = station.parent / "plans"
    plans.mkdir(exist_ok=True)
    (plans / ".tai-len-killed").mkdir()
    (plans / ".tai-len-killed" / "ke-hoach.txt").write_bytes(SAMPLE.read_bytes())

    client = client_as("editor")
    job = _job(client.post(URL, {"plan": [SimpleUploadedFile("kh.txt", SAMPLE.read_bytes())]}))
    assert _finish(client, job)["state"] == "done"
    assert not orphan.exists() and not lost.exists()
    cut.refresh_from_db()
    assert cut.state == "failed"
    assert not list(plans.glob(".tai-len-*"))
    assert list(home.iterdir()) == []


@pytest.mark.django_db
def test_a_flood_of_files_is_said_in_vietnamese(client_as, station):
    client = client_as("editor")
    files = [SimpleUploadedFile(f"a{i}.jpg", b"\xff\xd8\xff" + b"x" * 10) for i in range(150)]
    resp = client.post(URL, {"plan": files})
    page = resp.content.decode()
    assert resp.status_code == 400 and 'lang="vi"' in page  # was Django's English page
    assert "Quá nhiều tệp trong một lần tải lên" in page and "tối đa 30 ảnh" in page
    assert not ImportJob.objects.exists()
