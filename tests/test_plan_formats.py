"""DOCX and PDF versions of the real plans give the same topics as the text version."""

from __future__ import annotations

import pytest
from plan_docs import convert, word_document

from loa.errors import LoaError
from loa.plan import import_plan
from loa.plan.reader import read_plan_lines

PLANS = ["ba-vi-2026", "ha-noi-2026", "hang-gon-2026", "nguyen-giap-2024"]


def _topics(path):
    return [(t.path, t.text) for t in import_plan(path).topics]


def _words(text: str) -> list[str]:
    return text.replace(" ", "").split()


@pytest.mark.parametrize("name", PLANS)
def test_docx_saved_by_libreoffice_gives_the_same_topics(plans, tmp_path, name):
    src = tmp_path / f"{name}.txt"
    src.write_text((plans / f"{name}.txt").read_text(encoding="utf-8"), encoding="utf-8")
    docx_path = convert(src, "docx:MS Word 2007 XML", tmp_path)
    assert _topics(docx_path) == _topics(src)


@pytest.mark.parametrize("name", PLANS)
def test_pdf_with_running_header_and_page_numbers_gives_the_same_topics(plans, tmp_path, name):
    doc = word_document(plans / f"{name}.txt", tmp_path / f"{name}.docx",
                        header="KẾ HOẠCH THÔNG TIN, TUYÊN TRUYỀN NĂM 2026", page_numbers=True)
    pdf = convert(doc, "pdf", tmp_path)
    lines = read_plan_lines(pdf)
    assert lines[0].unit == "trang" and max(ln.number for ln in lines) >= 3
    assert not any(ln.text == "KẾ HOẠCH THÔNG TIN, TUYÊN TRUYỀN NĂM 2026" for ln in lines)
    assert not any(ln.text.isdigit() for ln in lines)
    got = import_plan(pdf).topics
    want = import_plan(plans / f"{name}.txt").topics
    assert [t.path for t in got] == [t.path for t in want]
    for g, w in zip(got, want, strict=True):
        # PDF text extraction may re-space a word or two; the words are the same
        assert "".join(g.text.split()) == "".join(w.text.split())


def test_docx_with_word_auto_numbering(plans, tmp_path):
    doc = word_document(plans / "ba-vi-2026.txt", tmp_path / "ba-vi.docx", auto_letters=True)
    got = import_plan(doc).topics
    want = import_plan(plans / "ba-vi-2026.txt").topics
    # Word's lowerLetter shows a b c d e (no đ): ids follow what the officer sees in Word
    assert [t.path for t in got] == [t.path.replace("đ", "e") for t in want]
    assert [t.text for t in got] == [t.text for t in want]
    assert got[0].unit == "đoạn"


def test_broken_docx_is_a_clear_error(tmp_path):
    bad = tmp_path / "hong.docx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LoaError) as exc:
        import_plan(bad)
    assert "không mở được tệp Word" in str(exc.value) and str(bad) in str(exc.value)


def test_scanned_pdf_without_text_says_what_to_do(tmp_path):
    from pypdf import PdfWriter

    scan = tmp_path / "scan.pdf"
    writer = PdfWriter()
    writer.add_blank_page(595, 842)  # a page with no text layer, as a scanner makes
    with open(scan, "wb") as fh:
        writer.write(fh)
    with pytest.raises(LoaError) as exc:
        import_plan(scan)
    assert "OCR" in str(exc.value) and str(scan) in str(exc.value)


def test_docx_numbering_from_paragraph_styles(tmp_path):
    import docx

    document = docx.Document()
    document.add_paragraph("KẾ HOẠCH")
    document.add_paragraph("Thông tin, tuyên truyền về phòng cháy chữa cháy năm 2026")
    document.add_paragraph("I. NỘI DUNG TUYÊN TRUYỀN")
    for text in ("Các quy định về phòng cháy trong khu dân cư.",
                 "Kỹ năng thoát nạn khi có cháy.",
                 "Số điện thoại báo cháy 114."):
        document.add_paragraph(text, style="List Number")  # numbered by the style, not typed
    document.add_paragraph("II. TỔ CHỨC THỰC HIỆN")
    path = tmp_path / "pccc.docx"
    document.save(path)
    plan = import_plan(path)
    assert [(t.path, t.text) for t in plan.topics] == [
        ("I.1", "Các quy định về phòng cháy trong khu dân cư."),
        ("I.2", "Kỹ năng thoát nạn khi có cháy."),
        ("I.3", "Số điện thoại báo cháy 114."),
    ]
