"""What the CLI prints cannot drive the officer's terminal: a file name or a plan's text
with escape sequences is shown without its control characters."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_an_escape_sequence_in_a_file_name_does_not_reach_the_terminal(tmp_path):
    name = "ke-hoach\x1b]0;pwned\x07\x1b[31m.txt"
    (tmp_path / name).write_text("KẾ HOẠCH\n", encoding="utf-8")  # no topics: an error
    missing = tmp_path / ("khong-co\x1b[2J.txt")
    for target in (tmp_path / name, missing):
        proc = subprocess.run([sys.executable, "-m", "loa", "plan", "import", str(target)],
                              capture_output=True, text=True, cwd=REPO, stdin=subprocess.DEVNULL)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("Lỗi: "), proc.stderr
        assert "Traceback" not in proc.stderr
        assert not any(c in proc.stderr + proc.stdout for c in "\x1b\x07"), repr(proc.stderr)
        assert "khong-co" in proc.stderr or "ke-hoach" in proc.stderr
