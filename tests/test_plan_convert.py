""".doc, .odt and .rtf plans, converted by a real LibreOffice, give the .docx's topics;
every way the conversion can fail is a clear Vietnamese error naming the file."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest
from plan_docs import convert, word_document

from loa.cli import main
from loa.errors import LoaError
from loa.plan import import_plan, reader
from loa.plan.convert import OLE2, TIMEOUT_ENV
from loa.plan.reader import read_plan_lines
from loa.settings import SAMPLE_PLANS

PLANS = ["ba-vi-2026", "ha-noi-2026", "hang-gon-2026", "nguyen-giap-2024"]
FORMATS = {"doc": "doc:MS Word 97", "odt": "odt", "rtf": "rtf"}


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Each shared plan as .docx, and as .doc, .odt and .rtf saved from it by LibreOffice
    (made once: a LibreOffice run takes seconds)."""
    out: dict[str, dict[str, Path]] = {}
    for name in PLANS:
        folder = tmp_path_factory.mktemp(name)
        docx_path = word_document(SAMPLE_PLANS / f"{name}.txt", folder / f"{name}.docx")
        out[name] = {"docx": docx_path}
        kinds = FORMATS if name in ("ba-vi-2026", "nguyen-giap-2024") else {"doc": "doc:MS Word 97"}
        for kind, fmt in kinds.items():
            out[name][kind] = convert(docx_path, fmt, folder)
    return out


def _topics(path: Path) -> list[tuple[str, str]]:
    return [(t.path, t.text) for t in import_plan(path).topics]


def _digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


@pytest.mark.parametrize("name,kind", [(n, "doc") for n in PLANS]
                         + [(n, k) for n in ("ba-vi-2026", "nguyen-giap-2024")
                            for k in ("odt", "rtf")])
def test_converted_plan_gives_the_docx_topics(docs, name, kind):
    src = docs[name][kind]
    before = _digest(src)
    want = import_plan(docs[name]["docx"])
    got = import_plan(src)
    assert [(t.path, t.text) for t in got.topics] == [(t.path, t.text) for t in want.topics]
    assert got.topics[0].unit == "đoạn"  # places named as in Word: by paragraph
    assert (got.title, got.issuer, got.number) == (want.title, want.issuer, want.number)
    assert _digest(src) == before  # the officer's file is only read


def test_word_auto_numbering_survives_the_conversion(tmp_path):
    """Letter items as Word's own numbering (no typed "a)" in the text) stay numbered.

    (Hàng Gòn: its lists start at a). LibreOffice's .doc and .odt export drops the start of
    a list that begins at b), and then shows a) itself: a fault of that export, not read.)"""
    docx_path = word_document(SAMPLE_PLANS / "hang-gon-2026.txt", tmp_path / "hang-gon.docx",
                              auto_letters=True)
    want = _topics(docx_path)
    assert len(want) == 6 and all(p.startswith("II.2.") and p[-1].isalpha() for p, _ in want)
    for fmt in FORMATS.values():
        assert _topics(convert(docx_path, fmt, tmp_path)) == want, fmt


def test_upper_case_suffix_and_odd_name(docs, tmp_path):
    odd = tmp_path / "-Kế hoạch (bản cũ).DOC"  # a leading "-" must not read as an option
    shutil.copyfile(docs["ba-vi-2026"]["doc"], odd)
    assert _topics(odd) == _topics(docs["ba-vi-2026"]["docx"])


def test_no_temporary_files_left(docs, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    read_plan_lines(docs["ba-vi-2026"]["odt"])
    assert list(tmp_path.iterdir()) == []


def test_two_conversions_at_once_both_succeed(docs):
    """Each run has its own LibreOffice profile: without it the second soffice hands its
    job to the first and one import gets nothing."""
    jobs = {"doc": docs["ba-vi-2026"]["doc"], "rtf": docs["nguyen-giap-2024"]["rtf"]}
    results: dict[str, object] = {}

    def run(key: str, path: Path) -> None:
        try:
            results[key] = _topics(path)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[key] = exc

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["doc"] == _topics(docs["ba-vi-2026"]["docx"])
    assert results["rtf"] == _topics(docs["nguyen-giap-2024"]["docx"])


# --- what the file really holds ------------------------------------------------------------

def test_doc_that_is_really_rtf_docx_pdf_or_text(docs, tmp_path):
    want = _topics(docs["ba-vi-2026"]["docx"])
    rtf_as_doc = tmp_path / "rtf.doc"
    shutil.copyfile(docs["ba-vi-2026"]["rtf"], rtf_as_doc)
    assert _topics(rtf_as_doc) == want
    docx_as_doc = tmp_path / "docx.doc"
    shutil.copyfile(docs["ba-vi-2026"]["docx"], docx_as_doc)
    assert _topics(docx_as_doc) == want
    text_as_rtf = tmp_path / "text.rtf"
    shutil.copyfile(SAMPLE_PLANS / "ba-vi-2026.txt", text_as_rtf)
    assert _topics(text_as_rtf) == _topics(SAMPLE_PLANS / "ba-vi-2026.txt")
    assert read_plan_lines(text_as_rtf)[0].unit == "dòng"  # read as the text it is
    notepad = tmp_path / "notepad.doc"  # Notepad's "Unicode": UTF-16 with its mark
    notepad.write_bytes(b"\xff\xfe" + (SAMPLE_PLANS / "ba-vi-2026.txt").read_text(
        encoding="utf-8").encode("utf-16-le"))
    assert _topics(notepad) == _topics(SAMPLE_PLANS / "ba-vi-2026.txt")


def test_odt_that_is_a_spreadsheet_is_refused(tmp_path):
    fake = tmp_path / "bang-tinh.odt"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    with pytest.raises(LoaError) as exc:
        read_plan_lines(fake)
    assert "bảng tính" in str(exc.value) and str(fake) in str(exc.value)


def test_damaged_doc_is_a_clear_error(docs, tmp_path):
    """An OLE2 header over garbage: LibreOffice runs and writes nothing."""
    bad = tmp_path / "hong.doc"
    bad.write_bytes(OLE2 + os.urandom(4096))
    with pytest.raises(LoaError) as exc:
        read_plan_lines(bad)
    assert "không tạo ra tệp nào" in str(exc.value) and str(bad) in str(exc.value)
    cut = tmp_path / "cut.doc"  # a real .doc, truncated as a broken download leaves it
    cut.write_bytes(docs["ba-vi-2026"]["doc"].read_bytes()[:3000])
    with pytest.raises(LoaError) as exc:
        import_plan(cut)
    assert "không chuyển được" in str(exc.value) and str(cut) in str(exc.value)


def test_binary_garbage_and_empty_files(tmp_path):
    junk = tmp_path / "rac.rtf"
    junk.write_bytes(b"\x00\x01\x02garbage" * 50)
    with pytest.raises(LoaError) as exc:
        read_plan_lines(junk)
    assert "không nhận ra định dạng" in str(exc.value) and str(junk) in str(exc.value)
    empty = tmp_path / "trong.odt"
    empty.write_bytes(b"")
    with pytest.raises(LoaError) as exc:
        read_plan_lines(empty)
    assert "trống" in str(exc.value)


_SAVE_WITH_PASSWORD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1"
 script:language="StarBasic">
Sub SaveLocked(src As String, dst As String, filt As String)
  Dim args(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = &quot;Hidden&quot; : args(0).Value = True
  doc = StarDesktop.loadComponentFromURL(src, &quot;_blank&quot;, 0, args())
  Dim props(1) As New com.sun.star.beans.PropertyValue
  props(0).Name = &quot;FilterName&quot; : props(0).Value = filt
  props(1).Name = &quot;Password&quot; : props(1).Value = &quot;matkhau&quot;
  doc.storeToURL(dst, props())
  doc.close(True)
End Sub
</script:module>
"""


def _save_with_password(src: Path, dst: Path, filter_name: str, profile: Path) -> Path:
    """Save `src` under a password as LibreOffice's own Save As does (a Basic macro in a
    private profile: the headless --convert-to has no password option)."""
    soffice = shutil.which("soffice")
    env = f"-env:UserInstallation={profile.as_uri()}"
    if not (profile / "user/basic/Standard").is_dir():
        subprocess.run([soffice, env, "--headless", "--terminate_after_init"],
                       capture_output=True, timeout=120, check=True)
    (profile / "user/basic/Standard/Module1.xba").write_text(_SAVE_WITH_PASSWORD,
                                                             encoding="utf-8")
    macro = f'macro:///Standard.Module1.SaveLocked("{src.as_uri()}","{dst.as_uri()}","{filter_name}")'
    subprocess.run([soffice, env, "--headless", macro], capture_output=True, timeout=120,
                   check=True)
    assert dst.exists(), f"LibreOffice did not write {dst}"
    return dst


@pytest.mark.parametrize("suffix,filter_name,kind", [(".doc", "MS Word 97", "Word"),
                                                      (".odt", "writer8", "OpenDocument")])
def test_password_protected_file(docs, tmp_path, suffix, filter_name, kind):
    locked = _save_with_password(docs["ba-vi-2026"]["docx"], tmp_path / f"mat-khau{suffix}",
                                 filter_name, tmp_path / "profile")
    with pytest.raises(LoaError) as exc:
        read_plan_lines(locked)
    assert f"tệp {kind} được đặt mật khẩu" in str(exc.value) and str(locked) in str(exc.value)


def test_password_protected_word_2007_file(tmp_path):
    """Word 2007+ under a password is an OLE2 container holding an EncryptedPackage stream
    (LibreOffice cannot write one; the container's signature is built here)."""
    locked = tmp_path / "mat-khau.doc"
    locked.write_bytes(OLE2 + b"\0" * 500 + "EncryptedPackage".encode("utf-16-le") + b"\0" * 500)
    with pytest.raises(LoaError) as exc:
        read_plan_lines(locked)
    assert "mật khẩu" in str(exc.value) and str(locked) in str(exc.value)


def test_large_file_is_refused_before_conversion(docs, monkeypatch):
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 1000)
    with pytest.raises(LoaError) as exc:
        read_plan_lines(docs["ba-vi-2026"]["doc"])
    assert "quá lớn" in str(exc.value)


# --- LibreOffice missing or stuck ------------------------------------------------------------

def test_missing_libreoffice_says_how_to_install(docs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no soffice on it
    src = docs["ba-vi-2026"]["odt"]
    with pytest.raises(LoaError) as exc:
        read_plan_lines(src)
    assert "sudo apt install libreoffice-writer-nogui" in str(exc.value)
    assert str(src) in str(exc.value)
    assert main(["plan", "import", str(src), "-o", str(tmp_path / "b.yaml")]) != 0
    err = capsys.readouterr().err
    assert "libreoffice-writer-nogui" in err and "Traceback" not in err
    assert not (tmp_path / "b.yaml").exists()


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline)
    return found


def test_timeout_kills_libreoffice(docs, tmp_path, monkeypatch):
    monkeypatch.setenv(TIMEOUT_ENV, "0.05")  # far below LibreOffice's start-up
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its profile goes here
    src = docs["nguyen-giap-2024"]["doc"]
    with pytest.raises(LoaError) as exc:
        read_plan_lines(src)
    assert "mất quá 0.05 giây" in str(exc.value) and str(src) in str(exc.value)
    assert _processes_mentioning(str(tmp_path)) == []  # soffice.bin killed with its wrapper
    assert list(tmp_path.iterdir()) == []
