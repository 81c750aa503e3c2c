"""Drafts for residents, station templates, approval, and re-importing a revised plan."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest

from loa.cli import main
from loa.clock import DEFAULT_TZ
from loa.plan import import_plan
from loa.script import approve, load_bulletins, new_bulletin_file
from loa.script.draft import clear_markers, load_template, plain_clause

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def bvfile(plans, tmp_path):
    path = tmp_path / "ba-vi.yaml"
    new_bulletin_file(path, import_plan(plans / "ba-vi-2026.txt")).save()
    return path


@pytest.fixture
def checked(bvfile):
    """The drafts once an officer has dealt with their [CẦN BỔ SUNG: …] markers."""
    bfile = load_bulletins(bvfile)
    for b in bfile.bulletins:
        b.text = clear_markers(b.text)
    bfile.save()
    return bvfile


def test_draft_speaks_to_residents_inside_the_template(bvfile):
    b = load_bulletins(bvfile).get("IV.2.a")
    assert b.key == "ba-vi-2026/IV.2.a" and b.status == "draft"
    # who speaks and about what, in one short sentence; never the plan's title
    assert b.text.startswith("Kính thưa bà con nhân dân! Đài truyền thanh xã Ba Vì xin thông "
                             "tin về việc cung cấp và sử dụng dịch vụ công trực tuyến.")
    assert "Kế hoạch" not in b.text and b.text.count("Đài truyền thanh") == 1
    # the directive "Tập trung thông tin, tuyên truyền việc …" became what residents should know
    assert "Bà con cần biết: Việc cung cấp và sử dụng dịch vụ công trực tuyến trên Cổng Dịch vụ "\
        "công Quốc gia." in b.text
    assert "Tập trung thông tin, tuyên truyền" not in b.text
    # the plan gives no place, time or phone number: the officer is asked to add them
    assert "[CẦN BỔ SUNG: điều bà con cần làm, kèm địa điểm, thời gian, số điện thoại" in b.text
    assert b.text.endswith("Xin cảm ơn bà con đã lắng nghe!")
    assert 20 < b.estimated_seconds() < 180


@pytest.mark.parametrize("directive, plain", [
    ("Tuyên truyền về vai trò và tầm quan trọng của nhiệm vụ",
     "vai trò và tầm quan trọng của nhiệm vụ"),
    ("Tiếp tục tuyên truyền các chủ trương, chính sách của Đảng",
     "các chủ trương, chính sách của Đảng"),
    ("Đẩy mạnh tuyên truyền, phổ biến về vai trò, trách nhiệm của người đứng đầu",
     "vai trò, trách nhiệm của người đứng đầu"),
    ("Tiếp tục thông tin về 15 tiện ích miễn phí", "15 tiện ích miễn phí"),
    ("Xây dựng các kênh thông tin trên các nền tảng số", "Xây dựng các kênh thông tin trên các nền tảng số"),
])
def test_directive_verbs_are_dropped(directive, plain):
    assert plain_clause(directive) == plain


def test_every_plan_drafts_with_ids_fields_and_hashes(plans, tmp_path):
    for name in ("ha-noi-2026", "hang-gon-2026", "nguyen-giap-2024"):
        plan = import_plan(plans / f"{name}.txt")
        bfile = new_bulletin_file(tmp_path / f"{name}.yaml", plan)
        bfile.save()
        again = load_bulletins(tmp_path / f"{name}.yaml")
        assert [b.id for b in again.bulletins] == [t.path for t in plan.topics]
        assert all(1 <= b.field <= 6 and b.priority == 3 and b.source_hash for b in again.bulletins)
        assert all(b.text.startswith("Kính thưa bà con") for b in again.bulletins)


def test_long_topics_are_split_into_parts(plans, tmp_path):
    tpl_file = tmp_path / "mau.yaml"
    tpl_file.write_text("max_minutes: 0.6\nstation: Đài truyền thanh phường Hàng Gòn\n",
                        encoding="utf-8")
    tpl = load_template(tpl_file)
    plan = import_plan(plans / "hang-gon-2026.txt")
    bfile = new_bulletin_file(tmp_path / "b.yaml", plan, tpl)
    parts = [b for b in bfile.bulletins if b.id.startswith("II.2.c-p")]
    assert len(parts) >= 2
    assert parts[0].id == "II.2.c-p1" and parts[0].title.endswith(f"(phần 1/{len(parts)})")
    assert all(f"Đây là phần {i} trên {len(parts)}" in p.text for i, p in enumerate(parts, 1))
    # no part runs over the limit unless a single sentence does
    assert all(p.estimated_seconds(tpl.chars_per_second) <= 0.6 * 60 * 1.6 for p in parts)
    assert all("Đài truyền thanh phường Hàng Gòn" in b.text for b in bfile.bulletins)


def test_custom_template_and_its_errors(plans, tmp_path, capsys):
    tpl = tmp_path / "mau.yaml"
    tpl.write_text('greeting: "Alô alô, bà con chú ý!"\n', encoding="utf-8")
    out = tmp_path / "b.yaml"
    assert main(["plan", "import", str(plans / "ba-vi-2026.txt"), "-o", str(out),
                 "--template", str(tpl)]) == 0
    assert load_bulletins(out).bulletins[0].text.startswith("Alô alô, bà con chú ý!")
    tpl.write_text('greeting: "Chào"\nclosing: "Cảm ơn {nguoi_nghe}"\n', encoding="utf-8")
    assert main(["plan", "import", str(plans / "ba-vi-2026.txt"), "-o", str(out),
                 "--template", str(tpl)]) == 2
    err = capsys.readouterr().err
    assert f"{tpl}, dòng 2" in err and "{nguoi_nghe}" in err


def test_approval_records_who_and_when_and_only_approved_are_scheduled(checked):
    bvfile = checked
    bfile = load_bulletins(bvfile)
    approve(bfile, ["IV.1.a", "IV.2.a"], "Nguyễn Văn An", NOW)
    bfile.save()
    again = load_bulletins(bvfile)
    a = again.get("IV.1.a")
    assert (a.status, a.approved_by, a.approved_at) == ("approved", "Nguyễn Văn An",
                                                        "2026-03-20T09:00:00+07:00")
    assert [b.id for b in again.bulletins if b.status == "approved"] == ["IV.1.a", "IV.2.a"]


def test_retired_cannot_be_approved(bvfile, capsys):
    assert main(["bulletin", "retire", str(bvfile), "IV.3.a"]) == 0
    assert main(["bulletin", "approve", str(bvfile), "IV.3.a", "--by", "An"]) == 2
    assert "đã ngừng phát" in capsys.readouterr().err


def _strip_marks(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c))


def test_garbled_bulletin_is_refused_unless_forced(checked, capsys):
    bvfile = checked
    text = bvfile.read_text(encoding="utf-8")
    start = text.index("- id: IV.2.b")
    end = text.index("- id: IV.2.c")
    bvfile.write_text(text[:start] + _strip_marks(text[start:end]) + text[end:],
                      encoding="utf-8")
    assert main(["bulletin", "approve", str(bvfile), "IV.2.a", "IV.2.b", "--by", "An"]) == 2
    err = capsys.readouterr().err
    assert "IV.2.b" in err and "bị lỗi chữ" in err and "0% số chữ có dấu" in err
    assert "--force" in err and "dòng" in err
    # nothing was approved: one bad bulletin stops the whole command
    assert load_bulletins(bvfile).get("IV.2.a").status == "draft"
    assert main(["bulletin", "approve", str(bvfile), "IV.2.b", "--by", "An", "--force"]) == 0
    assert load_bulletins(bvfile).get("IV.2.b").status == "approved"


def test_reimport_keeps_edits_and_flags_changed_topics(plans, tmp_path, capsys):
    plan_txt = tmp_path / "ba-vi-2026.txt"
    original = (plans / "ba-vi-2026.txt").read_text(encoding="utf-8")
    plan_txt.write_text(original, encoding="utf-8")
    out = tmp_path / "b.yaml"
    assert main(["plan", "import", str(plan_txt), "-o", str(out)]) == 0
    bfile = load_bulletins(out)
    bfile.get("IV.1.a").text = "Lời bản tin do cán bộ đài viết lại cho dễ hiểu."
    bfile.get("IV.2.a").text = clear_markers(bfile.get("IV.2.a").text)
    approve(bfile, ["IV.1.a", "IV.2.a"], "Nguyễn Văn An", NOW)
    bfile.save()

    revised = original.replace("Tập trung thông tin, tuyên truyền việc cung cấp",
                               "Tập trung thông tin, tuyên truyền rộng rãi việc cung cấp")
    cut_from = revised.index("đ) Đẩy mạnh tuyền truyền, hướng dẫn")
    cut_to = revised.index("V. PHƯƠNG THỨC")
    revised = revised[:cut_from] + revised[cut_to:]  # IV.4.đ dropped from the plan
    plan_txt.write_text(revised, encoding="utf-8")
    capsys.readouterr()
    assert main(["plan", "import", str(plan_txt), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "giữ nguyên 15, nội dung thay đổi 1" in said and "ngừng phát 1" in said

    after = load_bulletins(out)
    kept = after.get("IV.1.a")
    assert kept.text == "Lời bản tin do cán bộ đài viết lại cho dễ hiểu."
    assert kept.status == "approved" and kept.approved_by == "Nguyễn Văn An"
    changed = after.get("IV.2.a")
    assert changed.status == "draft" and changed.review
    assert "đã thay đổi" in changed.note and "Nguyễn Văn An" in changed.note
    assert after.get("IV.4.đ").status == "retired"
    assert main(["bulletin", "list", str(out)]) == 0
    assert "[CẦN XEM LẠI]" in capsys.readouterr().out


def test_bulletin_file_errors_are_all_reported_with_lines(bvfile, capsys):
    text = bvfile.read_text(encoding="utf-8")
    text = text.replace("status: draft", "status: duyet", 1).replace("field: 1", "field: 9", 1)
    text = text.replace("  title:", "  titel:", 2).replace("  titel:", "  title:", 1)
    bvfile.write_text(text, encoding="utf-8")
    assert main(["bulletin", "list", str(bvfile)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(str(bvfile) in e and "dòng" in e for e in err), err
    assert any("trạng thái 'duyet'" in e for e in err) and any("'field'" in e for e in err)
    assert any("Có phải ý bạn là 'title'?" in e for e in err)


def test_plan_show_marks_the_content_section(plans, capsys):
    assert main(["plan", "show", str(plans / "hang-gon-2026.txt")]) == 0
    out = capsys.readouterr().out.splitlines()
    marked = [ln for ln in out if "◀ NỘI DUNG PHÁT" in ln]
    assert len(marked) == 1 and marked[0].strip().startswith("II.2  Nội dung tuyên truyền")


def test_plan_metadata_json(plans, capsys):
    import json

    assert main(["plan", "import", str(plans / "ba-vi-2026.txt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["issuer"] == "UBND xã Ba Vì" and data["number"] == "/KH-UBND"
    assert data["place_date"] == "Ba Vì, ngày tháng 3 năm 2026"
    assert data["mentions_loudspeakers"] is True and data["garbled"] is False
    assert "Nghị định số 118/2025/NĐ-CP ngày 09/6/2025" in data["references"]


def test_plan_import_uses_the_stations_template(plans, tmp_path):
    import shutil
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "schedules", tmp_path / "s")
    (tmp_path / "s" / "mau.yaml").write_text('greeting: "A lô, a lô!"\n', encoding="utf-8")
    sched = tmp_path / "s" / "ba-vi.yaml"
    sched.write_text(sched.read_text(encoding="utf-8").replace(
        "  speed: 1.0", "  speed: 1.0\n  template: mau.yaml"), encoding="utf-8")
    out = tmp_path / "b.yaml"
    assert main(["plan", "import", str(plans / "ba-vi-2026.txt"), "-o", str(out),
                 "--schedule", str(sched)]) == 0
    text = load_bulletins(out).bulletins[0].text
    assert text.startswith("A lô, a lô!") and "Đài truyền thanh xã Ba Vì xin thông tin" in text
