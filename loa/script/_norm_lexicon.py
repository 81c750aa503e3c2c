"""Abbreviation lexicon: load, validate and merge YAML files of `ABBREVIATION: reading`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from loa.errors import LoaError

BUILTIN_PATH = Path(__file__).with_name("lexicon.yaml")

_JOINERS = re.compile(r"\s*([-–&/])\s*")
_SPACES = re.compile(r"\s+")


def canonical(key: str) -> str:
    """One spelling per key: 'LĐ - TB & XH' and 'LĐ-TB&XH' are the same abbreviation."""
    key = _JOINERS.sub(lambda m: "-" if m.group(1) == "–" else m.group(1), key.strip())
    return _SPACES.sub(" ", key)


def load_lexicon_file(path: str | Path) -> dict[str, str]:
    """Read one lexicon file; raise LoaError (Vietnamese, with file and line) if it is broken."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LoaError("không tìm thấy tệp từ điển viết tắt.", path) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise LoaError(
            "tệp từ điển viết tắt không phải văn bản UTF-8; hãy lưu lại với bảng mã UTF-8.",
            path,
            line,
        ) from None
    except OSError as exc:
        raise LoaError(f"không đọc được tệp từ điển viết tắt ({exc.strerror}).", path) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "lỗi cú pháp"
        raise LoaError(
            f"tệp từ điển viết tắt sai cú pháp YAML ({problem}); mỗi dòng phải có dạng "
            "'VIẾT TẮT: cách đọc', ví dụ 'UBND: Ủy ban nhân dân'.",
            path,
            line,
        ) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise LoaError(
            "tệp từ điển viết tắt phải gồm các dòng dạng 'VIẾT TẮT: cách đọc', "
            "ví dụ 'UBND: Ủy ban nhân dân'.",
            path,
            root.start_mark.line + 1,
        )
    out: dict[str, str] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":str")):
            raise LoaError(
                "chữ viết tắt phải là chữ (nếu là số hoặc có dấu ':' thì đặt trong ngoặc kép).",
                path,
                line,
            )
        key = key_node.value.strip()
        if not key:
            raise LoaError("có một dòng thiếu chữ viết tắt ở trước dấu ':'.", path, line)
        if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
            raise LoaError(f"chưa ghi cách đọc cho '{key}' sau dấu ':'.", path, line)
        if not (isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":str")):
            raise LoaError(
                f"cách đọc của '{key}' phải là một dòng chữ, ví dụ 'UBND: Ủy ban nhân dân' "
                "(nếu là số thì đặt trong ngoặc kép).",
                path,
                value_node.start_mark.line + 1,
            )
        out[canonical(key)] = _SPACES.sub(" ", value_node.value.strip())
    return out


def check_entries(entries: dict, source: str | Path | None = None) -> dict[str, str]:
    """Validate a lexicon given as a dict in code."""
    out: dict[str, str] = {}
    for key, value in entries.items():
        if not isinstance(key, str) or not key.strip():
            raise LoaError(f"chữ viết tắt {key!r} phải là một chuỗi chữ không rỗng.", source)
        if not isinstance(value, str):
            raise LoaError(f"cách đọc của '{key}' phải là một chuỗi chữ.", source)
        out[canonical(key)] = _SPACES.sub(" ", value.strip())
    return out


def build_lexicon(
    files: list[str | Path] | tuple = (), extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Built-in lexicon, then each file in order, then `extra`; later entries win."""
    merged = load_lexicon_file(BUILTIN_PATH)
    for f in files:
        merged.update(load_lexicon_file(f))
    if extra:
        merged.update(check_entries(extra))
    return merged
