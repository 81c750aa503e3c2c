"""What an officer reads from `loa render` and `loa clips list` about issue 13's voices:
Vietnamese words, never an engine's code ('ghi-am', 'gtts') or an English failure kind."""

from __future__ import annotations

import subprocess

from helpers import free_port, write_station, write_yaml

from loa.cli import main

STATION = {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["gtts", "espeak"]}


def test_render_and_clips_list_speak_vietnamese_about_engines(tmp_path, data_dir, monkeypatch,
                                                              capsys):
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")  # Google down
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    path = write_station(tmp_path, {"station": STATION})
    bfile = tmp_path / "bulletins.yaml"
    write_yaml(bfile, {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công trực tuyến", "status": "draft",
         "text": "Bà con nộp hồ sơ trực tuyến tại nhà."},
        {"id": "IV.2.c", "title": "Tiện ích miễn phí", "status": "approved",
         "text": "Điểm phục vụ có wifi miễn phí."}]})
    voice = tmp_path / "doc.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(voice), "Bà con chú ý."], check=True)
    assert main(["bulletin", "record", str(bfile), "IV.2.a", str(voice)]) == 0
    assert main(["bulletin", "approve", str(bfile), "IV.2.a"]) == 0
    capsys.readouterr()

    assert main(["render", str(path)]) == 0
    said = capsys.readouterr().out
    assert ("Không dùng được: bộ đọc Google (trực tuyến) không kết nối được." in said), said
    assert "gtts" not in said and "offline" not in said

    assert main(["clips", "list", str(path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    recorded = [r for r in rows if "[giọng đọc thu âm]" in r]
    assert len(recorded) == 1 and " thu âm " in recorded[0], rows
    assert not any("ghi-am" in r for r in rows), rows
    assert any(" espeak " in r and "(dự phòng)" in r for r in rows), rows


def test_a_language_versions_review_names_the_bulletin(tmp_path, data_dir, capsys):
    """submit/approve/return --lang say which bulletin by its title, as the Vietnamese
    bulletin's messages do, not by its id alone."""
    bfile = tmp_path / "bulletins.yaml"
    write_yaml(bfile, {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công trực tuyến", "status": "approved",
         "text": "Bà con nộp hồ sơ trực tuyến tại nhà."}]})
    voice = tmp_path / "dich.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(voice), "Nyob zoo."], check=True)
    assert main(["bulletin", "version", str(bfile), "IV.2.a", "hmn", "--audio", str(voice)]) == 0
    capsys.readouterr()
    assert main(["bulletin", "submit", str(bfile), "IV.2.a", "--lang", "hmn"]) == 0
    assert capsys.readouterr().out == (
        "Đã gửi duyệt bản tiếng Mông của IV.2.a: Dịch vụ công trực tuyến\n")
    assert main(["bulletin", "return", str(bfile), "IV.2.a", "--lang", "hmn",
                 "--note", "Đọc chậm hơn"]) == 0
    assert capsys.readouterr().out == (
        "Đã trả lại bản tiếng Mông của IV.2.a: Dịch vụ công trực tuyến — lý do: Đọc chậm hơn\n")
    assert main(["bulletin", "approve", str(bfile), "IV.2.a", "--lang", "hmn",
                 "--by", "Nguyễn Văn An"]) == 0
    assert capsys.readouterr().out.startswith(
        "Đã duyệt bản tiếng Mông của IV.2.a: Dịch vụ công trực tuyến (người duyệt: "
        "Nguyễn Văn An, tài khoản os:")


def test_show_gives_a_recorded_bulletins_length_not_the_words_estimate(tmp_path, data_dir,
                                                                       capsys):
    bfile = tmp_path / "bulletins.yaml"
    long_text = "Bà con nộp hồ sơ trực tuyến tại nhà. " * 30  # over a minute of words
    write_yaml(bfile, {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công", "status": "draft", "text": long_text}]})
    voice = tmp_path / "doc.wav"
    subprocess.run(["espeak-ng", "-v", "vi", "-w", str(voice), "Bà con chú ý."], check=True)
    assert main(["bulletin", "show", str(bfile), "IV.2.a"]) == 0
    assert "đọc khoảng 1:" in capsys.readouterr().out
    assert main(["bulletin", "record", str(bfile), "IV.2.a", str(voice)]) == 0
    capsys.readouterr()
    assert main(["bulletin", "show", str(bfile), "IV.2.a"]) == 0
    status = capsys.readouterr().out.splitlines()[1]
    # a second or so of speech once silence is trimmed: 0:00-0:02, never the minute of words
    assert status.startswith("Trạng thái: bản nháp; giọng đọc thu âm dài 0:0"), status
