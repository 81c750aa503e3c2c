"""Fuzz loa's inputs (issue 10): mutated schedules, bulletins, templates and plans (text,
DOCX, PDF) through validate / next / render / plan import / bulletin list / bulletin approve,
each the real CLI in a subprocess under an address-space cap and a 10 s timeout.

Seeded and bounded (LOA_FUZZ_COUNT cases, default 100, 2 at a time; LOA_FUZZ_SEED): the same
cases on every machine. Failing cases are copied with a repro.sh into LOA_FUZZ_FINDINGS (or the
test's temp dir). benchmarks/fuzz.py runs the same harness at 2,000 cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz import harness
from fuzz.harness import Case, Run, check, closed_port, make_case
from fuzz.seeds import Seeds

COUNT = int(os.environ.get("LOA_FUZZ_COUNT", "100"))
SEED = int(os.environ.get("LOA_FUZZ_SEED", "20261130"))
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Seeds:
    return Seeds(tmp_path_factory.mktemp("fuzz-seeds"), closed_port())


@pytest.fixture(scope="module")
def summary(seeds, tmp_path_factory) -> dict:
    """The campaign runs in a fresh, small process (benchmarks/fuzz.py): Linux counts the
    parent's resident memory at fork into a child's ru_maxrss, and pytest itself may have
    grown past the 500 MB limit by now (CI of stop 19: every case 'peak 527 MB')."""
    base = tmp_path_factory.mktemp("fuzz-cases")
    findings = Path(os.environ.get("LOA_FUZZ_FINDINGS") or base / "findings")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fuzz.py"),
                          "--count", str(COUNT), "--seed", str(SEED), "--findings",
                          str(findings), "--cache", str(seeds.cache)],
                         capture_output=True, text=True, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def _classes(summary: dict, flag: str) -> str:
    rows = [c for c in summary["classes"] if c["flag"] == flag]
    return "\n".join(f"  {c['count']:3d}  {c['command']:16} {c['mutation']:28} {c['detail']}\n"
                     f"       reproducer: {c.get('reproducer', c['cases'][0])}" for c in rows)


def test_cases_are_seeded(seeds):
    a, b = make_case(seeds, SEED, 7), make_case(seeds, SEED, 7)
    assert (a.files, a.argv, a.mutation) == (b.files, b.argv, b.mutation)
    assert make_case(seeds, SEED + 1, 7).files != a.files or make_case(seeds, SEED, 8).files != a.files


def test_harness_recognizes_a_traceback_a_hang_and_a_clean_error(tmp_path):
    """The classifier itself, on runs shaped like real ones: a harness that passes whatever
    happens would be a defect."""
    env: dict[str, str] = {}
    before = harness._listing(tmp_path)
    case = Case(0, "schedule", "validate", "x", None, {"ba-vi.yaml": b"a: 1\n"}, "ba-vi.yaml",
                ["validate", "ba-vi.yaml"])
    tb = Run(1, "", "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n", 1, 30, False)
    assert check(case, tb, tmp_path, env, before, 0o644) == {"tracebacks": "KeyError: 'x'"}
    hang = Run(None, "", "", 10, 30, True)
    assert "hangs" in check(case, hang, tmp_path, env, before, 0o644)
    big = Run(2, "", "Lỗi: ba-vi.yaml, dòng 1: quá lớn\n", 3, 900, False)
    assert "over_memory" in check(case, big, tmp_path, env, before, 0o644)
    clean = Run(2, "", "Lỗi: ba-vi.yaml, dòng 1: thiếu khóa 'station'.\n", 1, 30, False)
    assert check(case, clean, tmp_path, env, before, 0o644) == {}
    nofile = Run(2, "", "Lỗi: thiếu khóa 'station'.\n", 1, 30, False)
    assert "errors_without_file" in check(case, nofile, tmp_path, env, before, 0o644)
    noline = Run(2, "", "Lỗi: ba-vi.yaml: thiếu khóa 'station'.\n", 1, 30, False)
    assert "errors_without_line" in check(case, noline, tmp_path, env, before, 0o644)
    english = Run(2, "", "Lỗi: ba-vi.yaml, dòng 1: mapping values are not allowed here\n", 1,
                  30, False)
    assert "english_errors" in check(case, english, tmp_path, env, before, 0o644)


def test_the_seeds_pass(seeds, tmp_path):
    """Unmutated seeds are accepted: every failure below comes from a mutation."""
    for rel, body in {"ba-vi.yaml": seeds.schedule, "bulletins/ba-vi-2026.yaml": seeds.bulletins,
                      "ke-hoach.docx": seeds.docx}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(body)
    env = harness.child_env(tmp_path / ".data", closed_port())
    for argv in (["validate", "ba-vi.yaml"], ["next", "ba-vi.yaml"],
                 ["bulletin", "list", "bulletins/ba-vi-2026.yaml"],
                 ["plan", "import", "ke-hoach.docx", "-o", "out.yaml"]):
        run = harness.run_loa(argv, tmp_path, env)
        assert run.rc == 0, (argv, run.stderr)


def test_the_harness_is_small_enough_to_measure_memory(summary):
    assert summary["harness_rss_mb"] < harness.MEMORY_MB / 2, summary["harness_rss_mb"]


def test_campaign_covers_every_command(summary):
    by = summary["by_command"]
    assert set(by) == {"validate", "next", "render", "plan_import", "bulletin_list",
                       "bulletin_approve"}, by
    assert summary["ok"] > 0 and summary["clean_errors"] > 0, summary


@pytest.mark.parametrize("flag", ["tracebacks", "hangs", "over_memory", "wrong_exit",
                                  "errors_without_loi", "errors_without_file",
                                  "errors_without_line", "english_errors", "long_errors",
                                  "wrong_results"])
def test_no_failures(summary, flag):
    """Zero tracebacks, hangs over 10 s, runs over 500 MB; every error in Vietnamese, short,
    naming the file and the line; no wrong result (a file changed by a failed command,
    a mode lost, a check accepting what the next command rejects)."""
    assert summary[flag] == 0, f"{summary[flag]} of {summary['files']} cases:\n" \
                               + _classes(summary, flag)
