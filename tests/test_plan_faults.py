"""Bad plan documents and bad templates through the real CLI: a clear Vietnamese error
naming the file, exit 2, no traceback, no output file, quickly; plan import linear in size."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from loa.errors import LoaError
from loa.plan import import_plan
from loa.script.bulletin import drafts_from_plan
from loa.script.draft import load_template

REPO = Path(__file__).resolve().parents[1]
QUICK = 30  # seconds: every bad document fails fast (a hang would run for minutes)

# A plan that imports: plain ASCII, so that a PDF's standard font can carry it.
ASCII_PLAN = [
    "KE HOACH",
    "Tuyen truyen phong chay chua chay nam 2026",
    "I. MUC DICH, YEU CAU",
    "1. Nang cao nhan thuc cua Nhan dan.",
    "II. CAC NOI DUNG THONG TIN, TUYEN TRUYEN",
    "1. Cac quy dinh ve phong chay trong khu dan cu.",
    "2. Ky nang thoat nan khi co chay.",
    "III. TO CHUC THUC HIEN",
]


def run_import(plan: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = tmp_path / "ban-tin.yaml"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "loa", "plan", "import", str(plan), "-o",
                           str(out), *extra], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=QUICK * 4)
    proc.seconds = time.monotonic() - started
    proc.wrote = out.exists()
    return proc


def assert_refused(proc: subprocess.CompletedProcess, path: Path, *words: str) -> str:
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err)
    assert "Traceback" not in err, err
    assert err.startswith("Lỗi: ") and str(path) in err, err
    assert not proc.wrote, "a refused plan must leave no bulletin file"
    assert proc.seconds < QUICK, proc.seconds
    for word in words:
        assert word in err, (word, err)
    return err


# --- documents -------------------------------------------------------------------------------

def _docx(path: Path, numbered: bool = True) -> Path:
    import docx

    document = docx.Document()
    for text in ASCII_PLAN[:5]:
        document.add_paragraph(text)
    for text in ("Cac quy dinh ve phong chay trong khu dan cu.", "Ky nang thoat nan khi co chay."):
        # numbered by the style, so that the numbering part is read
        document.add_paragraph(text, style="List Number" if numbered else None)
    document.add_paragraph("III. TO CHUC THUC HIEN")
    document.save(path)
    return path


def _rezip(src: Path, dst: Path, edits: dict) -> Path:
    """Copy a .docx, changing (bytes -> bytes) or dropping (None) some of its parts."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename in edits:
                if edits[info.filename] is None:
                    continue
                data = edits[info.filename](data)
            zout.writestr(info.filename, data)
    return dst


def _pdf(path: Path, content: bytes, flate: bool = False) -> Path:
    """A one-page PDF written object by object, with a correct cross-reference table."""
    stream = zlib.compress(content, 9) if flate else content
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if flate else b"")
        + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def _text_pdf(path: Path) -> Path:
    ops = [b"BT /F1 11 Tf 14 TL 50 800 Td"]
    ops += [b"(%s) Tj T*" % line.encode("ascii") for line in ASCII_PLAN]
    return _pdf(path, b"\n".join(ops + [b"ET"]))


def test_the_good_documents_import(tmp_path):
    """The controls: the same builders, unbroken, give a plan."""
    for path in (_docx(tmp_path / "tot.docx"), _text_pdf(tmp_path / "tot.pdf")):
        plan = import_plan(path)
        assert [t.title for t in plan.topics] == [
            "Cac quy dinh ve phong chay trong khu dan cu", "Ky nang thoat nan khi co chay"]


def _broken_xml(tmp):
    return _rezip(_docx(tmp / "a.docx"), tmp / "xml-hong.docx", {
        "word/document.xml": lambda d: d.replace(b"</w:body>", b"<w:p></w:body>")})


def _bad_start(tmp):
    return _rezip(_docx(tmp / "a.docx"), tmp / "so-hong.docx", {
        "word/numbering.xml": lambda d: d.replace(b'<w:start w:val="1"/>',
                                                  b'<w:start w:val="mot"/>')})


def _bad_level(tmp):
    doc = _docx(tmp / "a.docx", numbered=False)
    numbered = (b'<w:p><w:pPr><w:numPr><w:ilvl w:val="x"/><w:numId w:val="1"/></w:numPr>'
                b'</w:pPr><w:r><w:t>Muc</w:t></w:r></w:p></w:body>')
    return _rezip(doc, tmp / "cap-hong.docx", {
        "word/document.xml": lambda d: d.replace(b"</w:body>", numbered)})


def _huge_roman(tmp):  # a start of 10^12 in upper Roman would loop for hours
    return _rezip(_docx(tmp / "a.docx"), tmp / "la-ma.docx", {
        "word/numbering.xml": lambda d: d.replace(b'<w:start w:val="1"/>',
                                                  b'<w:start w:val="999999999999"/>')
        .replace(b'w:val="decimal"', b'w:val="upperRoman"')})


def _deep_xml(tmp):  # elements nested 100,000 deep, as a hostile file can
    return _rezip(_docx(tmp / "a.docx"), tmp / "xml-sau.docx", {
        "word/document.xml": lambda d: d.replace(
            b"</w:body>", b"<w:p>" * 100_000 + b"</w:p>" * 100_000 + b"</w:body>")})


def _not_zip(tmp):
    path = tmp / "khong-phai-zip.docx"
    path.write_bytes(b"Day khong phai tep Word\n" * 20)
    return path


def _no_document(tmp):
    path = tmp / "thieu-noi-dung.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ghi-chu.txt", "trong")
    return path


def _no_main_part(tmp):
    return _rezip(_docx(tmp / "a.docx"), tmp / "mat-document.docx",
                  {"word/document.xml": None})


def _docx_bomb(tmp):
    path = tmp / "bom.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:document>" + b" " * 120_000_000)
    return path


def _deep_pdf(tmp):  # arrays nested 50,000 deep: a recursive parser runs out of stack
    return _pdf(tmp / "sau.pdf", b"BT /F1 11 Tf 50 800 Td " + b"[" * 50_000 + b"]" * 50_000
                + b" TJ ET")


def _pdf_bomb(tmp):
    return _pdf(tmp / "bom.pdf", b" " * 60_000_000, flate=True)


def _encrypted_pdf(tmp):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(_text_pdf(tmp / "a.pdf")))
    writer.encrypt(user_password="mat-khau", owner_password="chu", algorithm="RC4-128")
    path = tmp / "mat-khau.pdf"
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def _truncated_pdf(tmp):
    whole = _text_pdf(tmp / "a.pdf").read_bytes()
    path = tmp / "cut.pdf"
    path.write_bytes(whole[: len(whole) // 3])
    return path


def _blank_pdf(tmp):
    return _pdf(tmp / "trang.pdf", b"")


def _garbage_pdf(tmp):
    path = tmp / "rac.pdf"
    path.write_bytes(b"%PDF-1.4\n" + random.Random(7).randbytes(4000))
    return path


def _empty(name):
    def make(tmp):
        path = tmp / name
        path.write_bytes(b"")
        return path
    return make


def _binary_txt(tmp):
    path = tmp / "anh.txt"
    path.write_bytes(random.Random(3).randbytes(5000))
    return path


def _pdf_named_txt(tmp):
    path = tmp / "ke-hoach.txt"
    path.write_bytes(_text_pdf(tmp / "a.pdf").read_bytes())
    return path


def _nul_txt(tmp):
    path = tmp / "nul.txt"
    path.write_bytes("KẾ HOẠCH\nI. NỘI DUNG\x00\x00\n".encode())
    return path


def _cp1258_txt(tmp):
    path = tmp / "cp1258.txt"
    path.write_bytes("KẾ HOẠCH\n".encode() + b"I. N\xd4I DUNG\n")
    return path


def _directory(tmp):
    path = tmp / "thu-muc.txt"
    path.mkdir()
    return path


def _too_big(tmp):
    path = tmp / "qua-lon.txt"
    with open(path, "wb") as fh:  # sparse: no 11 MB written to the disk
        fh.truncate(11_000_000)
    return path


def _one_huge_line(tmp):  # 3 MB without a line break, a marker or a comma
    path = tmp / "mot-dong.txt"
    path.write_text("Căn cứ nội dung tuyên truyền " * 100_000, encoding="utf-8")
    return path


CASES = {  # case: (builder, words the error must hold)
    "docx-malformed-xml": (_broken_xml, ("không mở được tệp Word", "XML")),
    "docx-numbering-not-a-number": (_bad_start, ("đánh số", "'mot'")),
    "docx-paragraph-level-not-a-number": (_bad_level, ("đoạn 9", "'x'")),
    "docx-not-a-zip": (_not_zip, ("không mở được tệp Word",)),
    "docx-deep-xml": (_deep_xml, ("không mở được tệp Word",)),
    "zip-without-word-document": (_no_document, ("word/document.xml",)),
    "docx-without-main-part": (_no_main_part, ("không mở được tệp Word",)),
    "docx-zip-bomb": (_docx_bomb, ("quá lớn",)),
    "pdf-compression-bomb": (_pdf_bomb, ("không đọc được tệp PDF", "trang 1")),
    "pdf-encrypted": (_encrypted_pdf, ("mật khẩu",)),
    "pdf-deep-nesting": (_deep_pdf, ()),
    "pdf-truncated": (_truncated_pdf, ()),
    "pdf-without-text": (_blank_pdf, ("OCR",)),
    "pdf-garbage": (_garbage_pdf, ()),
    "empty-txt": (_empty("rong.txt"), ("trống",)),
    "empty-docx": (_empty("rong.docx"), ("trống",)),
    "empty-pdf": (_empty("rong.pdf"), ("trống",)),
    "binary-named-txt": (_binary_txt, ("UTF-8", "dòng ")),
    "pdf-named-txt": (_pdf_named_txt, (".pdf",)),
    "nul-in-txt": (_nul_txt, ("NUL", "dòng 2")),
    "not-utf8-txt": (_cp1258_txt, ("UTF-8", "dòng 2")),
    "directory": (_directory, ("thư mục",)),
    "over-size-cap": (_too_big, ("quá lớn", "10 MB")),
    "one-huge-line": (_one_huge_line, ("Nội dung thông tin, tuyên truyền",)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_document_is_a_clear_error(tmp_path, case):
    build, words = CASES[case]
    work = tmp_path / "tai-lieu"
    work.mkdir()
    path = build(work)
    assert_refused(run_import(path, tmp_path), path, *words)


def test_huge_header_line_does_not_stall_the_import(tmp_path):
    """A 2 MB first line (no comma: the date search once backtracked on it) before a plan."""
    path = tmp_path / "dau-dai.txt"
    path.write_text("Ủy ban " * 300_000 + "\n" + "\n".join(ASCII_PLAN) + "\n", encoding="utf-8")
    proc = run_import(path, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.wrote and proc.seconds < QUICK


def test_utf16_text_from_notepad_is_read(tmp_path):
    path = tmp_path / "notepad.txt"
    path.write_bytes("\n".join(ASCII_PLAN).encode("utf-16"))
    assert [t.path for t in import_plan(path).topics] == ["II.1", "II.2"]


def test_control_characters_are_dropped(tmp_path):
    path = tmp_path / "dieu-khien.txt"
    lines = ASCII_PLAN[:5] + ["1. Cac quy dinh\x07 ve phong\x1b chay.", ASCII_PLAN[6]]
    path.write_text("\n".join(lines), encoding="utf-8")
    assert import_plan(path).topics[0].text == "Cac quy dinh ve phong chay."


# --- templates -------------------------------------------------------------------------------

@pytest.mark.parametrize("opening, words", [
    ("Chào bà con {", ("dòng 1", "'{' đứng lẻ")),
    ("Chào bà con }", ("dòng 1", "'}' đứng lẻ")),
    ("{station.__class__.__mro__}", ("dòng 1", "{station.__class__.__mro__}", "'.'")),
    ("{station[0]} {topic!r} {plan:>9}", ("{station[0]}", "{topic!r}", "{plan:>9}")),
    ("{ten_xa}", ("{ten_xa}", "{station}")),
])
def test_bad_template_is_a_clear_error(plans, tmp_path, opening, words):
    tpl = tmp_path / "mau.yaml"
    tpl.write_text(f"opening: '{opening}'\n", encoding="utf-8")
    proc = run_import(plans / "ba-vi-2026.txt", tmp_path, "--template", str(tpl))
    assert_refused(proc, tpl, *words)


def test_template_errors_come_all_at_once_in_line_order(tmp_path):
    tpl = tmp_path / "mau.yaml"
    tpl.write_text("greeting: 'Chào {'\nopening: '{station.__dict__}'\nclosing: '{x}'\n"
                   "max_minutes: .nan\nchars_per_second: true\nxin_chao: 1\n"
                   "details: [a, b]\n", encoding="utf-8")
    with pytest.raises(LoaError) as exc:
        load_template(tpl)
    assert [(p.line, str(p.path)) for p in exc.value.problems] == [
        (n, str(tpl)) for n in range(1, 8)]


def test_template_fills_only_data_and_keeps_literal_braces(plans, tmp_path):
    tpl = tmp_path / "mau.yaml"
    tpl.write_text("greeting: 'Loa {{xã}} xin chào'\n", encoding="utf-8")
    station = "Đài {topic} {station.__class__}"  # a station's name is data, never a template
    plan = import_plan(plans / "ba-vi-2026.txt")
    text = drafts_from_plan(plan, load_template(tpl, station))[0].text
    assert text.startswith(f"Loa {{xã}} xin chào {station} xin thông tin")


def test_shipped_template_still_renders_every_placeholder(plans):
    plan = import_plan(plans / "ba-vi-2026.txt")
    texts = [b.text for b in drafts_from_plan(plan, load_template())]
    assert all("{" not in t and "}" not in t for t in texts)
    assert texts[0].startswith("Kính thưa bà con nhân dân! Đài truyền thanh xã Ba Vì xin "
                               "thông tin về")
    assert "[CẦN BỔ SUNG: điều bà con cần làm, kèm địa điểm" in texts[0]


# --- linear in size --------------------------------------------------------------------------

HEAD = ["ỦY BAN NHÂN DÂN", "XÃ BÌNH MINH", "Số: 12/KH-UBND", "KẾ HOẠCH",
        "Tuyên truyền về chuyển đổi số trên địa bàn xã Bình Minh năm 2026",
        "I. MỤC ĐÍCH, YÊU CẦU", "1. Nâng cao nhận thức của Nhân dân về chuyển đổi số.",
        "II. CÁC NỘI DUNG THÔNG TIN, TUYÊN TRUYỀN"]
SENTENCE = "Tuyên truyền về việc sử dụng dịch vụ công trực tuyến và bảo vệ dữ liệu cá nhân"
LETTERS = "abcdđeghik"


def _flat(n: int) -> list[str]:
    """One item holding n bullets: each new bullet once rescanned all that followed."""
    return ["1. Nội dung chung về chuyển đổi số"] + [f"- {SENTENCE} ý {i}." for i in range(n)]


def _nested(n: int) -> list[str]:
    """About n items, letters and bullets under numbered items (at most 99 of them), each
    letter broken over two lines as PDF copy-out leaves them."""
    out: list[str] = []
    for a in range(1, 1 + max(1, round(n / 41))):  # 41 items under each numbered one
        out.append(f"{a}. Nội dung số {a} về chuyển đổi số")
        for letter in LETTERS:
            out += [f"{letter}) {SENTENCE} mục {a}{letter};", "phần dòng bị ngắt khi chép."]
            out += [f"- {SENTENCE} ý {b};" for b in range(3)]
    return out


def _plan_file(tmp_path: Path, shape, n: int) -> Path:
    path = tmp_path / f"{shape.__name__}-{n}.txt"
    path.write_text("\n".join(HEAD + shape(n) + ["III. TỔ CHỨC THỰC HIỆN"]), encoding="utf-8")
    return path


def _operations(path: Path) -> int:
    """Every Python and C function call the import and the drafting make: a count of work
    that, unlike a stopwatch, a busy machine does not change."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += 1

    sys.setprofile(profile)
    try:
        drafts = drafts_from_plan(import_plan(path))
    finally:
        sys.setprofile(None)
    assert drafts
    return count


@pytest.mark.parametrize("shape", [_flat, _nested])
def test_plan_import_work_grows_linearly(tmp_path, shape):
    small = _operations(_plan_file(tmp_path, shape, 500))
    large = _operations(_plan_file(tmp_path, shape, 2000))
    # 4 times the items: linear work is 4 times (less the fixed part); quadratic, 16.
    assert large <= 4.4 * small, (small, large, large / small)


def test_joining_broken_lines_grows_linearly():
    """A long item's lines are joined by scanning the tail only (the whole text once was)."""
    from loa.plan.outline import join_lines

    def cpu(n: int) -> float:
        lines = [f"{SENTENCE} số {i} UBND-" if i % 7 == 0 else SENTENCE for i in range(n)]
        best = float("inf")
        for _ in range(3):  # the least of three: a busy machine only adds time
            started = time.process_time()
            text = join_lines(lines)
            best = min(best, time.process_time() - started)
        assert text.count(SENTENCE) == n
        return best

    small, large = cpu(5_000), cpu(20_000)
    assert large <= 10 * max(small, 0.005), (small, large)


def test_a_parser_that_spins_is_stopped_with_a_clear_error(tmp_path, monkeypatch):
    """The time bound, tried on a real reader made to loop (as a broken file can make it)."""
    from loa.plan import reader

    path = tmp_path / "ke-hoach.txt"
    path.write_text("\n".join(ASCII_PLAN), encoding="utf-8")

    def spin(path):
        while True:
            pass

    monkeypatch.setattr(reader, "_read_text", spin)
    monkeypatch.setattr(reader, "READ_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(LoaError) as exc:
        import_plan(path)
    assert time.monotonic() - started < QUICK
    assert "giây" in str(exc.value) and str(path) in str(exc.value)
    import signal
    assert signal.getsignal(signal.SIGPROF) == signal.SIG_DFL  # the timer is put back


# --- mutated documents -----------------------------------------------------------------------

def _mutate(data: bytes, rng: random.Random) -> bytes:
    """Flip, drop, duplicate or insert a few byte runs, as a damaged copy or a fuzzer does."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(max(1, len(data)))
        op = rng.choice(("flip", "drop", "dup", "insert", "cut"))
        if op == "flip":
            data[at:at + 1] = bytes([rng.randrange(256)])
        elif op == "drop":
            del data[at:at + rng.randint(1, 64)]
        elif op == "dup":
            data[at:at] = data[at:at + rng.randint(1, 256)] * rng.randint(2, 50)
        elif op == "insert":
            data[at:at] = rng.choice((b"<", b"&", b"\x00", b'"', b"9" * 30, b"<w:p>", b"obj",
                                      b"/Length 999999999", b"\xff\xfe"))
        else:
            del data[at:]
    return bytes(data)


def test_mutated_plans_give_a_plan_or_a_clear_error(tmp_path):
    """Seeded and bounded: 150 damaged TXT, DOCX (inside the zip and whole) and PDF plans."""
    rng = random.Random(10)
    good_txt = ("\n".join(HEAD + _nested(60)) + "\n").encode()
    good_docx = _docx(tmp_path / "goc.docx")
    good_pdf = _text_pdf(tmp_path / "goc.pdf").read_bytes()
    with zipfile.ZipFile(good_docx) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    outcomes = {"plan": 0, "error": 0}
    for i in range(150):
        kind = ("txt", "docx-part", "docx", "pdf")[i % 4]
        path = tmp_path / f"hong-{i}.{kind.split('-')[0]}"
        if kind == "txt":
            path.write_bytes(_mutate(good_txt, rng))
        elif kind == "docx":
            path.write_bytes(_mutate(good_docx.read_bytes(), rng))
        elif kind == "pdf":
            path.write_bytes(_mutate(good_pdf, rng))
        else:
            name = rng.choice(["word/document.xml", "word/numbering.xml", "word/styles.xml",
                               "[Content_Types].xml", "word/_rels/document.xml.rels"])
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
                for part, data in parts.items():
                    z.writestr(part, _mutate(data, rng) if part == name else data)
        started = time.monotonic()
        try:
            import_plan(path)
            outcomes["plan"] += 1
        except LoaError as exc:
            assert str(path) in str(exc), str(exc)
            assert all(p.path is not None for p in exc.problems)
            outcomes["error"] += 1
        assert time.monotonic() - started < QUICK, path
    assert outcomes["plan"] and outcomes["error"], outcomes


def test_docx_paragraph_with_unicode_line_breaks_keeps_its_number(tmp_path):
    """U+2028, U+2029, CR and NEL inside a paragraph once put the paragraph numbers out of
    step with the lines (IndexError)."""
    import docx

    document = docx.Document()
    for text in ("KE HOACH", "I. NOI DUNG THONG TIN, TUYEN TRUYEN", "1. Mot\u2028hai\u2029ba\rbon",
                 "2. Nam\x85sau", "II. TO CHUC THUC HIEN"):
        document.add_paragraph(text)
    path = tmp_path / "ngat-dong.docx"
    document.save(path)
    assert [(t.path, t.text, t.line) for t in import_plan(path).topics] == [
        ("I.1", "Mot hai ba bon", 3), ("I.2", "Nam sau", 4)]


def test_text_lines_are_numbered_as_an_editor_numbers_them(tmp_path):
    """A form feed (pdftotext's page break) or U+2028 is no line break in an editor, so it
    must not shift the line an officer is sent to; CR-only line ends still are."""
    path = tmp_path / "ngat-trang.txt"
    body = ["KE HOACH", "I. NOI DUNG THONG TIN, TUYEN TRUYEN", "\x0c1. Mot\u2028hai.",
            "2. Ba\x0cbon.", "II. TO CHUC THUC HIEN"]
    path.write_text("\n".join(body), encoding="utf-8")
    assert [(t.path, t.text, t.line) for t in import_plan(path).topics] == [
        ("I.1", "Mot hai.", 3), ("I.2", "Ba bon.", 4)]
    path.write_bytes("\r".join(body).encode())
    assert [t.line for t in import_plan(path).topics] == [3, 4]
