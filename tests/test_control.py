"""The control channel's sending side (`loa status`, `loa now`) and what `loa run` says."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from fakeclock import FakeClock

from loa.clock import DEFAULT_TZ
from loa.errors import LoaError
from loa.player import control
from loa.yamlio import write_yaml

AT = datetime(2026, 4, 1, 6, 30, tzinfo=DEFAULT_TZ)



def _beat(data: Path, at: datetime) -> None:
    (data / "control").mkdir(parents=True, exist_ok=True)
    control.write_heartbeat(data / "control", at, data / "lich.yaml",
                            {"thon-doai": "Thôn Đoài"}, 2)


def test_one_staleness_rule_for_the_daemon_state(tmp_path):
    _beat(tmp_path, AT)
    with control.DaemonLock(tmp_path, FakeClock(AT)):
        fresh = control.daemon_state(tmp_path, FakeClock(AT + timedelta(seconds=3)))
        assert fresh.running and not fresh.stale and fresh.age == pytest.approx(3.0)
        assert fresh.zones == {"thon-doai": "Thôn Đoài"} and fresh.locked_by
        edge = control.daemon_state(tmp_path, FakeClock(AT + timedelta(seconds=control.STALE_S)))
        assert edge.running
        stuck = control.daemon_state(
            tmp_path, FakeClock(AT + timedelta(seconds=control.STALE_S + 0.5)))
        assert stuck.stale and not stuck.running
    # lock released (the daemon died): a fresh heartbeat does not make it running
    gone = control.daemon_state(tmp_path, FakeClock(AT + timedelta(seconds=1)))
    assert gone.locked_by is None and not gone.running and gone.stale


def test_no_daemon_no_emergency_and_unknown_zone_named(tmp_path):
    with pytest.raises(LoaError, match="không thấy 'loa run' đang chạy"):
        control.emergency_target(tmp_path, [], FakeClock(AT))
    _beat(tmp_path, AT)
    with control.DaemonLock(tmp_path, FakeClock(AT)):
        target = control.emergency_target(tmp_path, ["thôn đoài"], FakeClock(AT))
        assert target.zones == ("thon-doai",)
        with pytest.raises(LoaError, match="không có vùng 'Thôn Đông'"):
            control.emergency_target(tmp_path, ["Thôn Đông"], FakeClock(AT))


def test_an_unanswered_emergency_is_withdrawn_and_will_not_play(tmp_path):
    _beat(tmp_path, AT)
    with control.DaemonLock(tmp_path, FakeClock(AT)):
        clock = FakeClock(AT)
        target = control.emergency_target(tmp_path, [], clock)
        with pytest.raises(LoaError, match="KHÔNG được phát"):
            control.send_emergency(target, "Bão", "Bão sắp đổ bộ.", timeout_s=2, clock=clock)
    assert list((tmp_path / "control" / "requests").iterdir()) == []  # nothing left to claim
    assert clock.now() - AT >= timedelta(seconds=2)  # it waited on the injected clock


def _soon(lead_s: float, run_s: float) -> datetime:
    """A whole second `lead_s` from now, moved on if a run of `run_s` would cross midnight."""
    at = (datetime.now(DEFAULT_TZ) + timedelta(seconds=lead_s)).replace(microsecond=0)
    if at.date() != (at + timedelta(seconds=run_s)).date():
        at += timedelta(seconds=run_s + 30)
    return at


def test_loa_run_prints_each_play_and_the_true_next_play(tmp_path):
    early = _soon(15, 60)
    late = early + timedelta(seconds=4)
    write_yaml(tmp_path / "bulletins.yaml", {"plan": {"id": "ba-vi-2026"}, "bulletins": [
        {"id": "IV.2.a", "title": "Tiêm phòng cho đàn vật nuôi", "status": "approved",
         "text": "Bà con đưa trâu bò đi tiêm phòng."}]})
    # the session ids sort the other way round from their times
    write_yaml(tmp_path / "lich.yaml", {
        "station": {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["espeak"]},
        "zones": [{"id": "thon-doai", "name": "Thôn Đoài"},
                  {"id": "thon-dong", "name": "Thôn Đông"}],
        "sessions": [
            {"id": "a-muon", "name": "Buổi muộn", "time": late.strftime("%H:%M:%S"),
             "zones": ["thon-doai"]},
            {"id": "z-som", "name": "Buổi sớm", "time": early.strftime("%H:%M:%S"),
             "zones": ["thon-doai", "thon-dong"]}],
        "programs": [{"id": "p", "name": "Thử", "bulletins": "bulletins.yaml",
                      "sessions": ["a-muon", "z-som"], "from": early.date().isoformat(),
                      "until": early.date().isoformat()}],
    })
    env = {"PATH": "/usr/bin:/bin", "LOA_DATA_DIR": str(tmp_path / "data"),
           "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-m", "loa", "run", str(tmp_path / "lich.yaml"), "--sink", "wav",
         "--fast", "--wav-dir", str(tmp_path / "played"), "--until-idle", "--no-time-sync"],
        env=env, capture_output=True, text=True, timeout=120).stdout
    lines = out.splitlines()
    nexts = [x for x in lines if x.startswith("Buổi phát tiếp theo:")]
    assert nexts[0].endswith(f"{early:%d/%m/%Y %H:%M}  Buổi sớm — Thôn Đoài, Thôn Đông."), out
    assert any(x.endswith(f"{late:%d/%m/%Y %H:%M}  Buổi muộn — Thôn Đoài.") for x in nexts)
    played = [x for x in lines if "«Tiêm phòng cho đàn vật nuôi»" in x]
    assert [x[8:] for x in played] == [
        "  Thôn Đoài, Thôn Đông — «Tiêm phòng cho đàn vật nuôi» — đã phát",
        "  Thôn Đoài — «Tiêm phòng cho đàn vật nuôi» — đã phát"], out
    # each line starts with the time it went on air (on time: within 30 s of the minute)
    for line, at in zip(played, (early, late), strict=True):
        aired = datetime.combine(at.date(), time.fromisoformat(line[:8]), DEFAULT_TZ)
        assert timedelta(0) <= aired - at <= timedelta(seconds=30), (line, at)
    assert lines.index(nexts[0]) < lines.index(played[0])
    assert "Không còn buổi phát nào trong 36 giờ tới." in lines
