"""`loa render`, `loa status` and `loa clips list` name the approved bulletins still in the
backup voice; the console's Tổng quan lists their titles."""

from __future__ import annotations

from helpers import free_port, write_station, write_yaml

from loa.cli import main

STATION = {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["gtts", "espeak"]}


def _station(tmp_path):
    path = write_station(tmp_path, {"station": STATION})
    # a title an officer typed: shown as data, never as markup
    bfile = tmp_path / "bulletins.yaml"
    write_yaml(bfile, {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Dịch vụ công <b>trực tuyến</b>", "status": "approved",
         "text": "Bà con nộp hồ sơ trực tuyến tại nhà."},
        {"id": "IV.2.c", "title": "Tiện ích miễn phí", "status": "approved",
         "text": "Điểm phục vụ có wifi miễn phí."},
        {"id": "IV.3.a", "title": "Chưa duyệt", "status": "draft", "text": "Không phát."}]})
    return path


def test_titles_of_backup_voiced_bulletins_everywhere(tmp_path, data_dir, fake_google,
                                                      monkeypatch, capsys):
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    path = _station(tmp_path)
    # only one is read while Google answers
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    one = path.with_name("one.yaml")
    one.write_text(path.read_text(encoding="utf-8").replace(
        "per_session: 2", "per_session: 2\n  only: [IV.2.c]"), encoding="utf-8")
    assert main(["render", str(one)]) == 0
    capsys.readouterr()
    # Google is down: the other is read by espeak, and render warns naming it
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    assert main(["render", str(path)]) == 0
    res = capsys.readouterr()
    assert ("Cảnh báo: bản tin đã duyệt vẫn đọc bằng giọng dự phòng: «Dịch vụ công <b>trực "
            "tuyến</b>». loa run sẽ tự đọc lại bằng giọng chính khi có mạng.") in res.err
    assert "Tiện ích" not in res.err

    said = ("Giọng dự phòng: 1 bản tin đã duyệt vẫn đọc bằng giọng dự phòng espeak-ng (ngoại "
            "tuyến):\n  «Dịch vụ công <b>trực tuyến</b>»\n  Khi loa run đang chạy, máy tự đọc "
            "lại bằng giọng chính lúc có mạng (giữa các buổi phát); hoặc chạy ngay: loa render "
            f"{path} --upgrade\n")
    main(["status", str(path)])
    assert said in capsys.readouterr().out
    assert main(["clips", "list", str(path)]) == 0
    assert capsys.readouterr().out.endswith(said)

    # Google is back: --upgrade, and nothing is left in the backup voice
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    assert main(["render", str(path), "--upgrade"]) == 0
    assert "giọng dự phòng" not in capsys.readouterr().err
    main(["status", str(path)])
    assert ("Giọng dự phòng: không còn bản tin đã duyệt nào đọc bằng giọng dự phòng."
            in capsys.readouterr().out)
    main(["clips", "list", str(path)])
    assert ("Giọng dự phòng: không còn bản tin đã duyệt nào đọc bằng giọng dự phòng."
            in capsys.readouterr().out)


def test_status_looks_without_making_a_clip_store(tmp_path, data_dir, capsys):
    path = _station(tmp_path)
    main(["status", str(path)])
    assert "Giọng dự phòng: không còn bản tin" in capsys.readouterr().out
    assert not (data_dir / "clips").exists()


def test_a_retired_or_unapproved_bulletin_is_not_listed(tmp_path, data_dir, monkeypatch):
    """Only bulletins that air count: a draft's backup clip is no resident's concern."""
    from loa.station import backup_voiced, load_station

    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    path = _station(tmp_path)
    assert main(["render", str(path)]) == 0
    assert sorted(v.title for v in backup_voiced(load_station(path))) == [
        "Dịch vụ công <b>trực tuyến</b>", "Tiện ích miễn phí"]
    bfile = tmp_path / "bulletins.yaml"
    bfile.write_text(bfile.read_text(encoding="utf-8").replace(
        "status: approved", "status: draft", 1), encoding="utf-8")
    assert [v.title for v in backup_voiced(load_station(path))] == ["Tiện ích miễn phí"]


def test_clips_list_without_a_schedule_uses_the_one_loa_run_runs(tmp_path, data_dir, capsys,
                                                                  monkeypatch):
    from datetime import datetime

    from loa.clock import DEFAULT_TZ
    from loa.player import control

    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    path = _station(tmp_path)
    assert main(["render", str(path)]) == 0
    capsys.readouterr()
    (data_dir / "control").mkdir(exist_ok=True)
    control.write_heartbeat(data_dir / "control", datetime.now(DEFAULT_TZ), path, {}, 0)
    assert main(["clips", "list"]) == 0
    out = capsys.readouterr().out
    assert "2 bản tin đã duyệt vẫn đọc bằng giọng dự phòng" in out and "«Tiện ích miễn phí»" in out
    # the schedule it names is gone: the clips are still listed, and why the rest is not
    control.write_heartbeat(data_dir / "control", datetime.now(DEFAULT_TZ),
                            tmp_path / "khong-co.yaml", {}, 0)
    assert main(["clips", "list"]) == 0
    res = capsys.readouterr()
    assert "2 đoạn âm thanh" in res.out
    assert "Cảnh báo: không biết bản tin nào còn đọc bằng giọng dự phòng: " in res.err
    assert "khong-co.yaml" in res.err
