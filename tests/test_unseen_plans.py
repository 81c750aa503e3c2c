"""Plans written by someone who never saw the parser, with the topics they expect."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from loa.cli import main
from loa.plan import import_plan

SETS = sorted(Path(__file__).parent.glob("data/unseen_plans*/expected.yaml"))
CASES = [(f.parent / name, exp) for f in SETS
         for name, exp in yaml.safe_load(f.read_text(encoding="utf-8")).items()]


@pytest.mark.parametrize("path, expected", CASES, ids=[f"{p.parent.name}/{p.name}"
                                                       for p, _ in CASES])
def test_unseen_plan_topics_and_metadata(path, expected):
    plan = import_plan(path)
    assert [t.path for t in plan.topics] == expected["topics"]
    assert plan.issuer == expected["issuer"]
    assert plan.year == expected["year"]
    assert plan.quality.garbled is expected["garbled"]
    assert plan.mentions_loudspeakers is expected["mentions_loudspeakers"]


def test_garbled_plan_is_flagged_and_its_drafts_refused(tmp_path, capsys):
    ocr = Path(__file__).parent / "data/unseen_plans/ocr-e-2026.txt"
    out = tmp_path / "b.yaml"
    assert main(["plan", "import", str(ocr), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "Cảnh báo" in err and str(ocr) in err and "số chữ có dấu" in err
    assert main(["bulletin", "approve", str(out), "IV.1.a", "--by", "An"]) == 2
    assert "bị lỗi chữ" in capsys.readouterr().err
