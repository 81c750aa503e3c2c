"""Build DOCX and PDF versions of the text plans, the way offices produce them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import docx
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

LETTER = re.compile(r"^\s*([a-zđ])\)\s+")
ITEM = re.compile(r"^(?:[IVX]+\.|\d{1,2}\.|[a-zđ]\)|[-+•])\s|^(?:Căn cứ|KẾ HOẠCH|Số:)")


def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    assert exe, "LibreOffice missing: run scripts/setup.sh --dev"
    return exe


def convert(src: Path, fmt: str, outdir: Path) -> Path:
    profile = outdir / ".lo-profile"
    subprocess.run([soffice(), f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", fmt, "--outdir", str(outdir), str(src)],
                   check=True, capture_output=True, timeout=240)
    out = outdir / (src.stem + "." + fmt.split(":")[0])
    assert out.exists(), f"LibreOffice did not write {out}"
    return out


def _letter_numbering(document) -> str:
    """Add a Word list whose level 0 is 'a)', 'b)', … (lowerLetter); return its abstract id."""
    numbering = document.part.numbering_part.element
    abstract = OxmlElement("w:abstractNum")
    abstract.set(qn("w:abstractNumId"), "90")
    lvl = OxmlElement("w:lvl")
    lvl.set(qn("w:ilvl"), "0")
    for tag, val in (("w:start", "1"), ("w:numFmt", "lowerLetter"), ("w:lvlText", "%1)")):
        el = OxmlElement(tag)
        el.set(qn("w:val"), val)
        lvl.append(el)
    abstract.append(lvl)
    numbering.insert(0, abstract)
    return "90"


def _new_list(document, abstract_id: str, num_id: int, start: int = 1) -> str:
    num = OxmlElement("w:num")
    num.set(qn("w:numId"), str(num_id))
    ref = OxmlElement("w:abstractNumId")
    ref.set(qn("w:val"), abstract_id)
    num.append(ref)
    if start != 1:
        override = OxmlElement("w:lvlOverride")
        override.set(qn("w:ilvl"), "0")
        so = OxmlElement("w:startOverride")
        so.set(qn("w:val"), str(start))
        override.append(so)
        num.append(override)
    document.part.numbering_part.element.append(num)
    return str(num_id)


def _number(paragraph, num_id: str) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    numpr = OxmlElement("w:numPr")
    ilvl = OxmlElement("w:ilvl")
    ilvl.set(qn("w:val"), "0")
    nid = OxmlElement("w:numId")
    nid.set(qn("w:val"), num_id)
    numpr.append(ilvl)
    numpr.append(nid)
    ppr.append(numpr)


def word_document(txt: Path, out: Path, header: str = "", page_numbers: bool = False,
                  auto_letters: bool = False) -> Path:
    """A Word file as an office types it: each item its own paragraph, the lines of an item
    joined; letter items as Word auto-numbering when auto_letters."""
    document = docx.Document()
    paragraphs: list[str] = []
    for line in txt.read_text(encoding="utf-8").splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        if not paragraphs or ITEM.match(line) or paragraphs[-1].isupper():
            paragraphs.append(line)
        else:
            paragraphs[-1] += " " + line
    abstract = _letter_numbering(document) if auto_letters else ""
    current_list, next_id = None, 100
    for text in paragraphs:
        if not text:
            continue
        m = LETTER.match(text) if auto_letters else None
        if m:
            if current_list is None or text.startswith("a)"):
                start = "abcdefghijklmnopqrstuvwxyz".index(m.group(1)) + 1
                current_list = _new_list(document, abstract, next_id, start)
                next_id += 1
            p = document.add_paragraph(LETTER.sub("", text))
            _number(p, current_list)
        else:
            if re.match(r"^\d+\.\s|^[IVX]+\.\s", text):
                current_list = None
            document.add_paragraph(text)
    section = document.sections[0]
    if header:
        section.header.paragraphs[0].text = header
    if page_numbers:
        para = section.footer.paragraphs[0]
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), "PAGE")
        run = OxmlElement("w:r")
        t = OxmlElement("w:t")
        t.text = "1"
        run.append(t)
        field.append(run)
        para._p.append(field)
    document.save(out)
    return out
