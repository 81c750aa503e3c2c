"""Operator text made safe at the edge of each export.

The log keeps what was said, byte for byte (it cannot be edited); each format gets a
copy it can carry: XML (XLSX, DOCX) cannot hold most control characters, and a
spreadsheet runs a CSV cell starting with = + - @ TAB or CR as a formula (OWASP, "CSV
Injection": prefix such a cell with a single quote). XLSX cells are typed: text is
written as text, never as a formula, and keeps its first character."""

from __future__ import annotations

import re

# not allowed anywhere in an XML 1.0 document, even escaped
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a quoted CSV field that opens with a formula character. Inside a quoted field a quote
# is doubled, a closing quote is followed by a comma (the line's last field is a number),
# so `,"` followed by anything else opens a field.
_CSV_FORMULA = re.compile(rb',"([=+\-@\t\r])')


def xml_text(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry."""
    return _XML_ILLEGAL.sub("", value)


def csv_block(block: bytes) -> bytes:
    """CSV lines (UTF-8, text fields quoted, as the log keeps them) with every text field
    that starts with a formula character prefixed by a single quote. Numbers are not
    quoted, so a negative duration stays a number."""
    return _CSV_FORMULA.sub(b",\"'" + rb"\1", block)
