from __future__ import annotations

import subprocess
import sys


def test_demo_runs_end_to_end_offline_and_exits(data_dir, tmp_path):
    """No sound card and no Google here: the demo must say so, write WAVs and log the plays."""
    env = {"PATH": "/usr/bin:/bin", "LOA_DATA_DIR": str(data_dir), "HOME": str(tmp_path),
           "LOA_GTTS_TIMEOUT": "3", "LOA_GTTS_ENDPOINT": "http://127.0.0.1:9/unreachable"}
    proc = subprocess.run([sys.executable, "-m", "loa", "demo", "--sink", "wav"], env=env,
                          capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "17 nội dung trong mục IV" in out
    # the drafts ask for what the plan lacks; the demo adds it, as the officer would, then approves
    assert "bổ sung điều bà con cần biết vào 2 bản tin (chỗ [CẦN BỔ SUNG: …])" in out
    assert "bộ đọc espeak (bộ đọc dự phòng" in out
    assert "ghi thành tệp WAV" in out
    assert "Xong: 4/4 lượt phát thành công" in out
    played = list((data_dir / "demo" / "played").glob("*.wav"))
    assert len(played) == 2  # two bulletins, one device serving both zones
    from docx import Document
    from openpyxl import load_workbook

    book = load_workbook(data_dir / "demo" / "nhat-ky.xlsx")
    assert book["Nhật ký phát"].max_row == 5  # header + the 4 plays
    (report,) = (data_dir / "demo").glob("bao-cao-*.docx")
    text = "\n".join(p.text for p in Document(report).paragraphs)
    assert "đã phát 4 lượt bản tin trên tổng số 4 lượt theo lịch" in text
    assert "Traceback" not in proc.stderr
