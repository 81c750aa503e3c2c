"""A new officer's path through issue 14's plan features (found by the advux pass)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
ME_LINH = DATA / "garbled_plans" / "me-linh-2025.txt"


def test_me_linh_plan_warns_and_points_to_repair(capsys):
    # The issue's own example: its topics keep most marks (76%) but the whole text lost
    # them (59%); judging the topics alone let it through with no warning, no repair hint.
    from loa.cli import main

    assert main(["plan", "import", str(ME_LINH)]) == 0
    err = capsys.readouterr().err
    assert "có vẻ bị lỗi" in err and "loa plan repair" in err and str(ME_LINH) in err


def test_clean_plans_still_pass_the_guard():
    from loa.plan.content import import_plan

    for f in sorted((Path(__file__).resolve().parents[1] / "loa" / "data" / "plans").glob("*.txt")):
        assert not import_plan(f).quality.garbled, f
