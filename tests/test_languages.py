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
