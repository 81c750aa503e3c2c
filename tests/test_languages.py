"""Language versions (issue 13 item 6): zones' languages, bulletins' versions, approval."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from loa.cli import main
from loa.errors import LoaError
from loa.languages import LANGUAGES, name_vi, suggest
from loa.schedule import load_schedule

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path) -> Path:
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    return tmp_path / "schedules" / "ba-vi.yaml"


def _with_languages(example: Path, first: str, second: str | None = None) -> Path:
    text = example.read_text(encoding="utf-8")
    text = text.replace("    volume: 80 ", f"    languages: {first}\n    volume: 80 ", 1)
    if second is not None:
        text = text.replace("    name: Thôn Văn Hòa\n",
                            f"    name: Thôn Văn Hòa\n    languages: {second}\n", 1)
    example.write_text(text, encoding="utf-8")
    return example


def test_language_table_has_vietnamese_names_and_iso_codes():
    assert LANGUAGES["vi"] == "Tiếng Việt" and LANGUAGES["hmn"] == "Tiếng Mông"
    for name in ("Tày", "Thái", "Nùng", "Dao", "Khmer", "Ê Đê", "Gia Rai", "Ba Na", "Chăm",
                 "Mường"):
        assert any(name in v for v in LANGUAGES.values()), name
    assert all(2 <= len(code) <= 3 and code.isascii() and code.islower() for code in LANGUAGES)
    assert name_vi("xx") == "xx"  # an old row's unknown code is shown as it is
    assert suggest("Tiếng Mông") == suggest("mong") == suggest("hmm") == "hmn"
    assert suggest("Ê Đê") == "rad" and suggest("vn") == "vi"


def test_zone_languages_default_to_vietnamese_and_keep_their_order(example):
    sched = load_schedule(_with_languages(example, "[hmn, vi]"))
    assert sched.zones["toan-xa"].languages == ("hmn", "vi")
    assert sched.zones["thon-van-hoa"].languages == ("vi",)


def test_unknown_language_code_is_named_with_file_line_and_suggestion(example, capsys):
    _with_languages(example, "[vi, mong]", "[vi, vi]")
    with pytest.raises(LoaError) as err:
        load_schedule(example)
    text = str(err.value)
    line = next(n for n, s in enumerate(example.read_text(encoding="utf-8").splitlines(), 1)
                if "mong" in s)
    assert f"ba-vi.yaml, dòng {line}" in text
    assert "mã ngôn ngữ 'mong' không có" in text and "Có phải ý bạn là 'hmn' (Tiếng Mông)?" in text
    assert "Tiếng Việt ('vi') ghi hai lần trong 'languages'" in text
    assert main(["validate", str(example)]) != 0
    out = capsys.readouterr()
    assert "Có phải ý bạn là 'hmn'" in out.out + out.err
    assert "Traceback" not in out.out + out.err


def test_empty_language_list_is_refused(example):
    _with_languages(example, "[]")
    with pytest.raises(LoaError, match="cần ít nhất một ngôn ngữ"):
        load_schedule(example)


# --- bulletin versions ----------------------------------------------------------------------

def _tone(path: Path, seconds: float = 1.0, freq: float = 440.0, rate: int = 22050) -> Path:
    import numpy as np

    from loa.audio.wav import write_wav

    t = np.arange(int(rate * seconds)) / rate
    write_wav(path, (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16), rate)
    return path


@pytest.fixture
def bfile(example) -> Path:
    return example.parent / "bulletins" / "ba-vi-2026.yaml"


def test_a_version_is_approved_on_its_own_hash_and_only_it_needs_approving_again(
        bfile, tmp_path, capsys):
    from loa.script.bulletin import load_bulletins

    before = load_bulletins(bfile).get("IV.1.a")
    assert before.is_approved
    src = _tone(tmp_path / "dich-mong.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio", str(src)]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    v = b.versions["hmn"]
    assert v.audio.startswith("ghi-am/IV.1.a-hmn-") and v.audio_path.is_file()
    assert not v.is_approved and b.for_air("hmn") is None
    assert b.is_approved and b.for_air("vi") is b  # the Vietnamese bulletin is untouched
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn",
                 "--by", "Lò Văn Páo"]) == 0
    assert "Đã duyệt bản tiếng Mông của IV.1.a (người duyệt: Lò Văn Páo" in capsys.readouterr().out
    b = load_bulletins(bfile).get("IV.1.a")
    v = b.versions["hmn"]
    assert v.is_approved and v.approved_hash == v.approval_hash()
    aired = b.for_air("hmn")
    assert (aired.key, aired.title, aired.language, aired.audio) == (b.key, b.title, "hmn",
                                                                     v.audio)
    # the translator re-reads it: only that version waits for approval again
    _tone(tmp_path / "dich-mong-2.wav", freq=330.0)
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio",
                 str(tmp_path / "dich-mong-2.wav")]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    assert b.versions["hmn"].status_vi == "chờ duyệt lại" and b.for_air("hmn") is None
    assert b.is_approved and b.approved_hash == before.approved_hash
    # a hand edit of the recording's bytes also voids it
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn", "--by", "A"]) == 0
    b = load_bulletins(bfile).get("IV.1.a")
    _tone(b.versions["hmn"].audio_path, freq=550.0)
    b = load_bulletins(bfile).get("IV.1.a")
    assert b.versions["hmn"].status_vi == "chờ duyệt lại" and b.is_approved
    # editing the Vietnamese text leaves the version's approval alone
    from loa import station as svc

    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn", "--by", "A"]) == 0
    svc.edit_bulletin(bfile, "IV.1.a", text="Lời tiếng Việt mới.")
    b = load_bulletins(bfile).get("IV.1.a")
    assert not b.is_approved and b.versions["hmn"].is_approved
    assert main(["bulletin", "show", str(bfile), "IV.1.a"]) == 0
    assert "Bản tiếng Mông (hmn): đã duyệt, A duyệt lúc" in capsys.readouterr().out


def test_version_submit_return_and_remove(bfile, tmp_path, capsys):
    from loa.script.bulletin import load_bulletins

    src = _tone(tmp_path / "tay.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.b", "tyz", "--audio", str(src)]) == 0
    assert main(["bulletin", "submit", str(bfile), "IV.1.b", "--lang", "tyz", "--by", "B"]) == 0
    assert load_bulletins(bfile).get("IV.1.b").versions["tyz"].status_vi == "chờ duyệt"
    assert main(["bulletin", "return", str(bfile), "IV.1.b", "--lang", "tyz", "--by", "C",
                 "--note", "đọc nhanh quá"]) == 0
    v = load_bulletins(bfile).get("IV.1.b").versions["tyz"]
    assert (v.status, v.returned_by, v.review_note) == ("returned", "C", "đọc nhanh quá")
    assert main(["bulletin", "version", str(bfile), "IV.1.b", "tyz", "--remove"]) == 0
    assert "sẽ nghe bản tiếng Việt" in capsys.readouterr().out
    assert load_bulletins(bfile).get("IV.1.b").versions == {}


def test_version_errors_are_vietnamese_and_name_the_file(bfile, tmp_path, capsys):
    text = bfile.read_text(encoding="utf-8")
    src = _tone(tmp_path / "x.wav")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "mong", "--audio", str(src)]) != 0
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "vi", "--audio", str(src)]) != 0
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--text", "Nyob zoo"]) != 0
    (tmp_path / "not.wav").write_text("không phải âm thanh", encoding="utf-8")
    assert main(["bulletin", "version", str(bfile), "IV.1.a", "hmn", "--audio",
                 str(tmp_path / "not.wav")]) != 0
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--lang", "hmn"]) != 0
    err = capsys.readouterr().err
    assert "Có phải ý bạn là 'hmn' (Tiếng Mông)?" in err
    assert "bản tiếng Việt là chính bản tin" in err
    assert "chưa có bộ đọc nào trên máy này đọc được tiếng Mông" in err
    assert "not.wav" in err
    assert "chưa có bản tiếng Mông" in err
    assert "Traceback" not in err
    assert bfile.read_text(encoding="utf-8") == text  # nothing half-written
    # a hand-written file: a bad version is reported with its line
    bad = text.replace("- id: IV.1.a\n", "- id: IV.1.a\n  versions:\n    mong:\n"
                       "      audio: a.wav\n    tyz:\n      status: approved\n", 1)
    bfile.write_text(bad, encoding="utf-8")
    assert main(["bulletin", "list", str(bfile)]) != 0
    err = capsys.readouterr().err
    line = bad.splitlines().index("    mong:") + 1
    assert f"dòng {line}" in err and "Có phải ý bạn là 'hmn'" in err
    assert "cần đúng một trong hai: 'audio'" in err
