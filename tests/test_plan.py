from __future__ import annotations

import json

import pytest

from loa.cli import main
from loa.errors import LoaError
from loa.plan import import_plan

EXPECTED = {
    "ba-vi-2026": ["IV.1.a", "IV.1.b", "IV.1.c", "IV.1.d", "IV.1.đ", "IV.2.a", "IV.2.b",
                   "IV.2.c", "IV.3.a", "IV.3.b", "IV.3.c", "IV.3.d", "IV.3.đ", "IV.4.b",
                   "IV.4.c", "IV.4.d", "IV.4.đ"],
    "ha-noi-2026": ["IV.1.a", "IV.1.b", "IV.1.c", "IV.1.d", "IV.1.đ", "IV.2.a", "IV.2.b",
                    "IV.2.c", "IV.3.a", "IV.3.b", "IV.3.c", "IV.3.d", "IV.3.đ", "IV.4.b",
                    "IV.4.c", "IV.4.d", "IV.4.đ", "IV.5.a", "IV.5.b"],
    "hang-gon-2026": [f"II.2.{c}" for c in "abcdđeg"],
    "nguyen-giap-2024": [f"II.1.-{i}" for i in range(1, 7)] + [f"II.2.-{i}" for i in (1, 2, 3)]
    + [f"II.3.-{i}" for i in (1, 2, 3)] + ["II.4.-1", "II.4.-2"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_plan_yields_exactly_its_content_topics(plans, name):
    plan = import_plan(plans / f"{name}.txt")
    assert [t.path for t in plan.topics] == EXPECTED[name]
    assert all(t.text and t.title for t in plan.topics)


def test_topic_text_is_reflowed_across_broken_lines(plans):
    plan = import_plan(plans / "ba-vi-2026.txt")
    first = plan.topics[0]
    assert first.title == (
        "Tuyên truyền về vai trò và tầm quan trọng của nhiệm vụ kiểm soát thủ tục hành chính"
    )
    # "thủ tục \n\n hành chính" in the source becomes one sentence
    assert "kiểm soát thủ tục hành chính; việc thực hiện cơ chế một cửa" in first.text
    assert first.text.endswith("lấy người dân, doanh nghiệp làm trung tâm phục vụ.")
    assert first.line == 149  # "a) Tuyên truyền về vai trò …" in the file
    assert "\n" not in first.text and "  " not in first.text
    # the last topic stops before section V
    assert "PHƯƠNG THỨC" not in plan.topics[-1].text


def test_plan_metadata(plans):
    plan = import_plan(plans / "ba-vi-2026.txt")
    assert plan.issuer == "UBND xã Ba Vì"
    assert plan.year == 2026
    assert plan.title.startswith("Thông tin, tuyên truyền về Kiểm soát thủ tục hành chính")


def test_cli_plan_import_json_lists_17_topics(plans, capsys):
    assert main(["plan", "import", str(plans / "ba-vi-2026.txt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["section"] == "IV"
    assert [t["id"] for t in data["topics"]] == EXPECTED["ba-vi-2026"]


def test_cli_plan_import_writes_draft_bulletins(plans, tmp_path, capsys):
    out = tmp_path / "b.yaml"
    assert main(["plan", "import", str(plans / "hang-gon-2026.txt"), "-o", str(out)]) == 0
    assert "7 bản tin nháp" in capsys.readouterr().out
    from loa.script import load_bulletins

    bfile = load_bulletins(out)
    assert [b.id for b in bfile.bulletins] == EXPECTED["hang-gon-2026"]
    assert {b.status for b in bfile.bulletins} == {"draft"}
    assert bfile.plan["id"] == "hang-gon-2026"


def test_missing_section_is_a_vietnamese_error_naming_the_file(tmp_path, capsys):
    f = tmp_path / "khong-co.txt"
    f.write_text("KẾ HOẠCH\nI. MỤC ĐÍCH\n1. Một việc gì đó.\n", encoding="utf-8")
    assert main(["plan", "import", str(f)]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and "không tìm thấy phần" in err and "--section" in err
    assert "Traceback" not in err


def test_section_option_picks_another_part(plans):
    plan = import_plan(plans / "ba-vi-2026.txt", section="V.1")
    assert [t.path for t in plan.topics][:2] == ["V.1.a", "V.1.b.-1"]


def test_non_utf8_file_names_the_line(tmp_path):
    f = tmp_path / "cp1258.txt"
    f.write_bytes("KẾ HOẠCH\n".encode() + b"I. N\xd4I DUNG\n")
    with pytest.raises(LoaError) as exc:
        import_plan(f)
    assert exc.value.problems[0].line == 2
    assert "UTF-8" in str(exc.value)


def test_plan_text_prints_the_reflowed_document(plans, capsys):
    assert main(["plan", "text", str(plans / "ba-vi-2026.txt")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "IV. CÁC NỘI DUNG THÔNG TIN, TUYÊN TRUYỀN" in out
    item = next(ln for ln in out if ln.startswith("a) Tuyên truyền về vai trò và tầm quan"))
    assert item.endswith("lấy người dân, doanh nghiệp làm trung tâm phục vụ.")
