"""The daemon reads backup-voice clips again with Google once it answers: between sessions,
at most every UPGRADE_EVERY, never during a session or just before one, logged."""

from __future__ import annotations

from datetime import datetime, timedelta

from fakeclock import FakeClock
from helpers import MONDAY, free_port, wait_for, write_station

from loa.player.daemon import UPGRADED
from loa.schedule import load_program_bulletins, load_schedule
from loa.station.wiring import ChildRendering

STATION = {"id": "ba-vi", "name": "Đài truyền thanh xã Ba Vì", "engines": ["gtts", "espeak"],
           "quiet_hours": "21:00-05:30", "pre_roll": 1.5, "post_roll": 0.5}


def _engines(clips: ChildRendering, bulletins) -> dict[str, str]:
    """{bulletin title: engine of the clip it airs as now}."""
    return {b.title: clips.at_air(b).engine for b in bulletins}


def test_backup_clips_upgraded_between_sessions_never_during(rig, tmp_path, data_dir,
                                                             fake_google, monkeypatch):
    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")  # Google down
    path = write_station(tmp_path, {"station": STATION})
    schedule = load_schedule(path)
    airing = load_program_bulletins(schedule)["kstthc"]
    notes: list[str] = []
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
        clips = ChildRendering(path, schedule.station, report=notes.append)
        on_air: list[bool] = []  # was a session on air as each upgraded clip was stored?

        def upgrade(bulletins, quiet, done):
            def told(b, old, new):
                on_air.append(r.player.on_air)
                done(b, old, new)
            return clips.upgrade(bulletins, quiet, told)

        r.player.clip_for, r.daemon.prepare, r.daemon.upgrade = (
            clips.at_air, clips.ahead, upgrade)
        r.daemon.start()  # renders ahead: Google is down, espeak reads both
        assert _engines(clips, airing) == {"Dịch vụ công": "espeak",
                                           "Tiện ích miễn phí": "espeak"}
        espeak_clips = {b.title: clips.at_air(b) for b in airing}

        def settled():
            assert wait_for(lambda: not r.daemon.upgrading(), 60)

        # 05:30, still down: tried, nothing changes, nothing logged
        r.go(MONDAY.replace(hour=5, minute=30))
        settled()
        assert UPGRADED not in r.event_kinds()
        assert set(_engines(clips, airing).values()) == {"espeak"}
        # Google is back at 05:35, but the last try was five minutes ago: not yet
        monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
        r.go(MONDAY.replace(hour=5, minute=35))
        assert not r.daemon.upgrading() and not fake_google.requests
        # 06:25: the 06:30 session is within the margin: no upgrade before it
        r.go(MONDAY.replace(hour=6, minute=25))
        assert not r.daemon.upgrading() and not fake_google.requests
        sang = MONDAY.replace(hour=6, minute=30)
        r.session(sang)
        # after the session (the 1 s watcher may be first): both clips are read again by
        # Google, each logged by its title
        r.go(MONDAY.replace(hour=6, minute=45))
        assert wait_for(lambda: r.event_kinds().count(UPGRADED) == 2, 60)
        settled()
        assert fake_google.requests
        assert _engines(clips, airing) == {"Dịch vụ công": "gtts", "Tiện ích miễn phí": "gtts"}
        # the espeak clips were replaced, not overwritten: intact, until `loa clips prune`
        store = clips.lookup_renderer.store
        for clip in espeak_clips.values():
            assert store.verify(clip, full=True) is None
        giua = MONDAY.replace(hour=8, minute=55)
        r.session(giua)
    events = [e for e in r.store.events(None) if e[1] == UPGRADED]
    assert sorted(e[2] for e in events) == ["đã đọc lại bằng Google: «Dịch vụ công»",
                                            "đã đọc lại bằng Google: «Tiện ích miễn phí»"]
    rows = r.rows()
    first = [x for x in rows if x.scheduled_at.startswith(sang.isoformat()[:16])]
    second = [x for x in rows if x.scheduled_at.startswith(giua.isoformat()[:16])]
    assert len(first) == 4 and {x.engine for x in first} == {"espeak"}
    assert {x.status for x in first} == {"played"}
    assert len(second) == 2 and {x.engine for x in second} == {"gtts"}
    assert {x.status for x in second} == {"played"}
    # every upgrade happened after the first session had ended, before the second began
    ended = max(datetime.fromisoformat(x.ended_at) for x in first)
    for at, _, _ in events:
        assert ended < datetime.fromisoformat(at) < giua - timedelta(minutes=10)
    assert on_air == [False, False]
    assert not notes


def test_no_upgrade_when_the_station_has_no_better_engine(rig, tmp_path, data_dir):
    """espeak alone: its clips are the station's own voice, nothing to read again."""
    path = write_station(tmp_path)  # engines: [espeak]
    schedule = load_schedule(path)
    with FakeClock(MONDAY, travel=True) as clock:
        r = rig(clock)
        clips = ChildRendering(path, schedule.station)
        r.player.clip_for, r.daemon.prepare, r.daemon.upgrade = (
            clips.at_air, clips.ahead, clips.upgrade)
        r.daemon.start()
        airing = load_program_bulletins(schedule)["kstthc"]
        assert clips.backup_voiced(airing) == {}
        r.go(MONDAY.replace(hour=5, minute=30))
        assert wait_for(lambda: not r.daemon.upgrading(), 30)
    assert UPGRADED not in r.event_kinds()


def test_a_round_stops_when_a_session_nears(tmp_path, data_dir, fake_google, monkeypatch):
    """quiet() is asked before each clip: once it says no, nothing more is read."""
    from loa.cli import main

    monkeypatch.setenv("LOA_GTTS_TIMEOUT", "2")
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", f"http://127.0.0.1:{free_port()}/x")
    path = write_station(tmp_path, {"station": STATION})
    assert main(["render", str(path)]) == 0  # both read by espeak
    monkeypatch.setenv("LOA_GTTS_ENDPOINT", fake_google.endpoint)
    schedule = load_schedule(path)
    airing = load_program_bulletins(schedule)["kstthc"]
    clips = ChildRendering(path, schedule.station)
    assert len(clips.backup_voiced(airing)) == 2
    answers = iter([True, True, False])  # the round, its first clip, then a session nears
    done: list = []
    made = clips.upgrade(airing, lambda: next(answers, False),
                         lambda b, old, new: done.append((old.engine, new.engine)))
    assert made == 1 and done == [("espeak", "gtts")]
    assert sorted(_engines(clips, airing).values()) == ["espeak", "gtts"]
    assert len(clips.backup_voiced(airing)) == 1
