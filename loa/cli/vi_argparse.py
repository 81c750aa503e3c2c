"""argparse speaking Vietnamese: its own message ids translated, never the user's values.

argparse builds every message through its module-level `_()` and `ngettext()` (gettext)
and only then fills in the values; a translation for those ids therefore reaches the
officer without touching what he typed. It is installed only while our parsers work, so
other argparse users in the same process (pytest) keep their language.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading

MESSAGES = {
    "usage: ": "cách dùng: ",
    "positional arguments": "tham số",
    "options": "tùy chọn",
    "optional arguments": "tùy chọn",
    "show this help message and exit": "in hướng dẫn này rồi thoát",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "unrecognized arguments: %s": "không hiểu tham số: %s",
    "the following arguments are required: %s": "thiếu tham số: %s",
    "one of the arguments %s is required": "cần một trong các tham số: %s",
    "not allowed with argument %s": "không dùng cùng tham số %s",
    "ignored explicit argument %r": "tùy chọn này không nhận giá trị %r",
    "expected one argument": "cần một giá trị",
    "expected at most one argument": "cần nhiều nhất một giá trị",
    "expected at least one argument": "cần ít nhất một giá trị",
    "ambiguous option: %(option)s could match %(matches)s":
        "tùy chọn %(option)s chưa rõ: có thể là %(matches)s",
    "unexpected option string: %s": "tùy chọn không đúng chỗ: %s",
    "invalid %(type)s value: %(value)r": "%(value)r không phải %(type)s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "lựa chọn không hợp lệ: %(value)r (chọn một trong %(choices)s)",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "không có lệnh %(parser_name)r (có: %(choices)s)",
    "can't open '%(filename)s': %(error)s": "không mở được '%(filename)s': %(error)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
}
PLURALS = {"expected %s argument": "cần %s giá trị"}


def translate(message: str) -> str:
    return MESSAGES.get(message, message)


def ntranslate(singular: str, plural: str, n: int) -> str:
    if singular in PLURALS:
        return PLURALS[singular]
    return singular if n == 1 else plural


_lock = threading.RLock()


@contextlib.contextmanager
def vietnamese():
    """argparse's `_`/`ngettext` replaced by the translation for the time of the block."""
    with _lock:
        saved = argparse._, argparse.ngettext
        argparse._, argparse.ngettext = translate, ntranslate
        try:
            yield
        finally:
            argparse._, argparse.ngettext = saved


def typed(convert, name: str):
    """A converter argparse names in its error ('invalid %(type)s value') in Vietnamese."""

    def conv(text: str):
        return convert(text)

    conv.__name__ = name
    return conv


INT = typed(int, "số nguyên")
FLOAT = typed(float, "số")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose words (help, usage, errors) are Vietnamese."""

    def __init__(self, *args, **kwargs):
        with vietnamese():
            super().__init__(*args, **kwargs)

    def add_subparsers(self, **kwargs):
        with vietnamese():
            return super().add_subparsers(**kwargs)

    def parse_args(self, args=None, namespace=None):
        with vietnamese():
            return super().parse_args(args, namespace)

    def parse_known_args(self, args=None, namespace=None):
        with vietnamese():
            return super().parse_known_args(args, namespace)

    def format_usage(self):
        with vietnamese():
            return super().format_usage()

    def format_help(self):
        with vietnamese():
            return super().format_help()

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"Lỗi: {message}\n")
