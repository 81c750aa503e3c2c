"""Reading normalizer: turn written Vietnamese administrative text into what an announcer says.

Text-to-speech engines (gTTS, espeak-ng) misread numbers, dates, document numbers and
abbreviations. ``Normalizer.normalize`` rewrites them into plain spoken Vietnamese so that
elderly listeners of a commune loudspeaker understand the bulletin.

How it works
------------
Each rule family is one or a few precompiled regexes run once over the ORIGINAL text (no
per-character Python loops). Families run in a fixed priority order; a match is kept only
if its span does not overlap a span that an earlier rule already claimed. The kept
replacements are then stitched together, and whitespace is tidied. Because every
replacement is a span of the original text, ``explain()`` can report exactly what was
changed and by which rule. Whitespace tidying (collapsing spaces, dropping a space before
punctuation) is not reported as a change.

Priority order: abbreviation definitions in parentheses, URLs/e-mails, phone numbers,
code numbers ("Đề án 06"), document references, lexicon abbreviations, dates, times,
roman numerals, month names, ordinals, plain numbers, ranges, slashes, spelled
abbreviations, ALL-CAPS headings, punctuation, then any digit left over.

Choices worth knowing
---------------------
* Numbers: "mốt" (21), "tư" (24), "lăm" (15, 25), "linh"/"lẻ" and "nghìn"/"ngàn" by
  ``variant``; zero groups are said in full ("một nghìn không trăm linh năm"). A dot
  between digit groups of three is a thousands separator, a comma is the decimal comma
  ("ba phẩy năm"); another dot between digits is read "chấm" ("1.2" -> "một chấm hai").
  Zero-padded counts ("06 tháng", "04 trụ cột") are read as values; zero-led strings of
  four digits or more are codes and read digit by digit.
* Dates: "ngày" is added to a bare dd/mm/yyyy and never doubled. Days 1-10 get
  ``day_prefix`` ("mùng" by default, "mồng", or None for none):
  "ngày 09/6/2025" -> "ngày mùng chín tháng sáu năm hai nghìn không trăm hai mươi lăm".
  A d/m without a year is a date only after "ngày", "mùng", "từ", "đến" and similar words,
  or after a holiday word and the holiday's name ("Ngày Giải phóng miền Nam 30/4" ->
  "... ba mươi tháng tư", "dịp 2/9", "lễ Quốc khánh 2/9"), and only if the day exists in
  that month; a fraction cue wins ("tỷ lệ 3/4", "2/3 diện tích", "1/2 số hộ"), and
  otherwise "3/5" is read "ba trên năm". mm/yyyy is a month ("tháng ba năm ...").
* Document references ("Nghị định số 118/2025/NĐ-CP", "Nghị quyết 57-NQ/TW"): the listener
  hears the number and the year only: "số một trăm mười tám năm hai nghìn không trăm hai
  mươi lăm". Leading zeros are dropped ("03" -> "ba"). The issuing code after the number is
  not read letter by letter: the document type it repeats ("NĐ", "KH") is already said
  before the number, and a local issuer ("UBND") is vague without its place, so both are
  dropped. When the code names a national issuer (CP, TTg, TW, QH14, VPCP, a ministry) and
  the text does not go on to say "của ..." (optionally after the issue date), the issuer
  is said: "Nghị quyết số 57-NQ/TW về ..." -> "Nghị quyết số năm mươi bảy của Trung ương về
  ...", "Luật số 45/2019/QH14" -> "... của Quốc hội khóa mười bốn". A document reference is
  never read as a date or a fraction.
* Abbreviations come from ``lexicon.yaml`` (shipped), then each of ``lexicon_files``, then
  the ``lexicon`` dict; later entries win. ALL-CAPS keys match case-sensitively, keys with
  lower-case letters ("VNeID", "Đ/c") match in any case. A capitalised word replaced at the
  start of a sentence keeps its capital ("TP. Hà Nội" -> "Thành phố Hà Nội"); numbers never
  add one, so "21 xã" -> "hai mươi mốt xã".
* Definitions in the text win over the lexicon for that text. "X (sau đây viết tắt là
  KSTTHC)", "X (viết tắt là CNTT)" and a plain "X (TTHC)" define the abbreviation from the
  words right before the parenthesis whose initials spell it: scanning back from the
  parenthesis, the shortest run of words whose first letters (Đ distinct from D, tone marks
  ignored, a word may give two letters such as "Th", "và" may stand for "&" or be skipped)
  spell the abbreviation. The parenthesis itself is then not read. A plain "(SIPAS)" whose
  letters do not match the words before is kept and read through the lexicon; an explicit
  "(viết tắt là X)" is always dropped.
* Unknown ALL-CAPS abbreviations (not a Vietnamese syllable, few vowels) are spelled with
  Vietnamese letter names ("NC" -> "en xê"); ALL-CAPS headings made of real words are
  turned into title case ("KẾ HOẠCH" -> "Kế Hoạch") so no engine spells them.
* Roman numerals become numbers only after a word that takes one (quý, khóa, thế kỷ, mục,
  phần, chương, giai đoạn, phụ lục, đợt, lần, thứ ...) or as a heading at the start of a
  line ("II. NỘI DUNG"); a lone "I" elsewhere is left alone, and so are "Mục C", "Phần A".
* Phone numbers (zero-led numbers of 10-11 digits or +84, 1800/1900 lines, any number after
  "điện thoại", "đường dây nóng", "hotline", "tổng đài", and 111-115 after "gọi") are read
  digit by digit in their written groups, with a comma (a pause) between groups.
  Zero-led code numbers after "Đề án", "mã số" are read digit by digit ("Đề án không sáu").
* Punctuation: quotes and stray "*" are dropped, "…"/"..." becomes a pause (", vân vân"
  after a list comma), "./." ends the sentence, "&" is "và", a slash between words is a
  comma ("Zalo/SMS/Email"), "đồng/tháng" is "đồng một tháng", a slash between numbers that
  are not a date is "trên" ("3/5" -> "ba trên năm"), a spaced dash between words is a comma
  and between numbers is "đến". Line-start bullets ("- ") are dropped and "a)" is read "a,";
  other list handling is left to the caller.
"""

from __future__ import annotations

import functools
import pathlib
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from loa.errors import LoaError
from loa.script._norm_lexicon import build_lexicon, canonical
from loa.script._norm_numbers import (
    MONTHS,
    check_variant,
    read_digits,
    read_fraction_part,
    read_int_text,
    read_number,
    read_ordinal,
    roman_value,
)

__all__ = ["Change", "Normalizer", "normalize", "read_digits", "read_number"]


@dataclass(frozen=True)
class Change:
    start: int  # span in the ORIGINAL text
    end: int
    original: str
    spoken: str
    rule: str  # short English rule name, e.g. "date", "doc-ref", "abbreviation", "number"


# --- character classes ------------------------------------------------------------------

_UPPER = "A-ZÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ"
_WS = r"[ \t]*(?:\n[ \t]*)?"  # spaces, at most one line break (PDF copy-out)

# National issuers said as "của ..." after a document number; local ones (UBND, HĐND)
# are dropped because the place is missing.
ISSUERS = {
    "CP": "Chính phủ",
    "TTg": "Thủ tướng Chính phủ",
    "TW": "Trung ương",
    "QH": "Quốc hội",
    "UBTVQH": "Ủy ban Thường vụ Quốc hội",
    "VPCP": "Văn phòng Chính phủ",
    "BNV": "Bộ Nội vụ",
    "BTC": "Bộ Tài chính",
    "BCA": "Bộ Công an",
    "BQP": "Bộ Quốc phòng",
    "BYT": "Bộ Y tế",
    "BTP": "Bộ Tư pháp",
    "BCT": "Bộ Công Thương",
    "BXD": "Bộ Xây dựng",
    "BGTVT": "Bộ Giao thông vận tải",
    "BTTTT": "Bộ Thông tin và Truyền thông",
    "BKHCN": "Bộ Khoa học và Công nghệ",
    "BGDĐT": "Bộ Giáo dục và Đào tạo",
    "BLĐTBXH": "Bộ Lao động, Thương binh và Xã hội",
    "BKHĐT": "Bộ Kế hoạch và Đầu tư",
    "BNNPTNT": "Bộ Nông nghiệp và Phát triển nông thôn",
    "BNNMT": "Bộ Nông nghiệp và Môi trường",
    "BTNMT": "Bộ Tài nguyên và Môi trường",
    "BVHTTDL": "Bộ Văn hóa, Thể thao và Du lịch",
    "NHNN": "Ngân hàng Nhà nước",
}

_LETTER_NAMES = {
    "A": "a", "Ă": "á", "Â": "ớ", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e",
    "Ê": "ê", "F": "ép", "G": "giê", "H": "hát", "I": "i", "J": "gi", "K": "ca", "L": "lờ",
    "M": "em", "N": "en", "O": "o", "Ô": "ô", "Ơ": "ơ", "P": "pê", "Q": "quy", "R": "rờ",
    "S": "ét", "T": "tê", "U": "u", "Ư": "ư", "V": "vê", "W": "vê kép", "X": "ích",
    "Y": "i", "Z": "dét",
}  # fmt: skip

_UNITS = {
    "%": "phần trăm", "VNĐ": "đồng", "VND": "đồng", "đ": "đồng", "km2": "ki lô mét vuông",
    "km²": "ki lô mét vuông", "km": "ki lô mét", "m2": "mét vuông", "m²": "mét vuông",
    "m3": "mét khối", "m³": "mét khối", "ha": "héc ta", "kg": "ki lô gam",
    "cm": "xăng ti mét", "mm": "mi li mét", "m": "mét", "°C": "độ xê",
}  # fmt: skip

_TLDS = {"vn": "vê en", "gov": "gốp", "com": "com", "net": "nét", "org": "o rờ gờ",
         "edu": "e đu", "www": "vê kép vê kép vê kép"}  # fmt: skip

# --- regexes (compiled once) ----------------------------------------------------------
# Many patterns open with a look-ahead on their first character, e.g. r"(?=[0-9])": the
# regex engine then skips most positions of a long text without trying the whole pattern.

_CODETOK = r"[A-ZĐ][A-Za-zĐđ0-9]*(?![\w])"
_CODE = rf"{_CODETOK}(?:[-/&](?:[ \t]*\n[ \t]*)?{_CODETOK})*"

_DEF_RE = re.compile(
    r"(?=[ \t(])"
    r"[ \t]*\([ \t\n]*"
    r"(?P<explicit>(?i:(?:sau[ \t\n]+đây[ \t\n]+)?(?:được[ \t\n]+)?(?:viết|gọi)[ \t\n]+tắt"
    r"(?:[ \t\n]+là)?)[ \t\n]*:?[ \t\n]*)?"
    r"[“\"]?(?P<abbr>[A-ZĐ][A-ZĐa-z0-9]*(?:[ \t]*[-&][ \t]*[A-ZĐ][A-ZĐa-z0-9]*)*)[”\"]?"
    r"[ \t\n]*\)"
)
_DEF_STOP = re.compile(r"[.;:!?()\[\]]")
_DEF_WORD = re.compile(r"[^\W0-9_]+|&")

_EMAIL_RE = re.compile(r"(?<![\w.])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL_RE = re.compile(
    r"(?i:(?<![\w@])(?:https?://|www\.)[^\s<>“”\"]+"
    r"|(?<![\w@.])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:vn|com|net|org|gov|edu|info)"
    r"(?:\.vn)?(?:/[^\s<>“”\"]*)?(?![\w]))"
)

_URL_HINT = re.compile(r"://|www\.|\.(?i:vn|com|net|org|gov|edu|info)(?![\w])")
_PHONE_CTX_RE = re.compile(
    r"(?=[sSđĐhHtTfF])"
    r"(?i:(?<![\w])(?P<so>số[ \t]+)?(?P<kw>điện[ \t]+thoại|đường[ \t]+dây[ \t]+nóng|hotline"
    r"|tổng[ \t]+đài|số[ \t]+máy|fax|sđt|đt)(?:[ \t]+(?:số|là))?[ \t]*:?[ \t]*)"
    r"(?P<num>\+?[0-9][0-9.\- \t]*[0-9]|[0-9])(?![\w])"
)
# "kêu gọi 500 hộ" is a count; only the emergency lines after "gọi" are phone numbers
_PHONE_EMERGENCY_RE = re.compile(
    r"(?=[gG])"
    r"(?<![\w])(?i:gọi)(?:[ \t]+(?i:ngay|đến|tới|vào|cho|số))*[ \t]+(?P<num>11[1-5])(?![\w])"
)
_PHONE_HOTLINE_RE = re.compile(
    r"(?=[1])" r"(?<![\w.,/])1[89]00[ .\-]?[0-9]{3,4}(?:[ .\-]?[0-9]{2,4})?(?![\w]|[.,][0-9])"
)
_PHONE_PLAIN_RE = re.compile(
    r"(?=[0+(])"
    r"(?<![\w.,/+])(?:(?:\+84[ .]?|0)[0-9]{1,3}(?:[ .\-]?[0-9]{2,4}){2,4}"
    r"|\(0[0-9]{2,3}\)[ \t]?[0-9]{3,4}[ .\-]?[0-9]{3,4})(?![\w]|[.,][0-9])"
)
_PHONE_SPLIT = re.compile(r"[ \t.\-()]+")

_CODE_NUMBER_RE = re.compile(
    r"(?=[đĐmMsStT])"
    r"(?<![\w])(?i:đề[ \t]+án|mã[ \t]+số|mã[ \t]+hồ[ \t]+sơ|mã|số[ \t]+hiệu"
    r"|tài[ \t]+khoản(?:[ \t]+số)?)"
    r"[ \t]+(?P<num>0[0-9]+)(?:/(?P<iss>Chính[ \t]+phủ|CP|TTg|TW)(?![\w]))?(?![0-9])"
)

_DOC_RE = re.compile(
    r"(?=[0-9])"
    rf"(?<![\w/.,])(?P<num>[0-9]{{1,6}})(?:/(?P<year>(?:19|20)[0-9]{{2}}))?[/-]{_WS}(?P<code>{_CODE})"
)
_DOC_BLANK_RE = re.compile(r"(?=[ \t/])" rf"(?<=:)[ \t]*/(?P<code>{_CODE})")
_DOC_SHORT_RE = re.compile(
    r"(?=[sSnNtTqQcClLkKhHbB])"
    r"(?<![\w])(?i:số|nghị[ \t]+định|thông[ \t]+tư|quyết[ \t]+định|nghị[ \t]+quyết|chỉ[ \t]+thị"
    r"|luật|kế[ \t]+hoạch|công[ \t]+văn|thông[ \t]+báo|hướng[ \t]+dẫn|báo[ \t]+cáo)"
    r"[ \t\n]+(?:(?i:số)[ \t\n]*)?(?P<num>[0-9]{1,6})/(?P<year>(?:19|20)[0-9]{2})(?![0-9/\w])"
)
_ISSUER_SAID = re.compile(
    r"[ \t\n]*,?[ \t\n]*(?:(?i:ngày)[ \t\n]+[0-9]{1,2}[ \t]*[/.\-][ \t]*[0-9]{1,2}"
    r"[ \t]*[/.\-][ \t]*[0-9]{2,4}[ \t\n]*,?[ \t\n]*)?(?i:của)(?![\w])"
)
_CODE_PART = re.compile(r"([A-Za-zĐđ]+?)([0-9]*)")

_DMY_RE = re.compile(
    r"(?=[0-9nNmM])"
    r"(?<![\w/.,])(?:(?P<ngay>(?i:ngày))[ \t\n]+)?(?:(?P<mung>(?i:mùng|mồng))[ \t\n]+)?"
    r"(?P<d>[0-9]{1,2})(?P<s>[/.\-])(?P<m>[0-9]{1,2})(?P=s)(?P<y>[0-9]{4})(?![0-9\w]|[/.\-][0-9])"
)
_MONTH_YEAR_RE = re.compile(
    r"(?=[0-9tTqQI])"
    r"(?<![\w/.,])(?:(?P<ctx>(?i:tháng|quý))[ \t\n]+)?(?P<m>[0-9]{1,2}|IV|I{1,3})[ \t]*/[ \t]*"
    r"(?P<y>(?:19|20)[0-9]{2})(?![0-9\w]|/[0-9])"
)
_DM_RE = re.compile(
    r"(?=[0-9nNmM])"
    r"(?<![\w/.,])(?:(?P<ngay>(?i:ngày))[ \t\n]+)?(?:(?P<mung>(?i:mùng|mồng))[ \t\n]+)?"
    r"(?P<d>[0-9]{1,2})/(?P<m>[0-9]{1,2})(?![0-9\w/]|[.,][0-9])"
)
_DM_CONTEXT = re.compile(
    r"(?:(?<![\w])(?i:từ|đến|tới|hôm|sáng|chiều|tối|trưa|đêm|hạn|trước|sau)"
    r"|[0-9][ \t]*[-–—])[ \t\n]*$"
)
# A holiday names its day without a year: "Ngày Giải phóng miền Nam 30/4", "dịp 2/9",
# "nghỉ lễ Quốc khánh 2/9". The head word may be followed by the holiday's name (a few
# words, one of them capitalised) but not by a clause break.
_DM_HOLIDAY_HEAD = re.compile(
    r"(?<![\w])(?i:ngày|lễ|dịp|tết|kỷ[ \t]+niệm|kỉ[ \t]+niệm|quốc[ \t]+khánh)(?![\w])"
)
_DM_HOLIDAY_NAME = re.compile(r"(?:(?:[ \t]+|[ \t]*[-–][ \t]*)[^\W_]\w*){0,8}[ \t]*")
_DM_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]\n“”\"]")
# "tỷ lệ 3/4", "chiếm 2/3", "1/2 số hộ": a fraction, whatever came before
_DM_FRACTION_BEFORE = re.compile(
    r"(?<![\w])(?i:tỷ[ \t]+lệ|tỉ[ \t]+lệ|chiếm|khoảng|gần|hơn|đạt|bằng|còn|trên|tỷ[ \t]+số)"
    r"[ \t]*$"
)
_DM_FRACTION_AFTER = re.compile(
    r"[ \t]+(?i:số|tổng|diện[ \t]+tích|dân[ \t]+số|khối[ \t]+lượng|sản[ \t]+lượng|phần)(?![\w])"
)
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DM_CHAIN = re.compile(r"[ \t]*(?:,|;|[-–—]|(?i:và|hoặc|đến|tới))?[ \t]*(?:(?i:và|hoặc)[ \t]+)?")
_DAY_MONTH_WORDS_RE = re.compile(
    r"(?=[nN])"
    r"(?<![\w])(?P<ngay>(?i:ngày))[ \t\n]+(?:(?P<mung>(?i:mùng|mồng))[ \t\n]+)?(?P<d>[0-9]{1,2})"
    r"(?=[ \t\n]+(?i:tháng)(?![\w]))"
)
_TIME_RE = re.compile(
    r"(?=[0-9])"
    r"(?<![\w:.,/])(?P<h>[0-9]{1,2})(?:[hH](?P<m1>[0-9]{2})?'?|:(?P<m2>[0-9]{2}))(?![\w:]|[.,][0-9])"
)
_TIME_MINUTE_WORD = re.compile(r"[ \t]*(?i:phút)(?![\w])")
_ROMAN_CTX_RE = re.compile(
    r"(?=[qQkKtTmMpPcCgGđĐlLhHnNvV])"
    r"(?<![\w])(?P<ctx>(?i:quý|khóa|khoá|thế[ \t]+kỷ|thế[ \t]+kỉ|mục|tiểu[ \t]+mục|phần|chương"
    r"|giai[ \t]+đoạn|phụ[ \t]+lục|đợt|đại[ \t]+hội|kỳ|kì|tập|cấp|loại|hạng|nhóm|vùng|khu[ \t]+vực"
    r"|thứ|lần))[ \t]+(?P<r>[IVX]+)(?![\w])"
)
_ROMAN_HINT = re.compile(r"[IVX](?![\w])")
_ROMAN_HEADING_RE = re.compile(r"(?m)^[ \t]*(?P<r>[IVX]{1,6})(?=\.[ \t])")
_MONTH_NAME_RE = re.compile(
    r"(?=[tT])" r"(?<![\w])(?i:tháng)[ \t\n]+(?P<m>[0-9]{1,2})(?![0-9\w/]|[.,][0-9])"
)
_ORDINAL_RE = re.compile(
    r"(?=[tT])" r"(?<![\w])(?i:thứ)[ \t]+(?P<n>[0-9]{1,3})(?![0-9\w/]|[.,][0-9])"
)
_NUMBER_RE = re.compile(
    r"(?=[0-9])"
    r"(?<![\w.,])(?P<int>[0-9]{1,3}(?:\.[0-9]{3})+(?![0-9])|[0-9]+)(?:,(?P<frac>[0-9]+))?"
    r"(?:\.(?P<dot>[0-9]{1,2})(?![0-9]|\.[0-9]))?"
    r"(?P<unit>[ \t]?(?:%|VNĐ|VND|km2|km²|km|m2|m²|m3|m³|ha|kg|cm|mm|°C|đ|m)(?![\w]))?"
)
_RANGE_RE = re.compile(r"(?=[ \t\-–—])" r"(?<=[0-9])[ \t]*[-–—][ \t]*(?:\n[ \t]*)?(?=[0-9])")
_SLASH_NUM_RE = re.compile(r"(?=[ \t/])" r"(?<=[0-9])[ \t]*/[ \t]*(?=[0-9])")
_SLASH_PER_RE = re.compile(
    r"(?=[ \t/])"
    r"(?<=[^\W0-9_])[ \t]*/[ \t]*(?=(?i:tháng|năm|ngày|tuần|giờ|người|hộ|lượt|lần|suất|km|kg"
    r"|ha|con|cái|chiếc)(?![\w]))"
)
_SLASH_WORD_RE = re.compile(r"(?=[ \t/])" r"(?<=\w)[ \t]*/[ \t]*(?=\w)")
_SPELL_RE = re.compile(r"(?=[A-ZĐ])" r"(?<![\w])(?P<tok>[A-ZĐ]{2,}[0-9]*|[A-ZĐ][0-9]+)(?![\w])")
_CAPS_RE = re.compile(rf"(?=[{_UPPER}])" rf"(?<![\w])[{_UPPER}]+(?![\w])")
_CAPS_GAP = re.compile(r"[ \t,;:–\-]*")
_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|th|tr|qu|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?"
)
_ELLIPSIS_RE = re.compile(r"(?=[ \t.…])" r"[ \t]*(?:\.{2,}|…)[.…]*")
_END_MARK_RE = re.compile(r"\./\.")
_QUOTE_RE = re.compile(r"[“”\"„«»‘’]")
_AMP_RE = re.compile(r"(?=[ \t&])" r"[ \t]*&[ \t]*")
_STAR_RE = re.compile(r"[*•▪●■◦]+")
_BULLET_RE = re.compile(r"(?m)^[ \t]*[-–—+][ \t]+")
_LETTER_MARK_RE = re.compile(r"(?m)^[ \t]*(?P<l>[a-zđ])\)[ \t]+")
_WORD_DASH_RE = re.compile(
    r"(?=[ \t\-–—])"
    r"(?<=[^\W_])(?:[ \t]*[-–—](?:[ \t]+|[ \t]*\n[ \t]*)|[ \t]+[-–—][ \t]*)(?=[^\W_])"
)
_DIGITS_RE = re.compile(r"[0-9]+")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-–•*+]|[a-zđ]\)|[0-9]{1,2}[.)]|[IVX]{1,5}\.)[ \t]+")

_TIDY_SPACES = re.compile(r"[ \t]+")
_TIDY_BEFORE_PUNCT = re.compile(r" +(?=[,.;:!?)])")
_TIDY_AFTER_OPEN = re.compile(r"\( +")
_TIDY_DOUBLE_COMMA = re.compile(r",(?: ?,)+")
_TIDY_COMMA_STOP = re.compile(r", ?(?=[.;:!?)])")
_TIDY_LINE_EDGES = re.compile(r"(?m)^ +| +$")
_TIDY_BLANK_LINES = re.compile(r"\n{3,}")


# --- helpers --------------------------------------------------------------------------


def _base(word: str) -> str:
    """Lower case without tone or vowel marks; 'đ' stays 'đ' (it is its own letter)."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _is_syllable(token: str) -> bool:
    return _SYLLABLE.fullmatch(_base(token).replace("đ", "d")) is not None


def _has_vowel_marks(token: str) -> bool:
    return any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZĐ" for c in token)


def _capitalize(s: str) -> str:
    return s[:1].upper() + s[1:]


def _sentence_start(text: str, i: int) -> bool:
    """True if position i opens a sentence or a list item (PDF line breaks do not count)."""
    j = i - 1
    while j >= 0 and text[j] in ' \t\n*“”"‘’«»':
        j -= 1
    if j < 0 or (text[j] in ".!?" and j + 1 < i):  # "TT.UBND": a dot inside a word
        return True
    line_start = text.rfind("\n", 0, i) + 1
    return _LIST_MARKER.fullmatch(text, line_start, i) is not None


def _dm_is_fraction(text: str, m: re.Match) -> bool:
    """'tỷ lệ 3/4', '2/3 diện tích': a d/m-looking pair that is a fraction."""
    start = m.start()
    return bool(
        _DM_FRACTION_BEFORE.search(text, max(0, start - 12), start)
        or _DM_FRACTION_AFTER.match(text, m.end())
    )


def _dm_after_holiday(text: str, start: int) -> bool:
    """True if a holiday word ('ngày', 'lễ', 'dịp', 'Quốc khánh') opens this clause's
    run of words just before `start`: right before it, or followed by a capitalised name."""
    lo = max(0, start - 80)
    breaks = list(_DM_CLAUSE_BREAK.finditer(text, lo, start))
    if breaks:
        lo = breaks[-1].end()
    for head in _DM_HOLIDAY_HEAD.finditer(text, lo, start):
        name = text[head.end() : start]
        if not _DM_HOLIDAY_NAME.fullmatch(name) or "/" in name:
            continue
        words = re.findall(r"\w+", name)
        if not words or any(w[0].isupper() for w in words):
            return True
    return False


def _spell(token: str, variant: str) -> str:
    letters = token.rstrip("0123456789")
    words = [_LETTER_NAMES.get(c, c.lower()) for c in letters]
    if len(letters) < len(token):
        words.append(read_number(int(token[len(letters) :]), variant))
    return " ".join(words)


def _read_phone(s: str) -> str:
    s = s.strip()
    prefix = ""
    if s.startswith("+"):
        prefix, s = "cộng ", s[1:]
    groups = [g for g in _PHONE_SPLIT.split(s) if g]
    if len(groups) == 1 and len(groups[0]) >= 9:
        g = groups[0]
        sizes = {10: (4, 3, 3), 11: (3, 4, 4)}.get(len(g))
        if sizes is None:
            sizes = tuple([3] * (len(g) // 3)) + ((len(g) % 3,) if len(g) % 3 else ())
        groups, pos = [], 0
        for n in sizes:
            groups.append(g[pos : pos + n])
            pos += n
    return prefix + ", ".join(read_digits(g) for g in groups)


def _match_initials(words: list[str], units: list[str]) -> bool:
    """True if `words` (base forms) spell `units` by initials; see the module docstring."""

    @functools.cache
    def go(wi: int, ui: int) -> bool:
        if ui == len(units):
            return wi == len(words)
        if wi == len(words):
            return False
        w = words[wi]
        unit = units[ui]
        if w in ("va", "&"):  # base form of "và"
            if unit == "&" and go(wi + 1, ui + 1):
                return True
            return w == "va" and go(wi + 1, ui)
        if unit == "&":
            return False
        if w[0] == unit and go(wi + 1, ui + 1):
            return True
        return (
            len(w) >= 2
            and ui + 1 < len(units)
            and w[:2] == unit + units[ui + 1]
            and go(wi + 1, ui + 2)
        )

    return go(0, 0)


Candidate = tuple[int, int, str]


class _Claims:
    """Non-overlapping spans already taken by earlier rules."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def take(self, start: int, end: int) -> bool:
        i = bisect_right(self.starts, start) - 1
        if i >= 0 and self.ends[i] > start:
            return False
        if i + 1 < len(self.starts) and self.starts[i + 1] < end:
            return False
        pos = i + 1
        self.starts.insert(pos, start)
        self.ends.insert(pos, end)
        return True


# --- the normalizer -------------------------------------------------------------------


class Normalizer:
    """Rewrite written Vietnamese into the words an announcer says (see module docstring)."""

    def __init__(
        self,
        variant: str = "north",
        day_prefix: str | None = "mùng",
        lexicon: dict[str, str] | None = None,
        lexicon_files: list[str | pathlib.Path] | tuple = (),
    ):
        try:
            check_variant(variant)
        except ValueError:
            raise LoaError(
                f"kiểu đọc số '{variant}' không hợp lệ; chọn 'north' (miền Bắc) "
                "hoặc 'south' (miền Nam)."
            ) from None
        if day_prefix not in ("mùng", "mồng", None):
            raise LoaError(
                f"cách đọc ngày '{day_prefix}' không hợp lệ; chọn 'mùng', 'mồng' hoặc để trống."
            )
        self.variant = variant
        self.day_prefix = day_prefix
        self.lexicon = build_lexicon(list(lexicon_files), lexicon)
        self._lex_folded = {k.casefold(): v for k, v in self.lexicon.items()}
        self._lex_re = self._compile_keys(self.lexicon)
        self._rules: list[tuple[str, Callable[[str, dict], Iterator[Candidate]]]] = [
            ("abbreviation-definition", self._r_definitions),
            ("url", self._r_url),
            ("phone", self._r_phone),
            ("code-number", self._r_code_number),
            ("doc-ref", self._r_doc_ref),
            ("abbreviation", self._r_lexicon),
            ("date", self._r_dates),
            ("time", self._r_time),
            ("roman", self._r_roman),
            ("date", self._r_month_name),
            ("ordinal", self._r_ordinal),
            ("number", self._r_number),
            ("range", self._r_range),
            ("slash", self._r_slash),
            ("spell", self._r_spell),
            ("case", self._r_caps),
            ("punctuation", self._r_punctuation),
            ("number", self._r_leftover_digits),
        ]

    # public API

    def normalize(self, text: str) -> str:
        return self.explain(text)[0]

    def explain(self, text: str) -> tuple[str, list[Change]]:
        """Return the spoken text and every change made, with spans in `text`.

        Text in decomposed Unicode (NFD) is first composed (NFC), and spans then refer to
        the composed text; plan files read by loa are NFC already.
        """
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
        ctx: dict = {"defs": {}}
        claims = _Claims()
        changes: list[Change] = []
        for rule, func in self._rules:
            for start, end, spoken in func(text, ctx):
                if claims.take(start, end):
                    changes.append(Change(start, end, text[start:end], spoken, rule))
        changes.sort(key=lambda c: c.start)
        out: list[str] = []
        pos = 0
        final: list[Change] = []
        for c in changes:
            spoken = c.spoken
            # "TP. Hà Nội" opening a sentence keeps its capital; digits have no case to keep
            if spoken[:1].islower() and c.original[:1].isupper() and _sentence_start(text, c.start):
                spoken = _capitalize(spoken)
            if spoken:
                # keep words apart when a reading lands next to a letter or digit
                if c.start > 0 and text[c.start - 1].isalnum() and spoken[0].isalnum():
                    spoken = " " + spoken
                if c.end < len(text) and text[c.end].isalnum() and spoken[-1].isalnum():
                    spoken += " "
                if spoken != c.spoken:
                    c = Change(c.start, c.end, c.original, spoken, c.rule)
            out.append(text[pos : c.start])
            out.append(spoken)
            pos = c.end
            final.append(c)
        out.append(text[pos:])
        return self._tidy("".join(out)), final

    # plumbing

    @staticmethod
    def _compile_keys(keys) -> re.Pattern | None:
        word_start: list[str] = []
        other: list[str] = []
        for key in sorted(keys, key=len, reverse=True):
            body = []
            for ch in key:
                if ch == "-":
                    body.append(r"[ \t]*[-–][ \t]*(?:\n[ \t]*)?")
                elif ch == "&":
                    body.append(r"[ \t]*&[ \t]*")
                elif ch == " ":
                    body.append(r"(?:[ \t]+|[ \t]*\n[ \t]*)")
                else:
                    body.append(re.escape(ch))
            pat = "".join(body)
            if any(c.islower() for c in key):
                pat = f"(?i:{pat})"
            if key[-1].isalnum():
                pat += r"(?![\w])"
            (word_start if key[0].isalnum() else other).append(pat)
        # one shared look-behind: per-alternative ones made this rule 25x slower
        parts = []
        if word_start:
            parts.append(r"(?<![\w])(?:" + "|".join(word_start) + ")")
        parts += other
        return re.compile("|".join(parts)) if parts else None

    def _lookup(self, matched: str, defs: dict[str, str]) -> str | None:
        key = canonical(matched)
        if key in defs:
            return defs[key]
        if key in self.lexicon:
            return self.lexicon[key]
        return self._lex_folded.get(key.casefold())

    @staticmethod
    def _tidy(s: str) -> str:
        s = _TIDY_SPACES.sub(" ", s)
        s = _TIDY_LINE_EDGES.sub("", s)
        s = _TIDY_BEFORE_PUNCT.sub("", s)
        s = _TIDY_AFTER_OPEN.sub("(", s)
        s = _TIDY_DOUBLE_COMMA.sub(",", s)
        s = _TIDY_COMMA_STOP.sub("", s)
        s = _TIDY_BLANK_LINES.sub("\n\n", s)
        return s.strip()

    def _day(self, d: int, mung: str | None) -> str:
        word = read_number(d, self.variant)
        if mung:
            return f"{mung} {word}"
        if d <= 10 and self.day_prefix:
            return f"{self.day_prefix} {word}"
        return word

    def _num(self, s: str) -> str:
        return read_number(int(s), self.variant)

    # rules: each yields (start, end, spoken) over the original text

    def _r_definitions(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _DEF_RE.finditer(text):
            abbr = canonical(m.group("abbr"))
            if sum(c.isupper() for c in abbr) < 2:
                continue
            window_start = max(0, m.start() - 300)
            window = text[window_start : m.start()]
            stops = list(_DEF_STOP.finditer(window))
            if stops:
                window_start += stops[-1].end()
                window = text[window_start : m.start()]
            words = [(w.start(), w.end(), _base(w.group())) for w in _DEF_WORD.finditer(window)]
            units = ["&" if c == "&" else _base(c) for c in abbr if c.isalpha() or c == "&"]
            found = None
            for k in range(1, min(len(words), 2 * len(units) + 2) + 1):
                tail = words[-k:]
                if tail[0][2] in ("va", "&"):
                    continue
                if _match_initials([w[2] for w in tail], units):
                    found = tail
                    break
            if found:
                phrase = text[window_start + found[0][0] : window_start + found[-1][1]]
                ctx["defs"][abbr] = re.sub(r"\s+", " ", phrase.replace("&", " và ")).strip()
            elif not m.group("explicit"):
                continue  # "(SIPAS)": not a definition, read it
            yield m.start(), m.end(), ""
        # abbreviations defined in the text but missing from the lexicon
        extra = [k for k in ctx["defs"] if k not in self.lexicon]
        ctx["extra_re"] = self._compile_keys(extra) if extra else None

    def _r_url(self, text: str, ctx: dict) -> Iterator[Candidate]:
        if "@" not in text and not _URL_HINT.search(text):
            return
        for m in _EMAIL_RE.finditer(text):
            user, _, domain = m.group().partition("@")
            yield (
                m.start(),
                m.end(),
                self._read_address(user) + " a còng " + self._read_address(domain),
            )
        for m in _URL_RE.finditer(text):
            s = m.group().rstrip(".,;:)!?")
            body = re.sub(r"(?i)^https?://", "", s).rstrip("/")
            body = re.sub(r"(?i)^www\.", "", body)
            host, _, path = body.partition("/")
            spoken = self._read_address(host)
            if path:
                spoken += " gạch chéo " + " gạch chéo ".join(
                    self._read_address(p) for p in path.split("/") if p
                )
            yield m.start(), m.start() + len(s), spoken

    def _read_address(self, s: str) -> str:
        parts = []
        for label in re.split(r"[.]", s):
            if not label:
                continue
            pieces = re.findall(r"[0-9]+|[^\W0-9_]+", label)
            words = [read_digits(p) if p.isdigit() else _TLDS.get(p.lower(), p) for p in pieces]
            parts.append(" ".join(words))
        return " chấm ".join(parts)

    def _r_phone(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _PHONE_CTX_RE.finditer(text):
            num = m.group("num").rstrip(" \t.-")
            digits = sum(c.isdigit() for c in num)
            if digits < 3 or digits > 12:
                continue
            kw = m.group("kw").lower()
            if kw in ("đt", "sđt"):
                # "ĐT 603" is a provincial road; "ĐT: 0912..." is a phone number
                if kw == "đt" and not m.group("so") and digits < 8 and num[0] not in "0+":
                    continue
                spoken = "điện thoại" if kw == "đt" else "số điện thoại"
                yield m.start("kw"), m.end("kw"), spoken
            start = m.start("num")
            yield start, start + len(num), _read_phone(num)
        for m in _PHONE_EMERGENCY_RE.finditer(text):
            yield m.start("num"), m.end("num"), read_digits(m.group("num"))
        for m in _PHONE_HOTLINE_RE.finditer(text):
            yield m.start(), m.end(), _read_phone(m.group())
        for m in _PHONE_PLAIN_RE.finditer(text):
            s = m.group()
            digits = sum(c.isdigit() for c in s)
            if s.startswith("+84"):
                digits -= 1  # '+84' stands for the leading zero
            if 10 <= digits <= 11:
                yield m.start(), m.end(), _read_phone(s)

    def _r_code_number(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _CODE_NUMBER_RE.finditer(text):
            spoken = read_digits(m.group("num"))
            if m.group("iss"):
                iss = canonical(m.group("iss"))
                spoken += " của " + ISSUERS.get(iss, iss)
            yield m.start("num"), m.end(), spoken

    def _issuer(self, code: str) -> str | None:
        for part in reversed(re.split(r"[-/&]", canonical(code))):
            pm = _CODE_PART.fullmatch(part)
            if pm and pm.group(1) in ISSUERS:
                name = ISSUERS[pm.group(1)]
                if pm.group(2):
                    name += " khóa " + self._num(pm.group(2))
                return name
        return None

    def _r_doc_ref(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _DOC_RE.finditer(text):
            spoken = self._num(m.group("num"))
            if m.group("year"):
                spoken += " năm " + self._num(m.group("year"))
            issuer = self._issuer(m.group("code"))
            if issuer and not _ISSUER_SAID.match(text, m.end()):
                spoken += " của " + issuer
            yield m.start(), m.end(), spoken
        for m in _DOC_BLANK_RE.finditer(text):
            yield m.start(), m.end(), ""
        if "/19" not in text and "/20" not in text:
            return
        for m in _DOC_SHORT_RE.finditer(text):
            spoken = self._num(m.group("num")) + " năm " + self._num(m.group("year"))
            yield m.start("num"), m.end("year"), spoken

    def _r_lexicon(self, text: str, ctx: dict) -> Iterator[Candidate]:
        defs = ctx["defs"]
        for regex in (ctx.get("extra_re"), self._lex_re):
            if regex is None:
                continue
            for m in regex.finditer(text):
                spoken = self._lookup(m.group(), defs)
                if spoken is None:
                    continue
                yield m.start(), m.end(), spoken

    def _r_dates(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _DMY_RE.finditer(text):
            d, mo = int(m.group("d")), int(m.group("m"))
            if not (1 <= d <= 31 and 1 <= mo <= 12):
                continue
            ngay = m.group("ngay") or ("" if m.group("mung") else "ngày")
            day = self._day(d, m.group("mung"))
            spoken = f"{ngay} {day} tháng {MONTHS[mo]} năm {self._num(m.group('y'))}"
            yield m.start(), m.end(), spoken.strip()
        for m in _MONTH_YEAR_RE.finditer(text):
            ctx_word, raw = m.group("ctx"), m.group("m")
            value = roman_value(raw) if raw.isalpha() else int(raw)
            year = self._num(m.group("y"))
            if ctx_word and ctx_word.lower() == "quý":
                if not value or value > 4:
                    continue
                yield m.start(), m.end(), f"{ctx_word} {self._num(str(value))} năm {year}"
            elif raw.isdigit() and 1 <= value <= 12:
                yield m.start(), m.end(), f"{ctx_word or 'tháng'} {MONTHS[value]} năm {year}"
        last_end, last_ngay = -1, "ngày"
        for m in _DM_RE.finditer(text):
            d, mo = int(m.group("d")), int(m.group("m"))
            if not (1 <= mo <= 12 and 1 <= d <= _MONTH_DAYS[mo]):
                continue
            start = m.start()
            if m.group("ngay") or m.group("mung"):
                ngay = m.group("ngay") or ""
            elif last_end >= 0 and _DM_CHAIN.fullmatch(text, last_end, start):
                ngay = last_ngay  # "30/4 và 1/5": the second reads like the first
            elif _dm_is_fraction(text, m):
                continue
            elif _DM_CONTEXT.search(text, max(0, start - 12), start):
                ngay = "ngày"
            elif _dm_after_holiday(text, start):
                ngay = ""  # "Ngày Giải phóng miền Nam 30/4": the day is named already
            else:
                continue
            last_end, last_ngay = m.end(), ngay
            spoken = f"{ngay} {self._day(d, m.group('mung'))} tháng {MONTHS[mo]}"
            yield m.start(), m.end(), spoken.strip()
        for m in _DAY_MONTH_WORDS_RE.finditer(text):
            d = int(m.group("d"))
            if 1 <= d <= 31:
                yield m.start(), m.end(), f"{m.group('ngay')} {self._day(d, m.group('mung'))}"

    def _r_time(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _TIME_RE.finditer(text):
            h = int(m.group("h"))
            minute = m.group("m1") or m.group("m2")
            mi = int(minute) if minute else 0
            if h > 24 or mi > 59:
                continue
            spoken = self._num(str(h)) + " giờ"
            if mi:
                spoken += " " + self._num(str(mi))
                if mi < 10 and not _TIME_MINUTE_WORD.match(text, m.end()):
                    spoken += " phút"
            yield m.start(), m.end(), spoken

    def _r_roman(self, text: str, ctx: dict) -> Iterator[Candidate]:
        if not _ROMAN_HINT.search(text):
            return
        for m in _ROMAN_CTX_RE.finditer(text):
            value = roman_value(m.group("r"))
            if not value:
                continue
            if m.group("ctx").lower() == "thứ":
                spoken = read_ordinal(value, self.variant)
            else:
                spoken = self._num(str(value))
            yield m.start("r"), m.end("r"), spoken
        for m in _ROMAN_HEADING_RE.finditer(text):
            value = roman_value(m.group("r"))
            if value:
                yield m.start("r"), m.end("r"), self._num(str(value))

    def _r_month_name(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _MONTH_NAME_RE.finditer(text):
            mo = int(m.group("m"))
            if 1 <= mo <= 12:
                yield m.start("m"), m.end("m"), MONTHS[mo]

    def _r_ordinal(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _ORDINAL_RE.finditer(text):
            yield m.start("n"), m.end("n"), read_ordinal(int(m.group("n")), self.variant)

    def _r_number(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _NUMBER_RE.finditer(text):
            raw = m.group("int")
            if "." in raw:
                spoken = self._num(raw.replace(".", ""))
            else:
                spoken = read_int_text(raw, self.variant)
            if m.group("frac"):
                spoken += " phẩy " + read_fraction_part(m.group("frac"), self.variant)
            if m.group("dot"):
                spoken += " chấm " + read_int_text(m.group("dot"), self.variant)
            if m.group("unit"):
                spoken += " " + _UNITS[m.group("unit").strip()]
            yield m.start(), m.end(), spoken

    def _r_range(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _RANGE_RE.finditer(text):
            yield m.start(), m.end(), " đến "

    def _r_slash(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _SLASH_NUM_RE.finditer(text):
            yield m.start(), m.end(), " trên "
        for m in _SLASH_PER_RE.finditer(text):
            yield m.start(), m.end(), " một "
        for m in _SLASH_WORD_RE.finditer(text):
            yield m.start(), m.end(), ", "

    def _r_spell(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _SPELL_RE.finditer(text):
            tok = m.group("tok")
            letters = tok.rstrip("0123456789")
            if letters == tok:
                if _is_syllable(tok) or set(tok) <= set("IVX"):
                    continue
                vowels = sum(c in "AEIOUY" for c in tok)
                if len(tok) > 3 and vowels * 3 > len(tok):
                    continue  # pronounceable (COVID, ASEAN): let the engine say it
            yield m.start(), m.end(), _spell(tok, self.variant)

    def _r_caps(self, text: str, ctx: dict) -> Iterator[Candidate]:
        tokens = list(_CAPS_RE.finditer(text))
        for i, m in enumerate(tokens):
            tok = m.group()
            if len(tok) < 2 and not _has_vowel_marks(tok):
                continue
            if not _is_syllable(tok):
                continue
            neighbour = False
            if i > 0 and _CAPS_GAP.fullmatch(text, tokens[i - 1].end(), m.start()):
                neighbour = True
            if i + 1 < len(tokens) and _CAPS_GAP.fullmatch(text, m.end(), tokens[i + 1].start()):
                neighbour = True
            if neighbour or _has_vowel_marks(tok):
                yield m.start(), m.end(), tok[0] + tok[1:].lower()

    def _r_punctuation(self, text: str, ctx: dict) -> Iterator[Candidate]:
        n = len(text)
        for m in _ELLIPSIS_RE.finditer(text):
            j = m.start() - 1
            while j >= 0 and text[j] in " \t":
                j -= 1
            k = m.end()
            while k < n and text[k] in " \t":
                k += 1
            ends_line = k >= n or text[k] == "\n"
            if j >= 0 and text[j] == ",":
                spoken = " vân vân" + ("." if ends_line else "")
            elif ends_line:
                spoken = "."
            elif text[k].isalnum():
                spoken = ","
            else:
                spoken = ""
            yield m.start(), m.end(), spoken
        for m in _END_MARK_RE.finditer(text):
            yield m.start(), m.end(), "."
        for m in _QUOTE_RE.finditer(text):
            yield m.start(), m.end(), ""
        for m in _AMP_RE.finditer(text):
            yield m.start(), m.end(), " và "
        for m in _STAR_RE.finditer(text):
            yield m.start(), m.end(), ""
        for m in _BULLET_RE.finditer(text):
            yield m.start(), m.end(), ""
        for m in _LETTER_MARK_RE.finditer(text):
            yield m.start(), m.end(), m.group("l") + ", "
        for m in _WORD_DASH_RE.finditer(text):
            yield m.start(), m.end(), ", "

    def _r_leftover_digits(self, text: str, ctx: dict) -> Iterator[Candidate]:
        for m in _DIGITS_RE.finditer(text):
            yield m.start(), m.end(), read_int_text(m.group(), self.variant)


@functools.lru_cache(maxsize=4)
def _default(variant: str) -> Normalizer:
    return Normalizer(variant=variant)


def normalize(text: str, variant: str = "north") -> str:
    """Normalize with the shipped lexicon and default options (the Normalizer is cached)."""
    return _default(variant).normalize(text)
