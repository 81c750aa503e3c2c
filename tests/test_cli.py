"""The CLI face: a thin layer over loa.station, every word Vietnamese, names before ids."""

from __future__ import annotations

import argparse
import ast
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from loa.cli import build_parser, main
from loa.clock import DEFAULT_TZ

REPO = Path(__file__).resolve().parents[1]
LOA = REPO / "loa"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_no_cycle_in_the_cli_and_no_stage_imports_it():
    modules = {f"loa.cli.{p.stem}" if p.stem != "__init__" else "loa.cli": p
               for p in (LOA / "cli").glob("*.py")}
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    graph["loa.cli"].discard("loa.cli.commands")  # the entry point wires the commands in
    graph["loa.cli"].discard("loa.cli.clips")

    def reach(start, seen):
        for nxt in graph[start]:
            if nxt not in seen:
                seen.add(nxt)
                reach(nxt, seen)
        return seen

    cycles = [m for m in graph if m in reach(m, set())]
    assert cycles == []
    assert "loa.cli.commands" not in graph["loa.cli.clips"]
    assert "loa.cli.commands" not in graph["loa.cli.demo"]
    outside = [str(p.relative_to(REPO)) for p in LOA.rglob("*.py")
               if "cli" not in p.relative_to(LOA).parts[:1] and p.name != "__main__.py"
               and any(i == "loa.cli" or i.startswith("loa.cli.") for i in _imports(p))]
    assert outside == []


def _parsers(parser: argparse.ArgumentParser, path=("loa",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


ENGLISH = re.compile(r"\b(usage|positional|arguments?|options?|optional|show|this|help|"
                     r"message|exit|default|choose|required|version|program)\b", re.I)
ACRONYMS = {"YAML", "JSON", "CSV", "XLSX", "WAV", "MP3", "PDF", "NTP", "IV", "II", "ICS",
            "TTHC", "LUFS", "PID", "MB", "UTF", "BC", "LAN"}  # BC: báo cáo (12/BC-ĐTT)


def test_every_help_is_vietnamese():
    helps = list(_parsers(build_parser()))
    assert len(helps) > 25  # every command and subcommand
    commands = {name for path, _ in helps for name in path}  # typed as they are
    for path, parser in helps:
        text = parser.format_help()
        words = re.sub(r"(?<![\w])--?[\w-]+", " ", text)  # option names are typed, not read
        words = re.sub(r"\{[^}]*\}", " ", words)  # choices: values typed as they are
        words = " ".join(w for w in words.split(" ") if w not in commands)
        assert ENGLISH.findall(words) == [], (path, text)
        shouted = {w for w in re.findall(r"\b[A-Z][A-Z_]{1,}\b", words) if w not in ACRONYMS}
        assert shouted == set(), (path, shouted)  # an English metavar (SECTION, BY, DAYS)
        assert "cách dùng: " in text


@pytest.mark.parametrize("argv,value", [
    (["run", "x.yaml", "--sink", "argument invalid choice"], "'argument invalid choice'"),
    (["render", "x.yaml", "--jobs", "invalid int value"], "'invalid int value'"),
    (["now", "tin", "--timeout", "the following arguments are required"],
     "'the following arguments are required'"),
])
def test_the_officers_own_words_come_back_unchanged(argv, value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert value in err, err
    assert err.startswith("cách dùng: ") and "\nLỗi: tham số " in err


def test_argparse_errors_are_vietnamese(capsys):
    for argv, words in ((["bulletin", "return", "x.yaml", "IV.1"], "thiếu tham số: --note"),
                        (["bulletin", "approve"], "thiếu tham số: TỆP, MÃ"),
                        (["export", "-o", "a.csv", "--nope"], "không hiểu tham số: --nope"),
                        (["calendar", "x", "--days", "7.5"], "'7.5' không phải số nguyên"),
                        (["frobnicate"], "lựa chọn không hợp lệ: 'frobnicate'")):
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert words in err, err
        assert "argument" not in err and "invalid" not in err


def test_translation_is_installed_only_while_loa_parses():
    build_parser()
    assert argparse._("usage: ") == "usage: "  # pytest and others keep their language


@pytest.fixture
def open_ended(tmp_path) -> Path:
    """The example station with its program unbounded: sessions every day from any today."""
    shutil.copytree(REPO / "schedules", tmp_path / "schedules")
    path = tmp_path / "schedules" / "ba-vi.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\n    (from|until): 2026-\d\d-\d\d", "", text)
    path.write_text(text, encoding="utf-8")
    return path


def test_calendar_and_next_show_names_not_ids(open_ended, capsys):
    assert main(["calendar", str(open_ended), "--days", "2"]) == 0
    cal = capsys.readouterr().out
    assert "Buổi sáng — Toàn xã, Thôn Văn Hòa: " in cal
    assert "vai trò và tầm quan trọng" in cal or "Tuyên truyền" in cal
    for ident in ("toan-xa", "thon-van-hoa", "kstthc-2026", "IV.1.a", "IV.2.a", "sang"):
        assert ident not in cal.replace("Buổi sáng", ""), ident
    assert main(["next", str(open_ended), "--days", "2"]) == 0
    nxt = capsys.readouterr().out
    assert "Toàn xã, Thôn Văn Hòa" in nxt
    assert "(Tuyên truyền kiểm soát thủ tục hành chính năm 2026) [IV." in nxt
    assert "toan-xa" not in nxt and "kstthc-2026" not in nxt


def test_status_shows_names(open_ended, data_dir, capsys):
    assert main(["status", str(open_ended)]) == 1  # no daemon here
    out = capsys.readouterr().out
    assert "Lịch phát: " in out and "(Đài truyền thanh xã Ba Vì)" in out
    assert "Toàn xã, Thôn Văn Hòa" in out and "toan-xa" not in out
    assert "kstthc-2026" not in out and "Tuyên truyền kiểm soát" in out


def test_log_shows_zone_names_and_titles(open_ended, data_dir, capsys):
    from loa import settings
    from loa.log import LogStore

    store = LogStore(settings.db_path())
    at = datetime(2026, 9, 1, 6, 30, tzinfo=DEFAULT_TZ)
    rid = store.claim(play_key="k1", station="ba-vi", zone="thon-van-hoa",
                      program="kstthc-2026", session="sang", bulletin="IV.2.a",
                      title="Tin \x1b[2Jthủ tục", field=1, priority=3, scheduled_at=at, now=at)
    store.finish(rid, status="played", started_at=at, ended_at=at + timedelta(seconds=30))
    store.close()
    assert main(["log", "--schedule", str(open_ended), "--zone", "Thôn Văn Hòa"]) == 0
    out = capsys.readouterr().out
    assert "Thôn Văn Hòa" in out and "thon-van-hoa" not in out
    assert "Tin  [2Jthủ tục [IV.2.a]" in out and "\x1b" not in out
    assert "01/09/2026 06:30:00" in out and "đã phát" in out


def test_bulletin_edit_then_list_and_validate_ask_for_a_new_approval(open_ended, capsys):
    bfile = open_ended.parent / "bulletins" / "ba-vi-2026.yaml"
    assert main(["bulletin", "approve", str(bfile), "IV.1.a", "--by", "An"]) == 0
    assert main(["bulletin", "edit", str(bfile), "IV.1.a", "--title", "Tiêu đề mới"]) == 0
    assert "duyệt lại mới được phát" in capsys.readouterr().out
    assert main(["bulletin", "list", str(bfile)]) == 0
    cap = capsys.readouterr()
    assert re.search(r"IV\.1\.a +chờ duyệt lại", cap.out)
    assert "Cảnh báo: " in cap.err and "“Tiêu đề mới” [IV.1.a]" in cap.err
    assert main(["validate", str(open_ended)]) == 0
    cap = capsys.readouterr()
    assert "chờ duyệt lại" in cap.err and f"{bfile}, dòng " in cap.err
    assert main(["bulletin", "show", str(bfile), "IV.1.a"]) == 0
    assert "Tiêu đề mới [IV.1.a]" in capsys.readouterr().out
    assert main(["bulletin", "edit", str(bfile), "IV.1.a"]) == 2
    assert "cần --title hoặc --text" in capsys.readouterr().err
