"""Operator-facing errors: a Vietnamese message that names the file and line."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXCERPT_CHARS = 60


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A value as quoted in an error: one line, at most `limit` characters and "…".

    Operator files may hold megabytes in one value; an error echoes only its start, with
    control characters shown escaped so the message stays one readable line.
    """
    text = value if isinstance(value, str) else _short_repr(value, limit)
    cut = text[:limit]
    shown = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return shown + ("…" if len(text) > limit else "")


def _short_repr(value: Any, limit: int) -> str:
    # str() of a huge list would build the whole text before it is cut.
    if isinstance(value, list | tuple | dict | set):
        try:
            items = list(value.items() if isinstance(value, dict) else value)
        except Exception:  # noqa: BLE001 - only for display
            return type(value).__name__
        parts, size = [], 0
        for item in items:
            part = (f"{_short_repr(item[0], limit)}: {_short_repr(item[1], limit)}"
                    if isinstance(value, dict) else _short_repr(item, limit))
            parts.append(part)
            size += len(part) + 2
            if size > limit:
                parts.append("…")
                break
        body = ", ".join(parts)
        return "{" + body + "}" if isinstance(value, dict | set) else "[" + body + "]"
    return str(value)[: limit + 1]


# Where the reader stands: the console shows a station's files by their place in its
# folder ("bulletins/ba-vi-2026.yaml"), not by the server's full path; the CLI sets nothing.
_SHOWN_FROM: ContextVar[Path | None] = ContextVar("loa_paths_shown_from", default=None)


def show_paths_from(folder: str | Path | None) -> Token:
    """Show problems' paths relative to `folder` in this context (a thread, a request)."""
    return _SHOWN_FROM.set(Path(folder).resolve() if folder is not None else None)


def reset_paths_shown(token: Token) -> None:
    _SHOWN_FROM.reset(token)


def _shown(path: str | Path) -> str:
    base = _SHOWN_FROM.get()
    if base is None:
        return str(path)
    try:
        return str(Path(path).resolve().relative_to(base))
    except (ValueError, OSError):
        return Path(path).name


@dataclass
class Problem:
    message: str  # Vietnamese, for the officer
    path: str | Path | None = None
    line: int | None = None  # 1-based
    unit: str = "dòng"  # "đoạn" for a DOCX paragraph, "trang" for a PDF page
    column: int | None = None  # 1-based, in characters; only with a line
    key: str | None = None  # the key at fault, when one is (a form shows it by its field)

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = _shown(self.path)
            if self.line is not None:
                where += f", {self.unit} {self.line}"
                if self.column is not None:
                    where += f", cột {self.column}"
            where += ": "
        return where + self.message


class LoaError(Exception):
    """An operator mistake or an environment problem; the CLI prints it without a traceback."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 unit: str = "dòng", column: int | None = None):
        self.problems = [Problem(message, path, line, unit, column)]
        super().__init__(str(self.problems[0]))

    @classmethod
    def many(cls, problems: list[Problem]) -> LoaError:
        first = problems[0]
        err = cls(first.message, first.path, first.line, first.unit, first.column)
        err.problems = list(problems)
        return err

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
