"""A new officer on a phone meets issue 13's features: the language versions card names
languages (no ISO codes), lets editors and leaders hear a translator's recording, and says
who adds versions; a refused microphone is explained in Vietnamese, not in the browser's
English error name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.conftest import login, screenshot

KEY = "ba-vi-2026"
PAGE = f"/ban-tin/{KEY}/IV.1.a/"


def _speech(path: Path, words: str = "Nyob zoo txhua tus neeg") -> Path:
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(path), words], check=True)
    return path


@pytest.mark.django_db
def test_versions_card_names_languages_and_plays_the_translators_recording(tmp_path,
                                                                           client_as, station):
    from loa.script.bulletin import load_bulletins
    from loa.station.bulletins import set_bulletin_version

    bfile = station.parent / "bulletins" / f"{KEY}.yaml"
    set_bulletin_version(bfile, "IV.1.a", "hmn", audio=_speech(tmp_path / "m.wav"))
    editor = client_as("editor")
    page = editor.get(PAGE).content.decode()
    card = page[page.index('id="ban-dan-toc"'):]
    card = card[:card.index("</section>")]
    assert "<strong>Tiếng Mông</strong>: bản nháp — bản ghi âm người dịch đọc" in card
    assert "(hmn)" not in card and "ghi-am/" not in card
    assert "nhờ cán bộ kỹ thuật" in card
    src = f"/ban-tin/{KEY}/IV.1.a/ban/hmn.wav"
    assert f'src="{src}"' in card

    # the leader hears exactly the imported file
    resp = client_as("leader").get(src)
    assert resp.status_code == 200 and resp["Content-Type"] == "audio/wav"
    stored = load_bulletins(bfile).get("IV.1.a").versions["hmn"].audio_path
    assert b"".join(resp.streaming_content) == stored.read_bytes()
    # a language with no version, or a bulletin with none: not found
    assert editor.get(f"/ban-tin/{KEY}/IV.1.a/ban/tyz.wav").status_code == 404
    assert editor.get(f"/ban-tin/{KEY}/IV.2.a/ban/hmn.wav").status_code == 404
    # the recording gone from disk: no player, and no file served
    stored.unlink()
    assert f'src="{src}"' not in editor.get(PAGE).content.decode()
    assert editor.get(src).status_code == 404


@pytest.mark.browser
def test_a_refused_microphone_is_explained_in_vietnamese(live_console, browser):
    live = live_console()
    # loopback is a secure context: the recorder shows; the microphone is not allowed
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    try:
        page = ctx.new_page()
        page.set_default_timeout(15000)
        login(page, live, "editor")
        page.goto(live.url + PAGE)
        page.click("#bat-dau-ghi")
        page.wait_for_selector("#loi-ghi-am li")
        said = page.inner_text("#loi-ghi-am")
        screenshot(page, "ban-tin-micro-bi-chan")
    finally:
        ctx.close()
    assert "Error" not in said, said
    assert said.endswith(". Hoặc dùng ô chọn tệp ở trên: điện thoại sẽ mở ứng dụng ghi âm."), said
    assert said.startswith(("Trang chưa được phép dùng micrô", "Không tìm thấy micrô")), said


@pytest.mark.django_db
def test_a_word_file_sent_as_a_recording_is_named_as_the_officer_sent_it(client_as, station,
                                                                         tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from loa.script.bulletin import load_bulletins

    bfile = station.parent / "bulletins" / f"{KEY}.yaml"
    b = load_bulletins(bfile).get("IV.1.a")
    doc = SimpleUploadedFile("Biên bản họp.docx", b"PK\x03\x04 not a recording",
                             "application/vnd.openxmlformats-officedocument")
    resp = client_as("editor").post(f"/ban-tin/{KEY}/IV.1.a/ghi-am/",
                                    {"version": b.approval_hash(), "audio": doc})
    page = resp.content.decode()
    assert resp.status_code == 400 and "không phải tệp âm thanh đọc được" in page
    # the server's temporary name never shows; the officer's file does
    assert "ghi-am.docx" not in page and "“Biên bản họp.docx”" in page


@pytest.mark.django_db
def test_the_logbook_says_which_language_aired(station, client_as, tmp_path):
    """A Vietnamese and a Hmong play of one bulletin at one time are two plays: the page
    tells them apart by language name, as `loa log` does, never by code."""
    from datetime import datetime

    from console.log_rows import BULLETINS, play, write_plays
    from loa.clock import DEFAULT_TZ

    at = datetime(2026, 3, 2, 6, 30, tzinfo=DEFAULT_TZ)
    vi = play("toan-xa", at, BULLETINS[0])
    hmn = play("toan-xa", at, BULLETINS[0], k=1)
    hmn["language"], hmn["engine"] = "hmn", "ghi-am"
    write_plays(tmp_path / "data" / "loa.sqlite3", [vi, hmn])
    html = client_as("editor").get("/nhat-ky/?tu=01/03/2026&den=31/03/2026").content.decode()
    rows = html[html.find('id="luot-phat"'):].split("<tr>")[2:]
    assert len(rows) == 2
    said = sorted("— tiếng Mông" in r for r in rows)
    assert said == [False, True], rows
    assert not any("hmn" in r for r in rows)


@pytest.mark.django_db
def test_the_leader_is_told_a_recorded_bulletin_airs_the_recording(station, client_as,
                                                                   tmp_path):
    """Approval binds the recording's bytes: the leader's queue and review page say it is
    the officer's voice that airs, and do not offer 'Máy sẽ đọc là' as what residents hear."""
    from loa.station.bulletins import record_bulletin

    bfile = station.parent / "bulletins" / f"{KEY}.yaml"
    record_bulletin(bfile, "IV.1.a", _speech(tmp_path / "doc.wav", "Bà con chú ý."))
    leader = client_as("leader")
    for url in ("/duyet/", f"/duyet/{KEY}/IV.1.a/"):
        page = leader.get(url).content.decode()
        assert "bản tin này phát bản cán bộ tự đọc, không đọc bằng máy" in page, url
        assert "Máy sẽ đọc là" not in page, url
        assert "Lời đọc (để tra cứu)" in page, url


@pytest.mark.django_db
def test_a_bulletin_page_says_which_villages_will_hear_it_in_vietnamese(station, client_as,
                                                                        tmp_path):
    """A village hears Hmong; a bulletin with no approved Hmong version says so by village
    name, and stops saying it once one is approved."""
    from loa.station.bulletins import approve_bulletin_versions, set_bulletin_version

    station.write_text(station.read_text(encoding="utf-8").replace(
        "    name: Thôn Văn Hòa\n    device: default\n",
        "    name: Thôn Văn Hòa\n    device: default\n    languages: [vi, hmn]\n"),
        encoding="utf-8")
    editor = client_as("editor")
    page = editor.get(PAGE).content.decode()
    assert ('<p id="thieu-ban">Chưa có bản đã duyệt bằng: Tiếng Mông (Thôn Văn Hòa). Các vùng '
            "này sẽ nghe bản tiếng Việt.</p>") in page
    bfile = station.parent / "bulletins" / f"{KEY}.yaml"
    set_bulletin_version(bfile, "IV.1.a", "hmn", audio=_speech(tmp_path / "m.wav"))
    assert 'id="thieu-ban"' in editor.get(PAGE).content.decode()  # a draft does not air
    approve_bulletin_versions(bfile, ["IV.1.a"], "hmn", "Lò Văn Páo", account="web:pao")
    page = editor.get(PAGE).content.decode()
    assert 'id="thieu-ban"' not in page and "<strong>Tiếng Mông</strong>: đã duyệt" in page


@pytest.mark.django_db
def test_the_schedule_page_says_which_languages_a_village_hears(station, client_as):
    station.write_text(station.read_text(encoding="utf-8").replace(
        "    name: Thôn Văn Hòa\n    device: default\n",
        "    name: Thôn Văn Hòa\n    device: default\n    languages: [vi, hmn]\n"),
        encoding="utf-8")
    page = client_as("technician").get("/lich-phat/").content.decode()
    zones = page[page.index("<h2>Vùng loa (thôn)</h2>"):]
    zones = zones[zones.index("<strong>Thôn Văn Hòa</strong>"):]
    zones = zones[:zones.index("</tr>")]
    assert "nghe: Tiếng Việt, Tiếng Mông" in zones and "hmn" not in zones


@pytest.mark.django_db
def test_editing_a_village_in_the_console_keeps_its_languages(station, client_as):
    """The zone form has no languages field: saving it must not drop them (the village
    would fall back to Vietnamese only without anyone noticing)."""
    import re

    from loa.schedule import load_schedule

    station.write_text(station.read_text(encoding="utf-8").replace(
        "    name: Thôn Văn Hòa\n    device: default\n",
        "    name: Thôn Văn Hòa\n    device: default\n    languages: [vi, hmn]\n"),
        encoding="utf-8")
    tech = client_as("technician")
    form = tech.get("/lich-phat/vung/thon-van-hoa/sua/").content.decode()
    version = re.search(r'name="version" value="([^"]+)"', form).group(1)
    resp = tech.post("/lich-phat/vung/thon-van-hoa/sua/",
                     {"name": "Thôn Văn Hòa mới", "device": "default", "version": version})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    zone = load_schedule(station).zones["thon-van-hoa"]
    assert zone.name == "Thôn Văn Hòa mới" and zone.languages == ("vi", "hmn")
