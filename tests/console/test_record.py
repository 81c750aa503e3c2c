"""Giọng đọc thu âm in the console: an editor uploads a phone's recording or records in
the browser (MediaRecorder, Chromium's fake microphone), hears the produced clip, and the
change is audited; other roles cannot; oversize and non-audio files are refused in
Vietnamese."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.conftest import login, screenshot
from loa.script.bulletin import load_bulletins

KEY = "ba-vi-2026"
APPROVED = "IV.1.a"


def bfile(station: Path) -> Path:
    return station.parent / "bulletins" / f"{KEY}.yaml"


def url(bid: str, action: str = "") -> str:
    return f"/ban-tin/{KEY}/{bid}/" + (f"{action}/" if action else "")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory) -> Path:
    """A few seconds of Vietnamese speech (espeak-ng stands in for the officer), as a WAV."""
    out = tmp_path_factory.mktemp("giong") / "doc.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(out),
                    "Bà con chú ý, sáng mai xã tổ chức tiêm phòng cho đàn gia súc."],
                   check=True)
    return out


@pytest.fixture(scope="module")
def phone_m4a(spoken) -> Path:
    out = spoken.with_name("Ghi âm <xã>.m4a")
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(spoken),
                    "-c:a", "aac", str(out)], check=True)
    return out


def _post(client, bid, path: Path | None = None, name: str | None = None, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    b = load_bulletins(fields.pop("file")).get(bid)
    data = {"version": b.approval_hash(), **fields}
    if path is not None:
        data["audio"] = SimpleUploadedFile(name or path.name, path.read_bytes(), "audio/mp4")
    return client.post(url(bid, "ghi-am"), data)


@pytest.mark.django_db
def test_an_editor_uploads_a_recording_hears_it_and_it_is_audited(station, client_as,
                                                                  phone_m4a):
    from loa.console.accounts.models import AuditEntry

    client = client_as("editor")
    resp = _post(client, APPROVED, phone_m4a, file=bfile(station))
    assert resp.status_code == 302
    b = load_bulletins(bfile(station)).get(APPROVED)
    assert b.audio.startswith("ghi-am/IV.1.a-") and (bfile(station).parent / b.audio).is_file()
    assert b.status_vi == "chờ duyệt lại"
    page = client.get(url(APPROVED)).content.decode()
    assert "Đã nhận giọng đọc thu âm" in page and "chờ duyệt lại" in page
    assert 'id="co-ghi-am"' in page and "giọng đọc thu âm" in page
    assert 'id="nghe-thu"' in page and "Bản phát thử (giọng đọc thu âm" in page
    wav = client.get(url(APPROVED) + "nghe-thu.wav")
    assert wav.status_code == 200 and wav["Content-Type"] == "audio/wav"
    entry = AuditEntry.objects.filter(action="bulletin.record").get()
    assert entry.full_name == "Trần Thị Bình" and entry.target == b.title
    assert "Ghi âm <xã>.m4a" in entry.detail

    resp = _post(client, APPROVED, file=bfile(station), bo="1")
    assert resp.status_code == 302
    assert load_bulletins(bfile(station)).get(APPROVED).audio == ""
    assert AuditEntry.objects.filter(action="bulletin.record").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["leader", "technician"])
def test_only_editors_record(station, client_as, phone_m4a, role):
    resp = _post(client_as(role), APPROVED, phone_m4a, file=bfile(station))
    assert resp.status_code == 403
    assert load_bulletins(bfile(station)).get(APPROVED).audio == ""
    page = client_as(role).get(url(APPROVED)).content.decode()
    assert 'id="ghi-am-form"' not in page


@pytest.mark.django_db
def test_oversize_and_non_audio_files_are_refused_in_vietnamese(station, client_as, settings,
                                                                phone_m4a, tmp_path):
    client = client_as("editor")
    before = bfile(station).read_bytes()
    settings.LOA_RECORDING_MAX_BYTES = 1024
    resp = _post(client, APPROVED, phone_m4a, file=bfile(station))
    assert resp.status_code == 413
    assert "tệp ghi âm quá lớn" in resp.content.decode()
    settings.LOA_RECORDING_MAX_BYTES = 100 * 1024 * 1024
    text = tmp_path / "bien-ban.m4a"
    text.write_text("Đây là biên bản, không phải ghi âm.", encoding="utf-8")
    resp = _post(client, APPROVED, text, file=bfile(station), name="<b>bien-ban.m4a")
    page = resp.content.decode()
    # named as the officer sent it, escaped (operator text is data)
    assert resp.status_code == 400 and "&lt;b&gt;bien-ban.m4a" in page
    assert "<b>bien-ban" not in page
    assert "không phải tệp âm thanh đọc được" in page and "Traceback" not in page
    resp = client.post(url(APPROVED, "ghi-am"), {"version": "x"})
    assert resp.status_code == 400 and "Hãy chọn tệp ghi âm" in resp.content.decode()
    assert bfile(station).read_bytes() == before
    folder = bfile(station).parent / "ghi-am"
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.browser
def test_recording_in_the_browser_uploads_and_the_bulletin_shows_it(live_console, spoken,
                                                                    tmp_path, playwright):
    import os

    # Chromium's fake microphone plays this file; the page records it with MediaRecorder
    live = live_console()
    # a browser of its own: the fake microphone is a launch option
    browser = playwright.chromium.launch(
        executable_path=os.environ.get("LOA_CHROMIUM", "/usr/bin/chromium"),
        args=["--no-sandbox", "--use-fake-device-for-media-stream",
              "--use-fake-ui-for-media-stream",
              f"--use-file-for-fake-audio-capture={spoken}"])
    try:
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN",
                                  permissions=["microphone"])
        page = ctx.new_page()
        page.set_default_timeout(30000)
        login(page, live, "editor")
        page.goto(live.url + url(APPROVED))
        assert page.is_visible("#tep-ghi-am")
        assert page.get_attribute("#tep-ghi-am", "accept") == "audio/*"
        page.click("#bat-dau-ghi")
        page.wait_for_selector("#dung-ghi", state="visible")
        page.wait_for_function(
            "document.getElementById('dang-ghi').textContent.includes('4 giây')")
        page.click("#dung-ghi")
        page.wait_for_selector("#co-ghi-am")
        assert "Đã nhận giọng đọc thu âm" in page.inner_text("ul.messages")
        assert "chờ duyệt lại" in page.inner_text("#trang-thai")
        duration = page.evaluate(
            "() => new Promise(ok => { const a = document.getElementById('nghe-thu');"
            " if (a.readyState >= 1) ok(a.duration);"
            " else a.addEventListener('loadedmetadata', () => ok(a.duration)); })")
        screenshot(page, "ban-tin-ghi-am")
    finally:
        browser.close()
    b = load_bulletins(live.schedule.parent / "bulletins" / f"{KEY}.yaml").get(APPROVED)
    assert b.audio.startswith("ghi-am/") and b.audio.endswith(".wav")
    # the produced clip: the chime and intro around the seconds of speech recorded
    assert duration > 4


@pytest.mark.django_db
def test_the_logbook_says_giong_doc_thu_am_for_a_recorded_play(station, client_as, tmp_path):
    from datetime import datetime

    from console.log_rows import BULLETINS, play, write_plays
    from loa.clock import DEFAULT_TZ

    at = datetime(2026, 3, 2, 6, 30, tzinfo=DEFAULT_TZ)
    recorded = play("toan-xa", at, BULLETINS[0])
    recorded["engine"] = "ghi-am"
    by_machine = play("toan-xa", at, BULLETINS[1], k=1)
    write_plays(tmp_path / "data" / "loa.sqlite3", [recorded, by_machine])
    page = client_as("technician").get("/nhat-ky/?tu=01/03/2026&den=31/03/2026")
    html = page.content.decode()
    rows = html[html.find('id="luot-phat"'):].split("<tr>")[2:]
    (voiced,) = [r for r in rows if BULLETINS[0][1] in r]
    (read,) = [r for r in rows if BULLETINS[1][1] in r]
    assert "giọng đọc thu âm" in voiced and "giọng đọc thu âm" not in read
    assert "espeak" not in read  # a TTS engine is the usual case: not said on the page
