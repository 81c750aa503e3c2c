"""Operator-facing errors: a Vietnamese message that names the file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Problem:
    message: str  # Vietnamese, for the officer
    path: str | Path | None = None
    line: int | None = None  # 1-based
    unit: str = "dòng"  # "đoạn" for a DOCX paragraph, "trang" for a PDF page

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f", {self.unit} {self.line}"
            where += ": "
        return where + self.message


class LoaError(Exception):
    """An operator mistake or an environment problem; the CLI prints it without a traceback."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 unit: str = "dòng"):
        self.problems = [Problem(message, path, line, unit)]
        super().__init__(str(self.problems[0]))

    @classmethod
    def many(cls, problems: list[Problem]) -> LoaError:
        err = cls(problems[0].message, problems[0].path, problems[0].line)
        err.problems = list(problems)
        return err

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
