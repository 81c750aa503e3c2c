"""The whole job in a real browser on a real console, aired by the real daemon (issue 12):
an editor uploads a plan, drafts, edits, listens, submits; the leader approves; the editor
schedules a session at the next whole minute for two villages; `loa run` plays it into the
PulseAudio null sink; Nhật ký shows it and its XLSX opens with that row."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from helpers import loa_env, start_daemon

from console.walk import VILLAGES, ZONES, PageMissing, prepare_station, stop_daemon, walk
from loa.log.labels import STATUS_VI


@pytest.mark.parametrize("hour", range(24))
def test_the_walks_station_allows_a_session_soon_at_any_hour(tmp_path, hour):
    from loa.clock import DEFAULT_TZ
    from loa.schedule import load_schedule

    now = datetime(2026, 11, 30, hour, 59, tzinfo=DEFAULT_TZ)
    schedule = load_schedule(prepare_station(tmp_path, now))  # loads: the samples' sessions
    quiet = schedule.station.quiet_hours                        # are not in the quiet hours
    for t in (now, now + timedelta(minutes=3)):
        assert not quiet.contains(t.time()), (hour, quiet)
    assert schedule.station.engines == ("espeak",)


@pytest.mark.browser
@pytest.mark.audio
def test_the_whole_job_on_a_phone_is_aired_and_logged(pulse, live_console, browser, tmp_path):
    schedule = prepare_station(tmp_path / "schedules")
    data = tmp_path / "data"
    live = live_console(schedule=schedule, data=data, env=pulse.env)
    daemon = start_daemon(loa_env(data, pulse.env), schedule)
    try:
        try:
            res = walk(browser, live)
        except PageMissing as exc:  # a page of issue 12 not merged into this branch yet
            pytest.skip(f"console page missing: {exc}")
    finally:
        err = stop_daemon(daemon)
    assert "Traceback" not in err, err

    # Nghe thử: the page's player loaded the real clip, as long as the file says
    assert res.wav_in_clips, "the WAV the page played is not a clip of the data folder"
    assert abs(res.audio_duration_s - res.wav_duration_s) < 0.1, (
        res.audio_duration_s, res.wav_duration_s)
    assert 3 < res.wav_duration_s < 30  # the edited short text, not the plan's long one

    # the week calendar shows the new session with its time, title and villages by name
    for shown in (res.session_at.strftime("%H:%M"), res.title, *VILLAGES):
        assert shown in res.week_text, shown

    # the daemon aired it once per village, at the session's time, and logged it played
    assert sorted(r.zone for r in res.played) == sorted(ZONES), (res.played, err)
    for row in res.played:
        assert row.status == "played", (row.status, row.reason)
        assert datetime.fromisoformat(row.scheduled_at) == res.session_at, row.scheduled_at
        assert row.bulletin == res.bulletin_id and row.kind == "lich"

    # Nhật ký shows it by title and village names, with the played label
    for name in (res.title, *VILLAGES):
        assert name in res.logbook_text, name
    assert STATUS_VI["played"] in res.logbook_text.lower()  # "Đã phát" in a table cell
    for zone in ZONES:  # names, not ids
        assert zone not in res.logbook_text

    # the XLSX downloaded from the page has those rows
    assert len(res.xlsx_rows) >= 2, res.xlsx_rows
    cells = {str(c) for row in res.xlsx_rows for c in row if c is not None}
    assert set(VILLAGES) <= cells, cells
    assert STATUS_VI["played"] in {c.lower() for c in cells}, cells

    # every page visited was photographed at 390 px without sideways overflow
    assert len(res.screenshots) >= 14 and all(p.stat().st_size > 0 for p in res.screenshots)
    print(f"walk {res.seconds:.1f} s: {res.steps}")
