"""The systemd service a commune technician installs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def unit_text(tmp_path) -> tuple[str, Path]:
    out = subprocess.run([str(REPO / "scripts/install-service.sh"), "--dry-run",
                          str(REPO / "schedules/ba-vi.yaml")], capture_output=True, text=True,
                         check=True)
    path = tmp_path / "loa.service"
    path.write_text(out.stdout, encoding="utf-8")
    return out.stdout, path


def test_service_unit_is_what_the_pi_needs(tmp_path):
    text, _ = unit_text(tmp_path)
    lines = set(text.splitlines())
    assert "User=loa" in lines and "Environment=LOA_DATA_DIR=/var/lib/loa" in lines
    assert f"ExecStart={REPO}/.venv/bin/loa run /etc/loa/ba-vi.yaml" in lines
    assert "After=network-online.target time-sync.target sound.target" in lines
    assert "Restart=always" in lines and "ExecReload=/bin/kill -HUP $MAINPID" in lines
    assert "WantedBy=multi-user.target" in lines


def test_systemd_accepts_the_unit(tmp_path):
    exe = shutil.which("systemd-analyze")
    assert exe, "systemd-analyze missing"
    _, path = unit_text(tmp_path)
    done = subprocess.run([exe, "verify", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_installer_refuses_without_a_schedule():
    done = subprocess.run([str(REPO / "scripts/install-service.sh")], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "Cách dùng" in done.stderr
