"""YAML in and out, keeping line numbers so every error can name its line.

Operator files are untrusted input: loading is bounded in size, nesting depth and alias
expansion, only plain data tags are accepted, and every failure (bad bytes, control
characters, syntax, a tag that does not fit its value) becomes a Vietnamese LoaError
with the file, line and column.
"""

from __future__ import annotations

import ast
import difflib
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from loa.errors import LoaError, Problem, excerpt
from loa.fsio import atomic_write_text

# A schedule is a few KB and a bulletins file of a large plan well under 1 MB; 5 MB leaves
# room and still parses in about 2 s on a Pi-class machine.
MAX_BYTES = 5 * 1024 * 1024
# Real files nest 4-5 levels; deeper input is a mistake or an attack (900 levels used to
# end in RecursionError).
MAX_DEPTH = 50
# Anchors and aliases stay allowed: officers copy a zone list with &/* or share defaults
# with `<<: *mac-dinh`, and that costs a few nodes. What is refused is expansion: aliases
# may add at most this many nodes beyond those written in the file, which stops "billion
# laughs" (10 nested aliases, 10^9 nodes) while any hand-written reuse fits easily.
MAX_ALIAS_NODES = 10_000
# Each value costs about 500 bytes and 20-50 µs to load in Python: 100,000 (a bulletins
# file of ~4,000 bulletins; real plans have tens to hundreds) stays near 50 MB and a few
# seconds, where 2.5 million one-character items took 1.3 GB and minutes.
MAX_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
# Plain data only: no !!binary, !!set, !!omap, !!python/… — nothing in loa's files needs them.
_TAG_VI = {
    _TAG + "null": "giá trị rỗng",
    _TAG + "bool": "đúng/sai (true/false)",
    _TAG + "int": "số nguyên",
    _TAG + "float": "số thực",
    _TAG + "str": "văn bản",
    _TAG + "timestamp": "ngày giờ",
    _TAG + "seq": "danh sách",
    _TAG + "map": "bảng 'khóa: giá trị'",
}
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_DECIMAL = re.compile(r"\s*[-+]?\d{1,9}(?:\.\d{1,9})?\s*")
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # line breaks as YAML counts them


class LineDict(dict):
    """A mapping that remembers its own line and each key's line (1-based)."""

    line: int = 0
    column: int = 0
    key_lines: dict[str, int]
    key_columns: dict[str, int]
    value_columns: dict[str, int]  # the value's column, or the key's if on another line


class LineList(list):
    line: int = 0
    column: int = 0
    item_lines: list[int]
    item_columns: list[int]


class _Refused(yaml.MarkedYAMLError):
    """A load error whose problem text is already Vietnamese."""


def _n(number: int) -> str:
    return f"{number:,}".replace(",", ".")  # Vietnamese groups thousands with dots


def _refuse(message: str, mark) -> _Refused:
    return _Refused(None, None, message, mark)


if yaml.__with_libyaml__:
    # libyaml scans and parses ten times faster than the pure-Python parser (5 MB: 2 s
    # instead of 20 s); composing stays in Python so depth and aliases can be checked.
    from yaml._yaml import CParser as _Parser

    class _Events(_Parser):
        def __init__(self, stream: str):
            _Parser.__init__(self, stream)
else:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Events(Reader, Scanner, Parser):
        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _LineLoader(Composer, _Events, SafeConstructor, Resolver):
    def __init__(self, stream: str):
        _Events.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_NODES:
                raise _refuse(f"tệp có quá nhiều giá trị (hơn {_n(MAX_NODES)}); tệp lịch phát "
                              "hay bản tin chỉ cần vài nghìn.",
                              self.peek_event().start_mark)
            if self._depth > MAX_DEPTH:
                raise _refuse(f"dữ liệu lồng nhau quá {MAX_DEPTH} tầng; tệp của loa chỉ cần "
                              "vài tầng (kiểm tra thụt lề và dấu ngoặc).",
                              self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        node = super().compose_document()
        _check_expansion(node)
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        if node.tag not in _TAG_VI:
            tag = node.tag.replace(_TAG, "!!")
            raise _refuse(f"thẻ YAML '{excerpt(tag)}' không dùng được trong tệp của loa "
                          "(chỉ dùng văn bản, số, true/false, danh sách, bảng).",
                          node.start_mark)
        try:
            return super().construct_object(node, deep)
        except yaml.MarkedYAMLError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError,
                IndexError):
            # e.g. `!!int abc`, `!!bool maybe`, `!!map [1]`, an int of 5,000 digits
            what = _TAG_VI[node.tag]
            shown = (f"'{excerpt(node.value)}' " if isinstance(node, ScalarNode) else "")
            raise _refuse(f"giá trị {shown}không đọc được thành {what} (thẻ "
                          f"{node.tag.replace(_TAG, '!!')}).", node.start_mark) from None


def _check_expansion(root: Node | None) -> None:
    """Refuse documents whose aliases expand past MAX_ALIAS_NODES or MAX_DEPTH.

    Sizes are memoized per node, so the check is linear in the file even for a bomb.
    """
    if root is None:
        return
    memo: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def children(node: Node) -> list[Node]:
        if isinstance(node, SequenceNode):
            return node.value
        if isinstance(node, MappingNode):
            return [n for pair in node.value for n in pair]
        return []

    active: set[int] = set()  # nodes being measured: meeting one again is a cycle

    def measure(node: Node, depth: int) -> tuple[int, int]:
        known = memo.get(id(node))
        if known is None:
            if id(node) in active:
                raise _refuse("bí danh (*) tự tham chiếu đến phần chứa chính nó.",
                              node.start_mark)
            if depth > MAX_DEPTH:
                raise _refuse(f"bí danh (*) làm dữ liệu lồng nhau quá {MAX_DEPTH} tầng.",
                              node.start_mark)
            active.add(id(node))
            size, height = 1, 0
            for child in children(node):
                s, h = measure(child, depth + 1)
                size, height = size + s, max(height, h + 1)
            active.discard(id(node))
            known = memo[id(node)] = (size, height)
            # len(memo) includes every distinct node below, so this is at most what
            # aliases added (and exactly that at the root)
            if size - len(memo) > MAX_ALIAS_NODES:
                raise _refuse(f"bí danh (*) nhân dữ liệu lên quá nhiều ({_n(size)} mục, tệp "
                              f"chỉ ghi {_n(len(memo))}); bí danh chỉ được thêm tối đa "
                              f"{_n(MAX_ALIAS_NODES)} mục.", node.start_mark)
        elif depth + known[1] > MAX_DEPTH:
            raise _refuse(f"bí danh (*) làm dữ liệu lồng nhau quá {MAX_DEPTH} tầng.",
                          node.start_mark)
        return known

    measure(root, 1)


def _construct_mapping(loader: _LineLoader, node: Node) -> LineDict:
    if not isinstance(node, MappingNode):
        raise _refuse("thẻ !!map cần một bảng 'khóa: giá trị'.", node.start_mark)
    own = {id(key_node) for key_node, _ in node.value}
    loader.flatten_mapping(node)  # `<<: *defaults` pairs come first; written keys override
    out = LineDict()
    out.line, out.column = node.start_mark.line + 1, node.start_mark.column + 1
    out.key_lines, out.key_columns, out.value_columns = {}, {}, {}
    written: set[str] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, list | dict):
            raise _refuse("khóa không hợp lệ (khóa phải là một chữ, không phải danh sách hay "
                          "bảng).", key_node.start_mark)
        key = str(key) if not isinstance(key, str) else key
        if id(key_node) in own:
            if key in written:
                raise _refuse(f"khóa '{excerpt(key)}' bị lặp lại.", key_node.start_mark)
            written.add(key)
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
        out.key_columns[key] = key_node.start_mark.column + 1
        same_line = value_node.start_mark.line == key_node.start_mark.line
        out.value_columns[key] = (value_node if same_line else key_node).start_mark.column + 1
    return out


def _construct_sequence(loader: _LineLoader, node: Node) -> LineList:
    if not isinstance(node, SequenceNode):
        raise _refuse("thẻ !!seq cần một danh sách.", node.start_mark)
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line, out.column = node.start_mark.line + 1, node.start_mark.column + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    out.item_columns = [child.start_mark.column + 1 for child in node.value]
    return out


def _construct_timestamp_as_text(loader: _LineLoader, node: yaml.ScalarNode) -> str:
    # Dates and times stay text: the schema parses them with the station's zone.
    return loader.construct_scalar(node)


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    # Decimal even with a leading zero (YAML 1.2): `relay: 017` is pin 17, not octal 15.
    text = loader.construct_scalar(node).replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    base = {"0x": 16, "0b": 2}.get(digits[:2].lower(), 10)
    return sign * int(digits[2:] if base != 10 else digits, base)


_LineLoader.add_constructor(_TAG + "map", _construct_mapping)
_LineLoader.add_constructor(_TAG + "seq", _construct_sequence)
_LineLoader.add_constructor(_TAG + "timestamp", _construct_timestamp_as_text)
_LineLoader.add_constructor(_TAG + "int", _construct_int)
# YAML 1.1 reads an unquoted 17:00 as the sexagesimal number 1020 and 010 as octal 8;
# like YAML 1.2, loa reads 17:00 as text (a time) and 010 as ten. Every pattern is one
# YAML 1.1 also resolves, so the (1.1) dumper still quotes such strings and they read back.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TAG + "int", _TAG + "float")]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    _TAG + "int", re.compile(r"^(?:[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                             r"|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
_LineLoader.add_implicit_resolver(
    _TAG + "float", re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index, counting breaks as YAML does."""
    line, start = 1, 0
    for m in _BREAKS.finditer(text, 0, index):
        line, start = line + 1, m.end()
    return line, index - start + 1


# PyYAML's and libyaml's problem texts, in Vietnamese. {0} is the quoted character, if any.
# Patterns, compiled when a file first fails (not at every start: ~15 ms).
_PROBLEMS_VI: tuple[tuple[str, str], ...] = (
    (r"^mapping values are not allowed (here|in this context)",
     "dấu ':' không đặt được ở đây; nếu giá trị có dấu ':' hãy đặt nó trong ngoặc kép, nếu "
     "không thì kiểm tra thụt lề"),
    (r"^(block )?sequence entries are not allowed (here|in this context)",
     "mục danh sách '- ' không đặt được ở đây; kiểm tra thụt lề"),
    (r"^mapping keys are not allowed (here|in this context)",
     "khóa '? ' không đặt được ở đây"),
    (r"^found a tab character|^found character '\\t'",
     "có ký tự tab ở chỗ thụt lề; YAML chỉ thụt lề bằng dấu cách"),
    (r"^found character (.*) that cannot start any token|^found character that cannot",
     "ký tự{0} không mở đầu được một giá trị; hãy đặt giá trị trong ngoặc kép"),
    (r"^could not find expected ':'", "thiếu dấu ':' sau khóa (hoặc thiếu ngoặc kép đóng)"),
    (r"^expected <block end>, but found|^did not find expected key",
     "thụt lề không khớp với các dòng trên (các khóa cùng cấp phải thẳng cột)"),
    (r"^did not find expected '-' indicator",
     "thụt lề không khớp: cần một mục danh sách '- '"),
    (r"^(expected ',' or '\]'|did not find expected ',' or '\])",
     "danh sách trong '[ ]' thiếu dấu ',' hoặc ']' đóng"),
    (r"^(expected ',' or '\}'|did not find expected ',' or '\})",
     "bảng trong '{{ }}' thiếu dấu ',' hoặc '}}' đóng"),
    (r"^found unexpected end of stream",
     "tệp kết thúc giữa chừng (thiếu dấu ngoặc kép đóng?)"),
    (r"^found unexpected document (separator|indicator)",
     "gặp '---' hoặc '...' ở giữa một giá trị"),
    (r"^(but found another document|expected a single document)",
     "tệp chỉ được có một phần; bỏ dòng '---' thứ hai"),
    (r"^found unknown escape character",
     "ký tự ngay sau dấu '\\' trong ngoặc kép không hợp lệ; dùng ngoặc đơn hoặc viết "
     "'\\\\'"),
    (r"^(expected escape sequence of|found invalid Unicode character escape|did not find "
     r"expected hexdecimal)", "mã ký tự sau \\x, \\u hoặc \\U trong ngoặc kép không hợp lệ"),
    (r"^found undefined alias ?(.*)", "bí danh (*){0} chưa có neo (&) cùng tên ở phía trên"),
    (r"^found duplicate anchor ?(.*)|^second occurrence", "neo (&) bị đặt trùng tên"),
    (r"^found undefined tag handle|^found unknown directive|^found duplicate (%|YAML|TAG)"
     r"|^found incompatible YAML|^duplicate tag handle|^(expected|did not find expected) "
     r"(a digit|digit|version|directive)|^found extremely long version",
     "chỉ thị (%YAML, %TAG) hoặc thẻ (!) không hợp lệ"),
    (r"^(expected URI|did not find (expected tag URI|URI escaped)|expected '!'|did not find "
     r"expected '!'|expected non-empty name|expected '>'|did not find the expected '>')",
     "thẻ (!) không hợp lệ"),
    (r"^(expected alphabetic or numeric character|did not find expected alphabetic)",
     "tên neo (&), bí danh (*) hoặc thẻ (!) chỉ gồm chữ cái và chữ số"),
    (r"^(expected a comment or a line break|did not find expected comment or line break"
     r"|expected chomping or indentation|found an indentation indicator equal to 0"
     r"|expected indentation indicator)",
     "sau ký hiệu khối '|' hoặc '>' chỉ được có chú thích"),
    (r"^(expected ' ', but found|did not find expected whitespace)",
     "thiếu dấu cách"),
    (r"^(expected the node content|did not find expected node content)",
     "thiếu giá trị ở đây"),
    (r"^(expected '<document start>'|did not find expected <document start>)",
     "nội dung không hợp lệ sau dòng '---' hoặc '...'"),
    (r"^invalid indentation or unclosed", "thụt lề sai hoặc thiếu ']' hoặc '}' đóng"),
    (r"^found unexpected ':'", "dấu ':' không đặt được ở đây"),
    (r"^found unexpected non-alphabetical", "ký tự không hợp lệ trong chỉ thị"),
    (r"^exceeded maximum nesting depth", "dữ liệu lồng nhau quá sâu"),
    (r"^found unconstructable recursive node", "bí danh (*) tự tham chiếu đến chính nó"),
    (r"^found unhashable key|^found duplicate key", "khóa không hợp lệ hoặc bị lặp lại"),
    (r"^expected a mapping (for merging|or list of mappings)",
     "'<<' cần một bảng 'khóa: giá trị' (ví dụ <<: *mac-dinh)"),
    (r"^expected a mapping node", "cần một bảng 'khóa: giá trị'"),
    (r"^expected a sequence node", "cần một danh sách"),
    (r"^expected a scalar node", "cần một giá trị đơn, không phải danh sách hay bảng"),
    (r"^could not determine a constructor for the tag", "thẻ YAML không dùng được"),
    (r"^(control characters are not allowed|special characters are not allowed)",
     "có ký tự điều khiển không được phép"),
    (r"^(invalid|found an incorrect|incomplete) .*(UTF|octet)", "byte không phải UTF-8"),
)


def _char_at(text: str, mark) -> str:
    if mark is None:
        return ""
    lines = _BREAKS.split(text, maxsplit=mark.line + 1)
    line = lines[mark.line] if mark.line < len(lines) else ""
    return line[mark.column] if mark.column < len(line) else ""


def _vietnamese(exc: yaml.MarkedYAMLError, text: str) -> str:
    """PyYAML's or libyaml's English problem as Vietnamese; a generic text if unknown."""
    at = _char_at(text, exc.problem_mark)
    problem = exc.problem or ""
    if at == "\t" and "cannot start any token" in problem:
        problem = "found a tab character"
    for candidate in (problem, exc.context):
        for pattern, vi in _PROBLEMS_VI:
            m = re.search(pattern, candidate or "")  # re's own cache keeps them compiled
            if not m:
                continue
            shown = next((g for g in m.groups() if g and not g.startswith(("here", "in "))),
                         None)
            if shown:
                try:
                    shown = ast.literal_eval(shown)
                except (ValueError, SyntaxError):
                    pass
            elif "{0}" in vi and candidate is problem:
                shown = at  # libyaml does not quote the character; the mark points at it
            return vi.format(f" '{excerpt(shown)}'" if shown else "")
    return "cấu trúc không đúng cú pháp YAML"


def _read_text(path: Path, max_bytes: int) -> str:
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise LoaError("đây là một thư mục, không phải tệp.", path)
        if not stat.S_ISREG(info.st_mode):
            raise LoaError("đây không phải một tệp thường.", path)
        if info.st_size > max_bytes:
            raise LoaError(f"tệp quá lớn ({info.st_size / 1048576:.1f} MB; tối đa "
                           f"{max_bytes / 1048576:.0f} MB).", path)
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise LoaError("không tìm thấy tệp.", path) from None
    except PermissionError:
        raise LoaError("không có quyền đọc tệp.", path) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise LoaError(f"không đọc được tệp ({excerpt(getattr(exc, 'strerror', None) or exc)}"
                       ").", path) from None
    if len(raw) > max_bytes:  # grew since stat
        raise LoaError(f"tệp quá lớn (tối đa {max_bytes / 1048576:.0f} MB).", path)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[start:exc.start].decode("utf-8", errors="replace")) + 1
        raise LoaError(f"tệp không phải văn bản UTF-8 (byte 0x{raw[exc.start]:02X} không hợp "
                       "lệ); hãy lưu lại tệp với bảng mã UTF-8.", path, line,
                       column=column) from None
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line, column = line_column(text, bad.start())
        raise LoaError(f"tệp có ký tự điều khiển U+{ord(bad.group()):04X} không được phép; "
                       "hãy xóa ký tự này.", path, line, column=column)
    return text


def load_yaml(path: str | Path, max_bytes: int = MAX_BYTES) -> Any:
    """Load a YAML file into LineDict/LineList values; every failure becomes LoaError."""
    path = Path(path)
    text = _read_text(path, max_bytes)
    loader = _LineLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        mark = exc.problem_mark
        raise LoaError(exc.problem, path, mark.line + 1, column=mark.column + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = ""
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            where = f" (phần này bắt đầu ở dòng {ctx.line + 1}, cột {ctx.column + 1})"
        raise LoaError(f"lỗi cú pháp YAML: {_vietnamese(exc, text)}{where}.", path,
                       mark.line + 1 if mark else None,
                       column=mark.column + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:  # pre-checked above; kept as a safety net
        line, column = line_column(text, min(exc.position, len(text)))
        raise LoaError("tệp có ký tự không hợp lệ.", path, line, column=column) from None
    except yaml.YAMLError:
        raise LoaError("lỗi cú pháp YAML.", path) from None
    except RecursionError:  # bounded by MAX_DEPTH; kept as a safety net
        raise LoaError(f"dữ liệu lồng nhau quá {MAX_DEPTH} tầng.", path) from None
    finally:
        loader.dispose()


def line_of(container: Any, key: str | int | None = None) -> int | None:
    """Best line for a key (or list index) of a loaded container."""
    if isinstance(container, LineDict):
        if key is not None and key in container.key_lines:
            return container.key_lines[key]
        return container.line or None
    if isinstance(container, LineList):
        if isinstance(key, int) and 0 <= key < len(container.item_lines):
            return container.item_lines[key]
        return container.line or None
    return None


def column_of(container: Any, key: str | int | None = None) -> int | None:
    """Column matching line_of: the value's start when it is on the key's line."""
    if isinstance(container, LineDict):
        if key is not None and key in getattr(container, "value_columns", {}):
            return container.value_columns[key]
        return container.column or None
    if isinstance(container, LineList):
        cols = getattr(container, "item_columns", [])
        if isinstance(key, int) and 0 <= key < len(cols):
            return cols[key]
        return container.column or None
    return None


class Checker:
    """Collects every problem of a loaded file, each with its line and column."""

    def __init__(self, path: Path | None):
        self.path = path
        self.problems: list[Problem] = []

    def add(self, msg: str, container: Any = None, key: Any = None) -> None:
        self.problems.append(Problem(msg, self.path, line_of(container, key),
                                     column=column_of(container, key),
                                     key=key if isinstance(key, str) else None))

    def keys(self, mapping: LineDict, allowed: tuple[str, ...], where: str) -> None:
        """Unknown keys, each with a "did you mean" and the list of good ones."""
        for key in mapping:
            if key not in allowed:
                hint = difflib.get_close_matches(key[:100], allowed, n=1)
                tip = f" Có phải ý bạn là '{hint[0]}'?" if hint else ""
                ok = ", ".join(allowed)
                self.problems.append(Problem(
                    f"khóa '{excerpt(key)}' không dùng được trong {where}.{tip} (Dùng: {ok}.)",
                    self.path, line_of(mapping, key), column=_key_column(mapping, key),
                    key=key))

    def required(self, mapping: LineDict, key: str, where: str) -> Any:
        value = mapping.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self.add(f"{where} thiếu '{key}'.", mapping)
            return None
        return value

    def number(self, mapping: LineDict, key: str, default: float | None, lo: float, hi: float,
               message: str, integer: bool = False, above: bool = False) -> Any:
        """The one check every numeric key goes through: a finite number (never true/false,
        nan or inf, a list…), an integer where asked, in [lo, hi] (or (lo, hi] if above);
        otherwise a problem naming the value, and the default."""
        value = mapping.get(key)
        if value is None:
            return default
        number = as_number(value)
        if number is not None and integer:
            number = int(number) if number == int(number) else None
        if number is None or number > hi or number < lo or (above and number == lo):
            self.add(f"{message} (đang ghi: '{excerpt(value)}').", mapping, key)
            return default
        return number

    def text(self, mapping: LineDict, key: str, default: str = "") -> str:
        """Operator text: a string (a number is read as its digits), never a list or bool."""
        value = mapping.get(key)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        hint = " (đặt trong ngoặc kép nếu là yes/no/on/off)" if isinstance(value, bool) else ""
        self.add(f"'{key}' phải là một đoạn chữ, không phải danh sách, bảng hay "
                 f"true/false{hint}.", mapping, key)
        return default

    def path_value(self, mapping: LineDict, key: str) -> str | None:
        value = mapping.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.add(f"'{key}' phải là tên tệp (một đoạn chữ).", mapping, key)
            return None
        return value


def _key_column(mapping: LineDict, key: str) -> int | None:
    # An unknown key is pointed at itself, not at its value.
    return getattr(mapping, "key_columns", {}).get(key)


def as_number(value: Any) -> float | int | None:
    """A finite int/float, or a plain decimal written as text ("1.5"); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = float(value)
        return int(number) if number == int(number) and "." not in value else number
    return None


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if len(data) > 80:  # folded: wraps for the editor, reads back as one line
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=">")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(LineDict, _Dumper.represent_dict)
_Dumper.add_representer(LineList, _Dumper.represent_list)


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)


def write_yaml(path: str | Path, data: Any, header: str = "") -> None:
    atomic_write_text(path, header + dump_yaml(data))
