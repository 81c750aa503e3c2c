"""Read plan files into numbered text lines, whatever shape the copy-out left them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from loa.errors import LoaError

_PAGE_NUMBER = re.compile(r"^\s*(?:-\s*)?\d{1,3}(?:\s*-)?\s*$")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000\f\v]+")


@dataclass(frozen=True)
class Line:
    number: int  # 1-based line in the source file
    text: str


def read_plan_lines(path: str | Path) -> list[Line]:
    """Return the non-empty, whitespace-cleaned lines of a plan, with their line numbers.

    Stray page numbers (a line holding only a number) are dropped; blank lines are
    dropped because PDF copy-out puts them inside paragraphs, so they mean nothing.
    """
    path = Path(path)
    if not path.exists():
        raise LoaError("không tìm thấy tệp kế hoạch.", path)
    suffix = path.suffix.lower()
    if suffix not in {".txt", ".text", ""}:
        raise LoaError(
            f"chưa đọc được tệp dạng '{suffix}'; hãy chép nội dung ra tệp .txt (UTF-8).", path
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoaError(
            "tệp không phải văn bản UTF-8; hãy lưu lại với bảng mã UTF-8.", path, line
        ) from None
    return clean_lines(text)


def clean_lines(text: str) -> list[Line]:
    import unicodedata

    out: list[Line] = []
    for i, raw_line in enumerate(text.splitlines(), start=1):
        line = unicodedata.normalize("NFC", _SPACES.sub(" ", raw_line)).strip()
        if not line or _PAGE_NUMBER.match(line):
            continue
        out.append(Line(i, line))
    return out
