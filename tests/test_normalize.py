"""Reading normalizer: table-driven cases from real plans, plus unit tests of the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from loa.errors import LoaError
from loa.script._norm_lexicon import BUILTIN_PATH, load_lexicon_file
from loa.script.normalize import Change, Normalizer, normalize, read_digits, read_number

CASES_PATH = Path(__file__).parent / "data" / "normalize_cases.yaml"
CASES = yaml.safe_load(CASES_PATH.read_text(encoding="utf-8"))
PLANS = Path(__file__).resolve().parents[1] / "loa" / "data" / "plans"

# all-capital lexicon keys ("UBND", "LĐ-TB&XH", "TM."): none may survive normalization
_CAPS_KEYS = [
    k for k in load_lexicon_file(BUILTIN_PATH) if k == k.upper() and any(c.isalpha() for c in k)
]
_CAPS_KEYS_RE = re.compile(
    "|".join(rf"(?<![\w]){re.escape(k)}(?![\w])" for k in sorted(_CAPS_KEYS, key=len, reverse=True))
)

_normalizers: dict[tuple, Normalizer] = {}


def _normalizer(case: dict) -> Normalizer:
    key = (case.get("variant", "north"), case.get("day_prefix", "mùng"))
    if key not in _normalizers:
        _normalizers[key] = Normalizer(variant=key[0], day_prefix=key[1])
    return _normalizers[key]


def _check_spoken(out: str) -> None:
    assert not re.search(r"[0-9]", out), f"digit left: {out!r}"
    assert "/" not in out, f"slash left: {out!r}"
    left = _CAPS_KEYS_RE.search(out)
    assert left is None, f"abbreviation {left.group()!r} not expanded: {out!r}"
    assert not re.search(r"(?i)\bngày\s+ngày\b", out), f"'ngày ngày': {out!r}"


def test_case_table_is_big_enough():
    assert len(CASES) >= 150
    assert sum("expect" in c for c in CASES) >= 60
    assert sum(c["source"] != "written" for c in CASES) > len(CASES) / 2
    for case in CASES:
        assert "expect" in case or "contains" in case or "not_contains" in case, case


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['source']}" for i, c in enumerate(CASES)])
def test_case(case):
    out = _normalizer(case).normalize(case["text"])
    if "expect" in case:
        assert out == case["expect"]
    for part in case.get("contains", []):
        assert part in out
    for part in case.get("not_contains", []):
        assert part not in out
    _check_spoken(out)


@pytest.mark.parametrize("plan", sorted(PLANS.glob("*.txt")), ids=lambda p: p.stem)
def test_whole_plan_is_speakable(plan):
    text = plan.read_text(encoding="utf-8")
    spoken, changes = Normalizer().explain(text)
    _check_spoken(spoken)
    assert all(text[c.start : c.end] == c.original for c in changes)


def test_normalizing_twice_changes_nothing():
    norm = Normalizer()
    for case in CASES:
        once = _normalizer(case).normalize(case["text"])
        assert norm.normalize(once) == once, case["text"]


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, north, south",
    [
        (0, "không", "không"),
        (5, "năm", "năm"),
        (10, "mười", "mười"),
        (11, "mười một", "mười một"),
        (15, "mười lăm", "mười lăm"),
        (21, "hai mươi mốt", "hai mươi mốt"),
        (24, "hai mươi tư", "hai mươi tư"),
        (25, "hai mươi lăm", "hai mươi lăm"),
        (101, "một trăm linh một", "một trăm lẻ một"),
        (105, "một trăm linh năm", "một trăm lẻ năm"),
        (110, "một trăm mười", "một trăm mười"),
        (1000, "một nghìn", "một ngàn"),
        (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
        (2026, "hai nghìn không trăm hai mươi sáu", "hai ngàn không trăm hai mươi sáu"),
        (1_500_000, "một triệu năm trăm nghìn", "một triệu năm trăm ngàn"),
        (1_000_000_000, "một tỷ", "một tỷ"),
        (2_000_005, "hai triệu không trăm linh năm", "hai triệu không trăm lẻ năm"),
    ],
)
def test_read_number(n, north, south):
    assert read_number(n) == north
    assert read_number(n, "north") == north
    assert read_number(n, variant="south") == south


def test_read_digits():
    assert read_digits("0912") == "không chín một hai"
    assert read_digits("0243.825") == "không hai bốn ba tám hai năm"


def test_convenience_normalize_and_variants():
    assert normalize("năm 2026") == "năm hai nghìn không trăm hai mươi sáu"
    assert normalize("năm 2026", variant="south") == "năm hai ngàn không trăm hai mươi sáu"
    assert normalize("105 hộ", "south") == "một trăm lẻ năm hộ"


def test_day_prefix_options():
    text = "ngày 09/6/2025"
    assert Normalizer().normalize(text) == (
        "ngày mùng chín tháng sáu năm hai nghìn không trăm hai mươi lăm"
    )
    assert Normalizer(day_prefix="mồng").normalize(text).startswith("ngày mồng chín tháng sáu")
    assert Normalizer(day_prefix=None).normalize(text) == (
        "ngày chín tháng sáu năm hai nghìn không trăm hai mươi lăm"
    )
    # days after the tenth never get a prefix
    assert Normalizer().normalize("ngày 15/9") == "ngày mười lăm tháng chín"


def test_bad_options_are_vietnamese_errors():
    with pytest.raises(LoaError, match="north"):
        Normalizer(variant="central")
    with pytest.raises(LoaError, match="mùng"):
        Normalizer(day_prefix="ngày")


# --- explain() ------------------------------------------------------------------------


def test_explain_spans_point_into_original_text():
    text = (
        "Căn cứ Nghị định số 118/2025/NĐ-CP ngày 09/6/2025 của Chính phủ; UBND xã tiếp nhận "
        "95% hồ sơ TTHC (sau đây viết tắt là X) lúc 14h30, hotline 1900 1234, Quý I/2026."
    )
    spoken, changes = Normalizer().explain(text)
    assert spoken == Normalizer().normalize(text)
    assert changes and all(isinstance(c, Change) for c in changes)
    for c in changes:
        assert text[c.start : c.end] == c.original
    starts = [c.start for c in changes]
    assert starts == sorted(starts)
    for a, b in zip(changes, changes[1:], strict=False):
        assert a.end <= b.start, "changes overlap"
    rules = {c.rule for c in changes}
    assert {"doc-ref", "date", "abbreviation", "number", "time", "phone"} <= rules
    doc = next(c for c in changes if c.rule == "doc-ref")
    assert doc.original == "118/2025/NĐ-CP"
    assert doc.spoken.strip() == "một trăm mười tám năm hai nghìn không trăm hai mươi lăm"


def test_explain_records_removed_definition():
    text = "Kiểm soát thủ tục hành chính (sau đây viết tắt là KSTTHC) năm nay; KSTTHC"
    spoken, changes = Normalizer().explain(text)
    removed = [c for c in changes if c.rule == "abbreviation-definition"]
    assert len(removed) == 1 and removed[0].spoken == ""
    assert "KSTTHC" in removed[0].original
    assert spoken == "Kiểm soát thủ tục hành chính năm nay; Kiểm soát thủ tục hành chính"


def test_explain_handles_text_without_changes():
    assert Normalizer().explain("Kính gửi bà con") == ("Kính gửi bà con", [])
    assert Normalizer().explain("") == ("", [])


# --- lexicon --------------------------------------------------------------------------


def test_lexicon_file_overrides_builtin_and_adds(tmp_path):
    station = tmp_path / "dai-xa.yaml"
    station.write_text(
        '"UBND": Ủy ban xã\n"HTXNN": hợp tác xã nông nghiệp\n"Zalo": da lô xã\n',
        encoding="utf-8",
    )
    norm = Normalizer(lexicon_files=[station])
    assert norm.normalize("UBND họp với HTXNN") == "Ủy ban xã họp với hợp tác xã nông nghiệp"
    assert norm.normalize("nhóm zalo") == "nhóm da lô xã"
    # built-in entries not overridden still apply
    assert norm.normalize("HĐND") == "Hội đồng nhân dân"


def test_later_lexicon_wins(tmp_path):
    first = tmp_path / "a.yaml"
    second = tmp_path / "b.yaml"
    first.write_text('"KT": khu tập thể\n', encoding="utf-8")
    second.write_text('"KT": kinh tế\n', encoding="utf-8")
    assert Normalizer(lexicon_files=[first, second]).normalize("KT") == "Kinh tế"
    assert Normalizer(lexicon_files=[second, first]).normalize("khu KT") == "khu khu tập thể"
    # the dict comes after every file
    norm = Normalizer(lexicon_files=[first], lexicon={"KT": "kỹ thuật"})
    assert norm.normalize("phòng KT") == "phòng kỹ thuật"


def test_text_definition_beats_lexicon():
    text = "Ban Tổ chức (BTC) thông báo; BTC đề nghị"
    assert Normalizer(lexicon={"BTC": "Bộ Tài chính"}).normalize(text) == (
        "Ban Tổ chức thông báo; Ban Tổ chức đề nghị"
    )


def test_broken_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "hong.yaml"
    bad.write_text(
        '"UBND": Ủy ban nhân dân\n"HĐND": [Hội đồng\n"MTTQ": Mặt trận\n', encoding="utf-8"
    )
    with pytest.raises(LoaError) as info:
        Normalizer(lexicon_files=[bad])
    problem = info.value.problems[0]
    assert problem.path == bad
    assert problem.line in (2, 3)
    assert "YAML" in problem.message and "cú pháp" in problem.message
    assert str(bad) in str(info.value) and "dòng" in str(info.value)


def test_non_string_reading_names_line(tmp_path):
    bad = tmp_path / "so.yaml"
    bad.write_text('"UBND": Ủy ban nhân dân\n"KH": 123\n', encoding="utf-8")
    with pytest.raises(LoaError) as info:
        Normalizer(lexicon_files=[bad])
    assert info.value.problems[0].line == 2
    assert "KH" in str(info.value) and "phải là một dòng chữ" in str(info.value)


def test_empty_reading_and_list_file_are_rejected(tmp_path):
    empty = tmp_path / "trong.yaml"
    empty.write_text('"UBND":\n', encoding="utf-8")
    with pytest.raises(LoaError, match="chưa ghi cách đọc") as info:
        Normalizer(lexicon_files=[empty])
    assert info.value.problems[0].line == 1
    as_list = tmp_path / "ds.yaml"
    as_list.write_text("- UBND\n- HĐND\n", encoding="utf-8")
    with pytest.raises(LoaError, match="VIẾT TẮT: cách đọc"):
        Normalizer(lexicon_files=[as_list])


def test_missing_lexicon_file(tmp_path):
    with pytest.raises(LoaError, match="không tìm thấy"):
        Normalizer(lexicon_files=[tmp_path / "khong-co.yaml"])


def test_bad_lexicon_dict():
    with pytest.raises(LoaError, match="chuỗi chữ"):
        Normalizer(lexicon={"UBND": 1})


def test_builtin_lexicon_loads_and_covers_plan_abbreviations():
    lex = load_lexicon_file(BUILTIN_PATH)
    for key in ("UBND", "HĐND", "MTTQ", "TTHC", "KSTTHC", "CCHC", "CNTT", "VH-XH", "PCCC",
                "ANTT", "BHXH", "BHYT", "Đ/c", "TM.", "KT.", "TP.", "NĐ-CP", "TW", "CP",
                "LĐ-TB&XH", "VNeID", "SIPAS", "PAPI", "PAR Index", "THCS", "THPT", "UBMTTQ",
                "CAND", "QĐ", "KH"):  # fmt: skip
        assert key in lex, key


# --- behaviour spot checks ----------------------------------------------------------------


def test_lone_roman_i_is_untouched():
    assert Normalizer().normalize("I think Quý I") == "I think Quý một"


def test_doc_ref_never_a_date_or_fraction():
    out = Normalizer().normalize("Nghị định số 118/2025/NĐ-CP")
    assert "tháng" not in out and "trên" not in out and "en đê" not in out
    assert (
        out == "Nghị định số một trăm mười tám năm hai nghìn không trăm hai mươi lăm của Chính phủ"
    )


def test_issuer_not_repeated_when_text_names_it():
    out = Normalizer().normalize("Nghị quyết số 76/NQ-CP ngày 15/7/2021 của Chính phủ")
    assert out.count("Chính phủ") == 1
