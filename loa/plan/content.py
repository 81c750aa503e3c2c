"""Find a plan's content section ("Nội dung thông tin, tuyên truyền") and its topics."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loa.errors import LoaError
from loa.plan.outline import Node, join_lines, parse_outline
from loa.plan.quality import TextQuality, assess
from loa.plan.reader import Line, PlanText, read_plan_text, time_limit

if TYPE_CHECKING:
    from loa.plan.ocr import OcrInfo, Progress

_STRONG = re.compile(
    r"^(?:ve\s+)?(?:cac\s+)?noi\s+dung\s+(?:chinh\s+|chu\s+yeu\s+|trong\s+tam\s+)?"
    r"(?:(?:thong\s+tin|tuyen\s+truyen|truyen\s+thong|pho\s+bien)[\s,]*(?:va\s+)?){1,2}"
)
_BARE = re.compile(r"^(?:ve\s+)?noi\s+dung\s*[:.]?\s*$")
# A whole Roman section named just "Nội dung (chủ yếu | chính | trọng tâm)".
_SECTION = re.compile(r"^(?:cac\s+)?noi\s+dung(?:\s+(?:chu\s+yeu|chinh|trong\s+tam))?\s*[:.]?\s*$")
_WEAK = re.compile(r"noi\s+dung.*(?:tuyen\s+truyen|thong\s+tin)|(?:tuyen\s+truyen|thong\s+tin).*noi\s+dung")
_REFERENCES = re.compile(
    r"((?:Luật|Nghị quyết|Nghị định|Quyết định|Thông tư|Chỉ thị|Kế hoạch|Công văn|Hướng dẫn"
    r"|Đề án|Chương trình)(?:\s+số)?\s+\d+[\w/.-]*[A-ZĐ][\w/.-]*(?:\s+ngày\s+\d{1,2}/\d{1,2}/\d{4})?)"
)
# Matched on folded text, so OCR that lost the marks still counts ("Dai truyen tlianh").
_LOUDSPEAKER = re.compile(r"(?:loa|dai)\s+(?:truyen|phat)\s+t(?:h|li)anh"
                          r"|truyen\s+t(?:h|li)anh\s+(?:co\s+so|xa|phuong)|he\s+thong\s+loa"
                          r"|cum\s+loa")


# The combining-mark blocks; one regex pass is far faster than a test per character.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Lower-case ASCII skeleton of Vietnamese text, for matching headings."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return _MARKS.sub("", unicodedata.normalize("NFD", text)).lower()


@dataclass
class Topic:
    path: str  # outline path, e.g. "IV.1.a"
    title: str
    text: str
    line: int  # where its marker stands in the source
    heading: str = ""  # its parent item, e.g. "Thông tin, tuyên truyền về …"
    unit: str = "dòng"


@dataclass
class Plan:
    source: Path
    plan_id: str
    title: str
    issuer: str
    year: int | None
    outline: Node
    content: Node
    topics: list[Topic] = field(default_factory=list)
    number: str = ""  # "56/KH-UBND", or "/KH-UBND" while the number is still blank
    place_date: str = ""  # "Ba Vì, ngày … tháng 3 năm 2026"
    references: list[str] = field(default_factory=list)  # the "Căn cứ …" documents
    mentions_loudspeakers: bool = False
    quality: TextQuality | None = None
    ocr: OcrInfo | None = None  # the pages read by OCR and how sure it is; None: all text
    read: PlanText | None = field(default=None, repr=False, compare=False)  # lines it came from


def _heading(node: Node) -> str:
    """The heading part of an item: its first 160 characters, folded."""
    lines, size = [], 0
    for line in node.lines:  # only the lines that reach 160 characters: items can be long
        lines.append(line)
        size += len(line)  # cleaned lines: no run of spaces for join_lines to shrink
        if size > 160:
            break
    return fold(join_lines(lines)[:160])


def _close(word: str, target: str) -> bool:
    return word == target or difflib.SequenceMatcher(None, word, target).ratio() >= 0.75


def _fuzzy_strong(h: str) -> bool:
    """OCR-damaged headings ("cac noi dung thong tln, tuyen truycn") still count, but only
    word by word: "đối tượng tuyên truyền" must not pass for "nội dung tuyên truyền"."""
    words = re.sub(r"[^a-z0-9 ]", " ", h.replace("0", "o")).split()[:8]
    if words[:1] and _close(words[0], "cac"):
        words = words[1:]
    if len(words) < 3 or not (_close(words[0], "noi") and _close(words[1], "dung")):
        return False
    a, b = (words[2:4] + ["", ""])[:2]  # right after "nội dung", as in the exact rule
    return (_close(a, "tuyen") and _close(b, "truyen")) or (_close(a, "thong") and _close(b, "tin"))


def find_content_section(root: Node) -> Node | None:
    """The outermost item headed like "Nội dung thông tin, tuyên truyền".

    Failing that, a bare "Nội dung" item under a heading that mentions propaganda
    ("II. ĐỐI TƯỢNG, NỘI DUNG VÀ HÌNH THỨC TUYÊN TRUYỀN" > "2. Nội dung"), or such a
    heading itself.
    """
    nodes = [n for n in root.walk() if n.kind != "root" and n.children]
    heads = {id(n): _heading(n) for n in nodes}  # a parent with children is in nodes too
    for node in nodes:
        if _STRONG.match(heads[id(node)]):
            return node
    for node in nodes:
        if _fuzzy_strong(heads[id(node)]):
            return node
    for node in nodes:
        if node.kind == "roman" and _SECTION.match(heads[id(node)][:60].strip()):
            return node
    for node in nodes:
        parent = node.parent
        if (_BARE.match(heads[id(node)]) and parent is not None and parent.kind != "root"
                and _WEAK.search(heads[id(parent)])):
            return node
    for node in nodes:
        if node.parent is not None and node.parent.kind == "root" and _WEAK.search(
                heads[id(node)][:80]):
            return node
    return None


def make_title(text: str, limit: int = 110) -> str:
    first = re.split(r"(?<=[^\d])[.;:](?:\s|$)", text, maxsplit=1)[0].strip()
    if len(first) > limit:
        cut = first[:limit].rsplit(" ", 1)[0]
        first = cut.rstrip(",;") + " …"
    return first.rstrip(" .;,:")


_UNIT = r"(xã|phường|thị trấn|huyện|quận|thị xã|thành phố|tỉnh)"
_UNIT_NAMES = {"xa": "xã", "phuong": "phường", "thi tran": "thị trấn", "huyen": "huyện",
               "quan": "quận", "thi xa": "thị xã", "thanh pho": "thành phố", "tinh": "tỉnh"}
_NAME = r"([A-ZĐÀ-Ỹ][\wà-ỹ]*(?:\s+[A-ZĐÀ-Ỹ][\wà-ỹ]*){0,3})"


def _best_spelling(name: str, text: str) -> str:
    """OCR often strips a header's marks but not the body's: prefer a marked spelling of
    the same name found elsewhere ("Ta Nang" -> "Tà Năng")."""
    if fold(name) != name.lower():
        return name  # already has its marks
    n = len(name.split())
    pattern = r"\b" + r"\s+".join([r"[A-ZĐÀ-Ỹ][\wà-ỹ]*"] * n) + r"\b"
    for m in re.finditer(pattern, text):
        cand = m.group(0)
        if fold(cand) == fold(name) and fold(cand) != cand.lower():
            return cand
    return name


def _plain_table() -> dict[int, str]:
    table = {}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:  # Latin-1 to Extended-B, Vietnamese
        bare = _MARKS.sub("", unicodedata.normalize("NFD", chr(cp)))
        if len(bare) == 1 and bare != chr(cp):
            table[cp] = bare
    table.update({ord("đ"): "d", ord("Đ"): "D", ord("Ð"): "D", ord("ð"): "d"})
    return table


_PLAIN = _plain_table()


def plain(text: str) -> str:
    """`text` with its marks stripped, case kept, one character for one: a match found in it
    is at the same place in `text` ("Ủy ban nhân dân" -> "Uy ban nhan dan")."""
    return text.translate(_PLAIN)


# The national motto beside the issuer in the header; OCR of a two-column header often
# runs both columns into one line ("UY BAN NHAN DAN CONG HOA XA HOI CHU NGHIA VIET NAM").
_MOTTO = re.compile(r"c[o0]ng\s+h[o0]a\s+xa\s+h[o0]i\s+chu\s+nghia(?:\s+viet\s+nam)?"
                    r"|d[o0]c\s+l[a4]p\s*[-–—]?\s*tu\s+d[o0]\s*[-–—]?\s*h[a4]nh\s+phuc",
                    re.IGNORECASE)
_COUNCIL = re.compile(r"^(?:u[yi]\s*ban\s+nhan\s+dan|ubnd)\b\s*", re.IGNORECASE)


def _issuer(lines: list[Line], title: str) -> str:
    full = _issuer_raw(lines, title)  # "UBND xã Tà Năng", "UBND thị trấn Ngọc Lặc"
    if not full:
        return ""
    words = full.split()[1:]
    n = 2 if " ".join(words[:2]) in _UNIT_NAMES.values() else 1
    unit, name = " ".join(words[:n]), " ".join(words[n:])
    return f"UBND {unit} {_best_spelling(name, ' '.join(ln.text for ln in lines[:80]))}"


def _unit_and_name(words: list[str]) -> str:
    """"XA EA KAR" -> "UBND xã Ea Kar": a unit word, then the name's words (capitalised
    letters only: the header's next column, "Số: …", is not part of it)."""
    for n in (2, 1):  # "thị trấn X" before "xã X"
        unit = _UNIT_NAMES.get(fold(" ".join(words[:n])))
        if unit and len(words) > n:
            name = []
            for w in words[n:n + 4]:
                if not w.isalpha() or not w[0].isupper():
                    break
                name.append(w)
            if name:
                return f"UBND {unit} {' '.join(w.capitalize() for w in name)}"
    return ""


def _header_lines(lines: list[Line]) -> list[str]:
    """The lines above "KẾ HOẠCH" (at most 8), the national motto blanked out of them."""
    out = []
    for ln in lines[:8]:
        if _PLAN_WORD.match(fold(ln.text[:40])):
            break
        text = ln.text[:300]  # header lines are short
        for m in _MOTTO.finditer(plain(text)):  # plain(): same places, marks or not
            text = text[:m.start()] + " " * (m.end() - m.start()) + text[m.end():]
        out.append(text)
    return out


def _issuer_raw(lines: list[Line], title: str) -> str:
    """"UBND xã Ba Vì": from the header block, else "… ban hành", else the title's place.

    In the header, the last council named is the issuer: "UBND THÀNH PHỐ BẮC NINH" above
    "ỦY BAN NHÂN DÂN / PHƯỜNG VÕ CƯỜNG" is its parent."""
    head = _header_lines(lines)
    found = ""
    for i, text in enumerate(head):
        m = _COUNCIL.match(plain(text).strip())
        if not m:
            continue
        rest = text.strip()[m.end():].split()
        if not rest and i + 1 < len(head):
            rest = head[i + 1].split()
        found = _unit_and_name(rest) or found
    if found:
        return found
    body = " ".join(ln.text[:2000] for ln in lines[:60])  # the lead-in is near the top
    flat = plain(body)
    # the lead-in "Ủy ban nhân dân xã X xây dựng/ban hành …", marks or not; the name
    # capitalised ("xã Hòa Bình về việc ban hành" is not "xã Hòa Bình Về Việc")
    m = re.search(r"(?i:UBND|Uy\s+ban\s+nhan\s+dan)\s+(?i:" + _UNIT_PLAIN + r")\s+"
                  + _NAME_PLAIN + r"\s+(?i:ban\s+hanh|xay\s+dung)\b", flat)
    if m:
        unit = _UNIT_NAMES.get(fold(m.group(1)))
        if unit:
            return f"UBND {unit} {body[m.start(2):m.end(2)]}"
    m = re.search(r"(?:UBND|Ủy ban nhân dân)\s+" + _UNIT + r"\s+ban hành", body)
    place = re.search(r"(?:địa bàn|của)\s+" + _UNIT + r"\s+" + _NAME, title)
    if m and place and place.group(1) == m.group(1):
        return f"UBND {place.group(1)} {place.group(2)}"
    return ""


_UNIT_PLAIN = r"(xa|phuong|thi tran|huyen|quan|thi xa|thanh pho|tinh)"
_NAME_PLAIN = r"([A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*){0,3})"


def _legal_start(title: str) -> int | None:
    """Where the plan's bases or its issuer's lead-in start inside a title run on with
    them: "… năm 2025 Cin ctir Nghi dinh sé 63/2010/ND-CP …" stops at "năm 2025"."""
    m = _TITLE_END.search(plain(title))
    return m.start() if m else None


# Matched on the unmarked title; "căn cứ" as OCR leaves it: "Can cu", "Cin ctir", "Căn cử",
# "Can cu'". "Thực hiện Kế hoạch số …" only with its capital: a title may itself be about
# "thực hiện Nghị quyết số 57-NQ/TW".
_TITLE_END = re.compile(
    r"(?i:\bc[aie]n\s+c(?:u|ir|tir|tu|ti|lr)\b)"
    r"|\bThuc\s+hien\s+(?i:(?:cac\s+)?(?:ke\s+hoach|nghi\s+quyet|nghi\s+dinh|chi\s+thi"
    r"|cong\s+van|quyet\s+dinh|thong\s+tu|huong\s+dan|chuong\s+trinh)\s+s[o0-9])"
    r"|(?i:\b(?:u[yi]\s*ban\s+nhan\s+dan|ubnd|chu\s+tich)\b[^;:.]{0,80}?"
    r"\b(?:xay\s+dung|ban\s+hanh)\s+ke\s+ho)"
)
_PLAN_WORD = re.compile(r"^k[eé]\s*ho[a-z]{2,4}\b", re.IGNORECASE)


def _title_and_year(lines: list[Line]) -> tuple[str, int | None]:
    title_lines: list[str] = []
    collecting = False
    for ln in lines[:40]:
        f = fold(ln.text[:200])  # only how the line starts matters here
        head = _PLAN_WORD.match(f)
        if not collecting and head:
            rest = ln.text[head.end():].strip(" :.")
            if not rest:  # "KẾ HOẠCH" alone, the title below it
                collecting = True
                continue
            if ln.text[:8].isupper():  # "KẾ HOẠCH Thông tin …" run into one line
                collecting = True
                title_lines.append(rest)
                continue
        if collecting:
            if f.startswith(("can cu", "thuc hien", "i.", "i ")) or len(title_lines) >= 4:
                break
            title_lines.append(ln.text)
    title = join_lines(title_lines)
    cut = _legal_start(title)
    if cut is not None:
        title = title[:cut].rstrip(" ,;:.-–")
    # folded, so OCR text that lost its marks ("nam 2025") still gives the year
    years = re.findall(r"\bnam (\d{4})\b", fold(title)) or re.findall(
        r"\bnam (\d{4})\b", fold(" ".join(ln.text[:1000] for ln in lines[:12]))
    )
    return title, int(years[-1]) if years else None


# "Số: 12/KH-UBND", and as OCR reads it: "S6: 12/KH-UBND", "Sô 12/KH-UBND", "So: 145 /KH-UBND".
_NUMBER = re.compile(r"(?:^|(?<=\s)(?=S\S?\s*:))s[oóòỏõọôốồổỗộơớờởỡợ06]\s*[:;.]?\s*"
                     r"(\d*[\w.]*?)\s*/\s*([A-ZĐÐ][\w-]*)", re.IGNORECASE)
# "Ba Vì, ngày 05 tháng 3 năm 2026", "Ea Kar, ngay    thang 4 nam 2026" (matched unmarked).
_DATE = re.compile(r"(?:^|(?<=\s))((?:[A-Za-z]+\s+){0,4}[A-Za-z]+)?\s*[,.]?\s*ngay\s*(\d{1,2}|[.…_ ]*)\s*"
                   r"thang\s*(\d{1,2}|[.…_ ]*)\s*na(?:m|rn)\s*(\d{4})\b", re.IGNORECASE)


def _number_and_date(lines: list[Line]) -> tuple[str, str]:
    number = place_date = ""
    text_around = " ".join(ln.text for ln in lines[:80])
    for ln in lines[:15]:
        text = ln.text[:200]  # header lines are short; the search below backtracks on long ones
        m = _NUMBER.search(text)
        if m and not number:
            # OCR reads a D as the eth Ð; "UBND" has no Đ, other codes may ("ĐU")
            symbol = re.sub(r"UBN[ĐÐ]\b", "UBND", m.group(2).replace("Ð", "Đ"))
            number = f"{m.group(1)}/{symbol}"
        m = _DATE.search(plain(text))
        if m and not place_date:
            place_date = _place_date(text, m, text_around)
    return number, place_date


def _place_date(text: str, m: re.Match, around: str) -> str:
    """"Ba Vì, ngày 05 tháng 3 năm 2026" in its marked words, whatever OCR left of them."""
    words = text[m.start(1):m.end(1)].split() if m.group(1) else []
    while words and not words[0][:1].isupper():  # "… Hạnh phúc Me Linh": the place is last
        words = words[1:]
    lower = [i for i, w in enumerate(words) if not w[:1].isupper()]
    if lower:
        words = words[lower[-1] + 1:]
    place = _best_spelling(" ".join(words), around) if words else ""
    day, month = m.group(2).strip(), m.group(3).strip()
    date = re.sub(r"\s+", " ", f"ngày {day} tháng {month} năm {m.group(4)}")
    return f"{place}, {date}" if place else date


def import_plan(path: str | Path | Sequence[str | Path], section: str | None = None,
                progress: Progress | None = None) -> Plan:
    """Read a plan and return its topics: the leaves of the content section.

    `path` is one file, or photos of the pages in order (the first names the plan);
    `progress(done, total)` is called as pages are read by OCR."""
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise LoaError("chưa chọn tệp kế hoạch nào.")
    with time_limit(paths[0]):  # the reading and the parsing together
        return _import(paths, section, progress)


def _import(paths: list[Path], section: str | None, progress: Progress | None = None) -> Plan:
    path = paths[0]
    return plan_from_text(path, read_plan_text(paths if len(paths) > 1 else path, progress),
                          section)


def plan_from_text(path: Path, read: PlanText, section: str | None = None) -> Plan:
    """The plan in text already read from `path` (a station keeps an OCR reading as text,
    so drafting does not read the scan again)."""
    lines = read.lines
    if not lines:
        raise LoaError("tệp kế hoạch không có chữ nào.", path)
    root = parse_outline(lines)
    if section:
        content = root.find(section)
        if content is None:
            known = ", ".join(n.path for n in root.children)
            raise LoaError(
                f"không có mục '{section[:40]}' trong kế hoạch (các mục lớn: {known}).", path
            )
    else:
        content = find_content_section(root)
        if content is None:
            known = "; ".join(f"{n.path}. {n.text[:40]}" for n in root.children[:8])
            hint = (f"hãy chỉ rõ mục bằng --section (các mục lớn: {known})" if known else
                    "kế hoạch không có mục đánh số nào (I., 1., a), -) để tìm")
            raise LoaError(
                f"không tìm thấy phần “Nội dung thông tin, tuyên truyền” trong kế hoạch; {hint}.",
                path,
            )
    topics = []
    for leaf in content.leaves():
        text = leaf.text
        if not text:
            continue
        parent = leaf.parent
        heading = parent.text if parent is not None and parent is not content and leaf is not content else ""
        topics.append(Topic(path=leaf.path, title=make_title(text), text=text, line=leaf.line,
                            heading=make_title(heading, 160) if heading else "",
                            unit=leaf.unit))
    if not topics:
        raise LoaError(f"mục {content.path} không có nội dung nào để phát.", path, content.line,
                       content.unit)
    title, year = _title_and_year(lines)
    number, place_date = _number_and_date(lines)
    full_text = "\n".join(ln.text for ln in lines)
    preamble = join_lines(root.lines)
    plan_id = re.sub(r"[^a-z0-9]+", "-", fold(path.stem)).strip("-") or "plan"
    quality = assess(" ".join(t.text for t in topics))
    if not quality.garbled:
        # Topics can keep their marks while the rest lost them (the Mê Linh plan: 76% vs
        # 59%); the officer still needs the warning and the repair hint.
        whole = assess(full_text)
        if whole.garbled:
            quality = whole
    return Plan(
        source=path, plan_id=plan_id, title=title, issuer=_issuer(lines, title), year=year,
        outline=root, content=content, topics=topics, number=number, place_date=place_date,
        references=list(dict.fromkeys(m.group(1) for m in _REFERENCES.finditer(preamble))),
        mentions_loudspeakers=bool(_LOUDSPEAKER.search(fold(full_text))),
        quality=quality, ocr=read.ocr, read=read,
    )
