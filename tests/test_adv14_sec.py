"""Adversarial checks on issue 14's new inputs (hostile or careless uploads, CLI targets)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from loa.plan.ocr import OcrInfo
from loa.station import plans as st_plans
from loa.station.bulletins import read_plan

PLANS = Path(__file__).resolve().parent.parent / "loa" / "data" / "plans"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class _Boom:
    """Unpickling this runs code: writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def _kept_ocr_plan(tmp_path: Path):
    """A clean plan kept as if read by OCR (no OCR run: the reading is what is kept)."""
    src = tmp_path / "in" / "ke-hoach.txt"
    src.parent.mkdir()
    src.write_bytes((PLANS / "ba-vi-2026.txt").read_bytes())
    plan = read_plan(src)
    plan.ocr = OcrInfo(pages=[1, 2], page_confidence={1: 0.93, 2: 0.88}, total_pages=2)
    folder = tmp_path / "plans"
    up = st_plans.keep_plan(plan, [src], ["Kế hoạch.txt"], folder, by="cb", now=NOW)
    return folder, up, plan


def test_kept_ocr_reading_is_json_and_reopens_without_reading_again(tmp_path):
    folder, up, plan = _kept_ocr_plan(tmp_path)
    key = up.entry.key
    cache = folder / f".{key}.da-doc.json"
    data = json.loads(cache.read_text(encoding="utf-8"))  # plain data, no pickle
    assert data["text"]["ocr"]["pages"] == [1, 2]
    assert not list(folder.glob("*.pickle"))
    entry, again = st_plans.open_plan(folder, key)
    # a .txt read again has no OCR note: this one came from the kept reading
    assert again.ocr is not None and again.ocr.page_confidence == {1: 0.93, 2: 0.88}
    assert [(t.path, t.text) for t in again.topics] == [(t.path, t.text) for t in plan.topics]
    assert again.title == plan.title and again.number == plan.number


def test_a_pickle_planted_in_the_plans_folder_is_never_loaded(tmp_path):
    folder, up, _ = _kept_ocr_plan(tmp_path)
    key = up.entry.key
    marker = tmp_path / "pwned"
    source = folder / up.entry.file
    evil = pickle.dumps({"stamp": st_plans._stamp(source), "plan": _Boom(marker)})
    (folder / f".{key}.da-doc.pickle").write_bytes(evil)
    (folder / f".{key}.da-doc.json").write_bytes(evil)  # and under the JSON name
    _, plan = st_plans.open_plan(folder, key)
    assert not marker.exists()
    assert plan.topics  # read again from the file itself


def test_a_forged_json_reading_cannot_name_another_type(tmp_path):
    folder, up, _ = _kept_ocr_plan(tmp_path)
    cache = folder / f".{up.entry.key}.da-doc.json"
    data = json.loads(cache.read_text(encoding="utf-8"))
    data["text"]["lines"] = {"__class__": "os.system"}  # not lines: ignored, read again
    cache.write_text(json.dumps(data), encoding="utf-8")
    _, plan = st_plans.open_plan(folder, up.entry.key)
    assert plan.topics and plan.ocr is None


def _hostile_odt(out: Path, url: str, marker: Path) -> None:
    """An .odt whose opening runs a Basic macro (writing `marker`) and that links an image
    from `url`: what a hostile uploader would send."""
    import zipfile

    content = f'''<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 xmlns:script="urn:oasis:names:tc:opendocument:xmlns:script:1.0" office:version="1.2">
<office:scripts><office:event-listeners><script:event-listener script:language="ooo:script"
 script:event-name="dom:load"
 xlink:href="vnd.sun.star.script:Standard.Module1.Boom?language=Basic&amp;location=document"/>
</office:event-listeners></office:scripts>
<office:body><office:text><text:p>KẾ HOẠCH thử</text:p>
<text:p><draw:frame svg:width="2cm" svg:height="2cm"><draw:image xlink:href="{url}"
 xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>
</office:text></office:body></office:document-content>'''
    module = f'''<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">Sub Boom
Open "{marker}" For Output As #1
Print #1, "x"
Close #1
End Sub
</script:module>'''
    lib = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE library:library PUBLIC '
           '"-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "library.dtd">\n<library:library '
           'xmlns:library="http://openoffice.org/2000/library" library:name="Standard" '
           'library:readonly="false" library:passwordprotected="false">'
           '<library:element library:name="Module1"/></library:library>')
    libs = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE library:libraries PUBLIC '
            '"-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "libraries.dtd">\n'
            '<library:libraries xmlns:library="http://openoffice.org/2000/library" '
            'xmlns:xlink="http://www.w3.org/1999/xlink"><library:library '
            'library:name="Standard" library:link="false"/></library:libraries>')
    parts = ["content.xml", "Basic/Standard/Module1.xml", "Basic/Standard/script-lb.xml",
             "Basic/script-lc.xml"]
    manifest = ('<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type='
                '"application/vnd.oasis.opendocument.text"/>'
                + "".join(f'<manifest:file-entry manifest:full-path="{p}" '
                          'manifest:media-type="text/xml"/>' for p in parts)
                + "</manifest:manifest>")
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        for name, data in zip(parts, [content, module, lib, libs], strict=True):
            z.writestr(name, data)
        z.writestr("META-INF/manifest.xml", manifest)


@pytest.mark.skipif(not __import__("shutil").which("soffice"), reason="needs LibreOffice")
def test_conversion_runs_no_macro_and_fetches_no_link(tmp_path):
    import http.server
    import threading

    from loa.plan.reader import read_plan_lines

    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self):
            asked.append(f"{self.command} {self.path}")
            self.send_response(404)
            self.end_headers()

        do_GET = do_HEAD = do_OPTIONS = do_PROPFIND = _any

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        marker = tmp_path / "macro-ran"
        doc = tmp_path / "ke-hoach.odt"
        _hostile_odt(doc, f"http://127.0.0.1:{server.server_address[1]}/anh.png", marker)
        lines = read_plan_lines(doc)
    finally:
        server.shutdown()
        server.server_close()
    assert [ln.text for ln in lines] == ["KẾ HOẠCH thử"]  # converted all the same
    assert asked == []  # before: "OPTIONS /anh.png", "GET /anh.png" from the server
    assert not marker.exists()


def test_a_scanned_pdf_page_made_huge_is_refused_before_rasterizing(tmp_path):
    from PIL import Image
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import RectangleObject

    from loa.errors import LoaError
    from loa.plan.reader import read_plan_lines

    Image.new("L", (50, 50), 255).save(tmp_path / "scan.pdf")  # one "scanned" page
    page = PdfReader(tmp_path / "scan.pdf").pages[0]
    page.mediabox = page.cropbox = RectangleObject([0, 0, 14400, 14400])  # 5 m square
    out = PdfWriter()
    out.add_page(page)
    out.write(tmp_path / "to.pdf")
    with pytest.raises(LoaError) as err:
        read_plan_lines(tmp_path / "to.pdf")
    text = str(err.value)
    assert "trang quá lớn" in text and "to.pdf" in text and "trang 1" in text


def test_an_odt_zip_bomb_is_refused_before_libreoffice(tmp_path):
    import zipfile

    from loa.errors import LoaError
    from loa.plan.reader import MAX_XML_BYTES, read_plan_lines

    doc = tmp_path / "bom.odt"
    filler = "<!--" + "x" * (MAX_XML_BYTES + 1_000_000) + "-->"
    content = ('<?xml version="1.0" encoding="UTF-8"?>' + filler +
               '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:'
               'office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'office:version="1.2"><office:body><office:text><text:p>KẾ HOẠCH</text:p>'
               '</office:text></office:body></office:document-content>')
    with zipfile.ZipFile(doc, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content)
    assert doc.stat().st_size < 200_000  # small to upload, ~50 MB once unpacked
    with pytest.raises(LoaError) as err:
        read_plan_lines(doc)
    assert "OpenDocument khi giải nén" in str(err.value) and "bom.odt" in str(err.value)


def _sheet(text: str):
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("L", (900, 260), 255)
    ImageDraw.Draw(im).text((30, 80), text, fill=0, font=ImageFont.load_default(size=64))
    return im


def test_every_page_of_a_multi_page_tiff_is_read(tmp_path):
    from loa.plan.reader import read_plan_text

    scan = tmp_path / "may-quet.tiff"  # what an office scanner makes of a whole plan
    first, *rest = [_sheet(t) for t in ("MOT HAI BA", "BON NAM SAU", "BAY TAM CHIN")]
    first.save(scan, save_all=True, append_images=rest)
    seen: list[tuple[int, int]] = []
    read = read_plan_text(scan, progress=lambda d, t: seen.append((d, t)))
    text = " ".join(ln.text for ln in read.lines)
    assert "MOT HAI BA" in text and "BON NAM SAU" in text and "BAY TAM CHIN" in text
    assert read.ocr.pages == [1, 2, 3] and seen[-1] == (3, 3)


def test_a_huge_later_frame_of_a_tiff_is_refused_not_decoded(tmp_path):
    from PIL import Image

    from loa.errors import LoaError
    from loa.plan.reader import read_plan_lines

    scan = tmp_path / "bom.tif"
    big = Image.new("1", (12000, 11000), 1)  # 132 Mpx of blank: small once compressed
    _sheet("MOT HAI BA").convert("1").save(scan, save_all=True, append_images=[big],
                              compression="group4")
    with pytest.raises(LoaError) as err:
        read_plan_lines(scan)
    assert "ảnh quá lớn" in str(err.value) and "trang 2" in str(err.value)
