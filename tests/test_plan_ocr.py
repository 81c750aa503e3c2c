"""Scanned plans and photos: real Tesseract (vie) on small pages drawn here, the
post-correction rules, progress and the errors an officer may meet.

OCR is CPU-heavy: the pages are small (A5-like, ~20 lines) and few (five in all)."""

from __future__ import annotations

import io
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest

from loa.errors import LoaError
from loa.plan import ocr
from loa.plan.content import import_plan
from loa.plan.reader import read_plan_text

pytest.importorskip("PIL")
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None or
                                shutil.which("pdftoppm") is None,
                                reason="needs tesseract-ocr, tesseract-ocr-vie, poppler-utils")

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")

# A short plan, in two halves: one page each when split, or one page whole.
HEAD = """ỦY BAN NHÂN DÂN XÃ TÂN HÒA
KẾ HOẠCH
Tuyên truyền phòng chống dịch sốt xuất huyết năm 2026
I. MỤC ĐÍCH, YÊU CẦU
Nâng cao nhận thức của người dân về phòng bệnh.
II. NỘI DUNG TUYÊN TRUYỀN
1. Hướng dẫn người dân diệt lăng quăng, bọ gậy tại nhà."""
TAIL = """2. Vận động các hộ gia đình ngủ màn, phát quang bụi rậm.
3. Thông báo lịch phun thuốc diệt muỗi tại các thôn.
III. TỔ CHỨC THỰC HIỆN
Giao Trạm Y tế xã chủ trì, phối hợp với các thôn."""


def page(text: str, angle: float = 0.0, width: int = 2000, size: int = 42):
    """The text on white paper at ~300 dpi (42 px: an 11-point font), turned `angle`°."""
    font = ImageFont.truetype(str(FONT), size)
    lines = text.split("\n")
    im = Image.new("L", (width, 160 + len(lines) * int(size * 1.9)), 255)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((110, 80 + i * int(size * 1.9)), line, font=font, fill=0)
    if angle:
        im = im.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    return im


def txt(tmp: Path, text: str) -> Path:
    path = tmp / "ke-hoach.txt"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def topics(plan):
    return [(t.path, t.title) for t in plan.topics]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return import_plan(txt(tmp_path_factory.mktemp("clean"), HEAD + "\n" + TAIL))


# --- real OCR ------------------------------------------------------------------------------------

def test_scanned_pdf_turned_a_little_gives_the_clean_topics(tmp_path, clean):
    scan = tmp_path / "ke-hoach-quet.pdf"
    page(HEAD + "\n" + TAIL, angle=1.5).save(scan, resolution=300.0)  # image only
    calls = []
    plan = import_plan(scan, progress=lambda done, total: calls.append((done, total)))
    assert topics(plan) == topics(clean)
    assert calls == [(0, 1), (1, 1)]
    assert plan.ocr is not None and plan.ocr.pages == [1]
    assert 0.8 < plan.ocr.confidence <= 1
    said = plan.ocr.describe()
    assert said.startswith("Trang 1 được đọc bằng nhận dạng chữ (OCR)")
    assert f"{plan.ocr.confidence:.0%}" in said
    assert not plan.quality.garbled  # the guard judged the OCR text, and it is clean
    assert plan.issuer == clean.issuer and plan.year == 2026
    assert plan.ocr.context_fixes == 0 and "ngữ cảnh" not in said  # no false fix


def test_mixed_pdf_keeps_its_text_pages_and_reads_the_scanned_one(tmp_path, clean):
    from plan_docs import convert, word_document
    from pypdf import PdfReader, PdfWriter

    docx = word_document(txt(tmp_path, HEAD), tmp_path / "trang1.docx")
    text_pdf = convert(docx, "pdf", tmp_path)  # page 1: a text layer
    scanned = tmp_path / "trang2.pdf"
    page(TAIL, angle=-1.0).save(scanned, resolution=300.0)
    mixed = tmp_path / "ke-hoach-tron.pdf"
    writer = PdfWriter()
    for part in (text_pdf, scanned):
        for p in PdfReader(part).pages:
            writer.add_page(p)
    with open(mixed, "wb") as fh:
        writer.write(fh)
    calls = []
    read = read_plan_text(mixed, progress=lambda d, t: calls.append((d, t)))
    assert read.ocr.pages == [2] and read.ocr.total_pages == 2
    assert calls == [(0, 1), (1, 1)]  # only the scanned page is OCR work
    first = [ln.text for ln in read.lines if ln.number == 1]
    assert first[0] == "ỦY BAN NHÂN DÂN XÃ TÂN HÒA"  # from the text layer, as typed
    assert topics(import_plan(mixed)) == topics(clean)


def test_photos_are_pages_in_the_order_given(tmp_path, clean):
    one, two = tmp_path / "trang1.jpg", tmp_path / "trang2.png"
    page(HEAD, angle=-1.2).convert("RGB").save(one, quality=80)  # a phone's JPEG
    small = page(TAIL, width=1300, size=24)  # a distant photo: upscaled before OCR
    small.save(two)
    calls = []
    plan = import_plan([one, two], progress=lambda d, t: calls.append((d, t)))
    assert topics(plan) == topics(clean)
    assert calls == [(0, 2), (1, 2), (2, 2)]
    assert plan.source == one and plan.plan_id == "trang1"  # the first file names the plan
    assert plan.ocr.pages == [1, 2]
    assert plan.topics[-1].unit == "trang" and plan.topics[-1].line == 2
    assert plan.ocr.context_fixes == 0  # the context pass changes nothing read right


def test_cli_prints_ocr_progress_and_confidence(tmp_path, capsys):
    import json

    from loa.cli import main

    photo = tmp_path / "anh.png"
    page(HEAD + "\n" + TAIL).save(photo)
    assert main(["plan", "import", str(photo), "--json"]) == 0
    captured = capsys.readouterr()
    got = json.loads(captured.out)
    assert got["ocr"]["pages"] == [1] and 0.8 < got["ocr"]["confidence"] <= 1
    assert len(got["topics"]) == 3
    assert "Đang nhận dạng chữ (OCR) trang 1/1…" in captured.err
    assert "được đọc bằng nhận dạng chữ (OCR), độ tin cậy trung bình" in captured.err


# --- errors --------------------------------------------------------------------------------------

def test_page_with_no_text_is_named(tmp_path):
    blank = tmp_path / "trang-trang.png"
    Image.new("L", (800, 1100), 255).save(blank)
    with pytest.raises(LoaError) as exc:
        import_plan(blank)
    assert "không nhận dạng được chữ nào" in str(exc.value) and str(blank) in str(exc.value)


def test_second_photo_without_text_names_its_page(tmp_path):
    blank = tmp_path / "b.png"
    Image.new("L", (600, 800), 255).save(blank)
    bad = tmp_path / "a.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"hong" * 50)
    with pytest.raises(LoaError) as exc:  # the damaged first photo stops it, named
        import_plan([bad, blank])
    assert str(exc.value).startswith(f"{bad}, trang 1: không đọc được ảnh")


def test_damaged_and_truncated_images(tmp_path):
    bad = tmp_path / "hong.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 20)
    with pytest.raises(LoaError) as exc:
        read_plan_text(bad)
    assert "không đọc được ảnh" in str(exc.value) and str(bad) in str(exc.value)
    buf = io.BytesIO()
    page(HEAD).save(buf, format="PNG")
    cut = tmp_path / "cat.png"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(LoaError) as exc:
        read_plan_text(cut)
    assert "không đọc được ảnh" in str(exc.value) and str(cut) in str(exc.value)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares a huge size: what an image bomb looks like before it unpacks."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [11_500, 40_000])  # ours (>120 M), Pillow's own (>179 M)
def test_image_bomb_is_a_clear_error(tmp_path, side):
    bomb = tmp_path / "bom.png"
    bomb.write_bytes(_png_header(side, side))
    with pytest.raises(LoaError) as exc:
        read_plan_text(bomb)
    assert "ảnh quá lớn" in str(exc.value) and str(bomb) in str(exc.value)


def test_heic_needs_pillow_heif(tmp_path, monkeypatch):
    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as on a machine without it
    with pytest.raises(LoaError) as exc:
        read_plan_text(photo)
    assert "pillow-heif" in str(exc.value) and str(photo) in str(exc.value)


def test_heic_photo_opens_when_pillow_heif_is_installed(tmp_path):
    heif = pytest.importorskip("pillow_heif")
    photo = tmp_path / "IMG_0002.heic"
    heif.from_pillow(page(HEAD[:40], width=400, size=20).convert("RGB")).save(photo)
    im = ocr.open_image(photo)
    assert im.size[0] == 400


def _bin_with(tmp_path: Path, *tools: str) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


def test_missing_tesseract_says_what_to_install(tmp_path, monkeypatch):
    photo = tmp_path / "anh.png"
    page("Chữ").save(photo)
    monkeypatch.setenv("PATH", _bin_with(tmp_path, "pdftoppm"))
    with pytest.raises(LoaError) as exc:
        read_plan_text(photo)
    assert "sudo apt install tesseract-ocr tesseract-ocr-vie" in str(exc.value)
    assert str(photo) in str(exc.value)


def test_missing_vietnamese_model_says_what_to_install(tmp_path, monkeypatch):
    photo = tmp_path / "anh.png"
    page("Chữ").save(photo)
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir()
    out = __import__("subprocess").run(["tesseract", "--list-langs"], capture_output=True,
                                       text=True).stdout.splitlines()[0]
    eng = Path(out.split('"')[1]) / "eng.traineddata"
    (tessdata / "eng.traineddata").symlink_to(eng)
    monkeypatch.setenv("TESSDATA_PREFIX", str(tessdata))
    with pytest.raises(LoaError) as exc:
        read_plan_text(photo)
    assert "mô hình tiếng Việt" in str(exc.value) and "tesseract-ocr-vie" in str(exc.value)


def test_missing_pdftoppm_is_named(tmp_path, monkeypatch):
    scan = tmp_path / "quet.pdf"
    page("Chữ").save(scan, resolution=300.0)
    monkeypatch.setenv("PATH", _bin_with(tmp_path, "tesseract"))
    with pytest.raises(LoaError) as exc:
        read_plan_text(scan)
    assert "pdftoppm" in str(exc.value) and "poppler-utils" in str(exc.value)
    assert str(scan) in str(exc.value)


def test_page_timeout_names_file_and_page(tmp_path, monkeypatch):
    scan = tmp_path / "quet.pdf"
    page(HEAD).save(scan, resolution=300.0)
    monkeypatch.setattr(ocr, "PAGE_SECONDS", 0.05)  # far below one page's real time
    with pytest.raises(LoaError) as exc:
        read_plan_text(scan)
    assert str(exc.value).startswith(f"{scan}, trang 1: nhận dạng chữ (OCR) mất quá")


def test_several_files_must_all_be_photos(tmp_path):
    photo = tmp_path / "a.jpg"
    page("Chữ").convert("RGB").save(photo)
    other = txt(tmp_path, HEAD)
    with pytest.raises(LoaError) as exc:
        read_plan_text([photo, other])
    assert "mỗi tệp phải là ảnh chụp" in str(exc.value) and str(other) in str(exc.value)


# --- preparation and post-correction (no OCR) ----------------------------------------------------

@pytest.mark.parametrize("angle", [2.0, -1.3])
def test_skew_is_measured(angle):
    turned = page(HEAD + "\n" + TAIL, angle=angle)
    assert abs(ocr.skew_angle(turned) + angle) <= 0.3  # the rotation that undoes it


@pytest.mark.parametrize("raw, fixed", [
    ("sô í 63", "số 63"),  # a tone split off onto a lone 'i'
    ("Nghị định sôí 63", "Nghị định số 63"),  # … or glued on after the word
    ("vê` việc", "về việc"),  # a spacing grave accent
    ("vê ` việc", "về việc"),
    ("cán bô´ xã", "cán bố xã"),  # a spacing acute
    ("vê \u0300 việc", "về việc"),  # a combining mark after a space
    ("ðường làng", "đường làng"),  # eth for đ
    ("dến năm, dịa bàn", "đến năm, địa bàn"),  # d for đ where only đ makes a syllable
    ("tru'ờng học, co' sở", "trường học, cơ sở"),  # u' o' for ư ơ
    ("VÊ` VIỆC", "VỀ VIỆC"),  # case kept
    ("Dến", "Đến"),
])
def test_post_correction_rules(raw, fixed):
    assert ocr.correct_line(raw) == fixed


@pytest.mark.parametrize("text", [
    "dân cư, dường như, đã đến",  # real syllables with d are not turned into đ
    "ý kiến, ở xã Ba Vì",  # lone marked vowels that are words stay
    "xyz` và abc ´",  # a fix that gives no syllable is not made
    "số 63/2010/NĐ-CP ngày 08/6/2010",
    "hòa bình",  # a syllable with a tone takes no second one: "hòa ì" stays
    "hòa ì",
])
def test_post_correction_leaves_good_text(text):
    assert ocr.correct_line(text) == text


def test_tsv_gives_lines_and_confidence():
    head = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [head,
            "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.0\tKẾ",
            "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t90.0\tHOẠCH",
            "4\t1\t1\t1\t2\t0\t0\t0\t1\t1\t-1\t",
            "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t60.0\tnăm",
            "5\t1\t1\t1\t2\t2\t0\t0\t1\t1\t-1\t "]
    got = ocr.parse_tsv("\n".join(rows))
    assert got.text == "KẾ HOẠCH\nnăm" and got.words == 3
    assert got.confidence == pytest.approx(0.82)
    assert got.word_confidence == [[0.96, 0.90], [0.60]]  # carried to the context pass


def test_describe_names_pages_and_the_weak_ones():
    info = ocr.OcrInfo(pages=[1, 2, 3, 5], page_confidence={1: 0.95, 2: 0.93, 3: 0.97, 5: 0.6},
                       total_pages=5, blank=[4])
    said = info.describe()
    assert said.startswith("Trang 1–3, 5 được đọc bằng nhận dạng chữ (OCR), độ tin cậy trung "
                           "bình 86%")
    assert "trang 5 đọc kém" in said and "trang 4 không có chữ" in said
    assert said.endswith("hãy đối chiếu bản tin với bản giấy.")
    assert info.to_json()["low_pages"] == [5]


def test_doubled_vowel_keeps_the_reading_that_is_a_word():
    assert ocr.correct_line("NỘI DUNG TUYÊN TRUYỀỂN") == "NỘI DUNG TUYÊN TRUYỀN"


def test_roman_headings_put_back_in_sequence_on_ocr_pages():
    pages = ["I. MỤC ĐÍCH\nH. NỘI DUNG\n1. Hướng dẫn", "II. TỔ CHỨC THỰC HIỆN\nl. KINH PHÍ"]
    got = ocr.fix_roman_headings(pages, {1, 2})
    assert got == ["I. MỤC ĐÍCH\nII. NỘI DUNG\n1. Hướng dẫn",
                   "III. TỔ CHỨC THỰC HIỆN\nIV. KINH PHÍ"]
    jumping = ["I. MỤC ĐÍCH\nIII. NỘI DUNG"]  # a real jump is kept
    assert ocr.fix_roman_headings(jumping, {1}) == jumping
    assert ocr.fix_roman_headings(pages, {2})[0] == pages[0]  # text pages are left alone


def test_roman_heading_that_lost_its_point():
    got = ocr.fix_roman_headings(["I. MỤC ĐÍCH\nI NỘI DUNG TUYÊN TRUYỀN\nI: TỔ CHỨC"], {1})
    assert got == ["I. MỤC ĐÍCH\nII. NỘI DUNG TUYÊN TRUYỀN\nIII. TỔ CHỨC"]
    assert ocr.fix_roman_headings(["Ví dụ I Nội dung"], {1}) == ["Ví dụ I Nội dung"]
    # a serif scan read "II." as "IL."
    assert ocr.fix_roman_headings(["I. MỤC ĐÍCH\nIL. NỘI DUNG"], {1}) == [
        "I. MỤC ĐÍCH\nII. NỘI DUNG"]


def test_upside_down_photo_is_turned_upright(tmp_path):
    photo = tmp_path / "nguoc.png"
    page(TAIL).rotate(180, expand=True).save(photo)
    read = read_plan_text(photo)
    assert [ln.text for ln in read.lines][:2] == [
        "2. Vận động các hộ gia đình ngủ màn, phát quang bụi rậm.",
        "3. Thông báo lịch phun thuốc diệt muỗi tại các thôn."]


def test_ocr_pages_do_not_spend_the_parse_time_limit(tmp_path):
    import signal
    import time

    from loa.plan.reader import time_limit, time_limit_paused

    path = tmp_path / "x.pdf"
    with time_limit(path, 0.3):
        with time_limit_paused():  # as each OCR page is: its CPU is not the parser's
            end = time.process_time() + 0.5
            while time.process_time() < end:
                pass
        left = signal.getitimer(signal.ITIMER_PROF)[0]
        assert 0 < left < 0.4  # the parser's clock runs again, where it stopped (in ticks)
    with pytest.raises(LoaError) as exc:  # and still stops a parser that spins
        with time_limit(path, 0.3):
            end = time.process_time() + 2
            while time.process_time() < end:
                pass
    assert "mất quá 0.3 giây" in str(exc.value)


# --- context pass ---------------------------------------------------------------------------------

# What the model learns: "chi nhánh" (a branch), and "chỉ" in its own pairs.
BRANCHES = ("Người dân có thể nộp hồ sơ tại các chi nhánh của trung tâm. "
            "Các chi nhánh mở cửa cả thứ bảy. Ủy ban chỉ đạo các thôn thực hiện. "
            "Xã chỉ đạo các chi nhánh hỗ trợ người dân.")
READ = "Bà con đến các Chỉ nhánh gần nhà, mang theo 02 bản sao CCCD."


def _confs(text: str, low: dict[str, float]) -> list[list[float]]:
    return [[low.get(w, 0.97) for w in line.split(" ")] for line in text.split("\n")]


def test_context_pass_fixes_an_unsure_tone_the_context_rules_out():
    from loa.plan.repair import train

    model = train([BRANCHES])
    fixed, n = ocr.context_pass(READ, _confs(READ, {"Chỉ": 0.55}), model)
    assert fixed == "Bà con đến các Chi nhánh gần nhà, mang theo 02 bản sao CCCD."
    assert n == 1
    with ocr.context_model(model):  # how the benchmark injects its held-out model
        assert ocr.context_pass(READ, _confs(READ, {"Chỉ": 0.55})) == (fixed, 1)


def test_context_pass_leaves_words_tesseract_was_sure_of():
    from loa.plan.repair import train

    model = train([BRANCHES])
    assert ocr.context_pass(READ, _confs(READ, {"Chỉ": 0.96}), model) == (READ, 0)
    # nor are numbers, abbreviations or unsure words the model knows no better variant for
    unsure = {w: 0.3 for w in READ.split(" ") if w != "Chỉ"}
    unsure["Chỉ"] = 0.97
    assert ocr.context_pass(READ, _confs(READ, unsure), model) == (READ, 0)


def test_context_pass_keeps_a_line_whose_words_were_joined():
    from loa.plan.repair import train

    # post-correction joined a loose mark, so the line has fewer words than Tesseract gave
    # confidences for: nothing there can be matched to its confidence, nothing is changed
    model = train([BRANCHES])
    confs = [[0.55] * (len(READ.split(" ")) + 1)]
    assert ocr.context_pass(READ, confs, model) == (READ, 0)


def test_describe_counts_the_context_fixes():
    info = ocr.OcrInfo(pages=[1], page_confidence={1: 0.9}, total_pages=1, context_fixes=2)
    assert "đã sửa 2 chữ theo ngữ cảnh" in info.describe()
    assert info.to_json()["context_fixes"] == 2
