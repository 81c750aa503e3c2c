"""Outline edge cases that real and OCR-damaged plans throw at the parser."""

from __future__ import annotations

from loa.plan.outline import parse_outline
from loa.plan.reader import clean_lines


def outline(text: str):
    return parse_outline(clean_lines(text))


def paths(text: str) -> list[str]:
    return [n.path for n in outline(text).walk() if n.kind != "root"]


def test_wrapped_line_starting_with_a_number_is_text_not_an_item():
    text = """II. NỘI DUNG
1. Tuyên truyền quy định tại khoản
3. Điều 5 của Nghị định về thủ tục.
2. Tuyên truyền về dịch vụ công trực tuyến giai đoạn 2021 -
2025. Tiếp tục hướng dẫn người dân.
"""
    root = outline(text)
    assert paths(text) == ["II", "II.1", "II.2"]
    assert root.find("II.1").text.endswith("khoản 3. Điều 5 của Nghị định về thủ tục.")
    assert "2025. Tiếp tục" in root.find("II.2").text


def test_lists_may_start_late_and_skip_one():
    text = "IV. X\n1. Y\nb) Một.\nc) Hai.\nđ) Bốn.\n"
    assert paths(text) == ["IV", "IV.1", "IV.1.b", "IV.1.c", "IV.1.đ"]
    # a pasted excerpt may start anywhere at the top level
    assert paths("IV. X\n1. Y\n")[:2] == ["IV", "IV.1"]


def test_ocr_variants_of_letters():
    text = "I. X\n1. Y\na) Một.\nb) Hai.\nC) Ba.\nd) Bốn.\nd) Năm.\ne) Sáu.\n"
    assert paths(text) == ["I", "I.1", "I.1.a", "I.1.b", "I.1.c", "I.1.d", "I.1.đ", "I.1.e"]


def test_duplicated_marker_is_the_next_letter():
    text = "I. X\n1. Y\na) Một.\nb) Hai.\nb) Ba.\nd) Bốn.\n"
    assert paths(text)[2:] == ["I.1.a", "I.1.b", "I.1.c", "I.1.d"]


def test_heading_split_over_lines_and_blank_lines():
    text = "IV. CÁC NỘI DUNG THÔNG TIN,\n\nTUYÊN TRUYỀN\n1. Thông tin về vai trò của\n\n công tác kiểm soát\n"
    root = outline(text)
    assert root.find("IV").text == "CÁC NỘI DUNG THÔNG TIN, TUYÊN TRUYỀN"
    assert root.find("IV.1").text == "Thông tin về vai trò của công tác kiểm soát"


def test_other_marker_styles():
    text = """PHẦN II - NỘI DUNG
1) Thứ nhất.
1.1. Ý một.
1.2. Ý hai.
2/ Thứ hai.
a. Chữ a.
b. Chữ b.
• Chấm một.
+ Cộng một.
"""
    assert paths(text) == ["II", "II.1", "II.1.1", "II.1.2", "II.2", "II.2.a", "II.2.b",
                           "II.2.b.-1", "II.2.b.-1.+1"]


def test_markers_glued_into_one_paragraph_are_split():
    text = "I. X\n1. Y\na) Một việc. b) Hai việc; c) Ba việc.\n"
    assert paths(text)[2:] == ["I.1.a", "I.1.b", "I.1.c"]


def test_page_numbers_and_codes_broken_at_line_end():
    text = "I. X\n1. Theo Kế hoạch số 106/KH-\nUBND của Thành phố\n\n2\n\nvà Thông tư.\n"
    root = outline(text)
    assert root.find("I.1").text == "Theo Kế hoạch số 106/KH-UBND của Thành phố và Thông tư."


def test_document_number_at_a_line_start_is_not_an_item():
    text = "Căn cứ Nghị định\n42/2022/NĐ-CP ngày 24/6/2022 của Chính phủ;\nI. MỤC ĐÍCH\n"
    assert paths(text) == ["I"]
    assert outline(text).lines[-1].startswith("42/2022/NĐ-CP")
