"""The issue's whole loop in one run: a province server on PostgreSQL with Mosquitto, two
communes, three enrolled `loa run --server` players on the PulseAudio null sink.

Schedules are published on the server; the server then goes away (the players play the
session from their bundles with no server at all); it comes back and every play arrives
exactly once; an emergency is acknowledged by every player; the province account's report
(XLSX over HTTP, logged in like an officer) counts each commune's plays."""

from __future__ import annotations

import http.cookiejar
import io
import re
import urllib.parse
import urllib.request
from datetime import datetime

import pytest
from helpers import heartbeat_up, rows_in, soon, wait_for

from fleet.server_rig import add_province_admin, province_server
from fleet.test_player_fleet import (
    current_etag,
    enroll,
    latest_manifest,
    player_env,
    publish,
    sql,
    start_player,
    stop_player,
    write_schedule,
)

PASSWORD = "Loa-kiem-thu-2026"
STATIONS = {"xa-ba-vi": "Đài xã Ba Vì", "xa-tan-lap": "Đài xã Tân Lập"}
# (station, cluster name, zone): two clusters in Ba Vì, one in Tân Lập
PLAYERS = [("xa-ba-vi", "Cụm loa thôn 1", "thon-1"), ("xa-ba-vi", "Cụm loa thôn 2", "thon-2"),
           ("xa-tan-lap", "Cụm loa thôn 3", "thon-3")]


@pytest.fixture
def province(postgres):
    for rig in province_server(postgres, "loa-loop-", STATIONS):
        add_province_admin(rig, "tinh", "Hoàng Văn Tỉnh", PASSWORD)
        yield rig


def officer(rig) -> urllib.request.OpenerDirector:
    """An opener logged in as the province account through the real login form."""
    jar = http.cookiejar.CookieJar()
    web = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = web.open(rig.url + "/dang-nhap/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "tinh",
                                   "password": PASSWORD}).encode()
    landed = web.open(urllib.request.Request(rig.url + "/dang-nhap/", data=form,
                                             headers={"Referer": rig.url + "/dang-nhap/"}),
                      timeout=30)
    assert "/dang-nhap/" not in landed.url
    return web


def test_province_server_three_players_offline_playback_exactly_once_emergency_and_report(
        province, pulse, tmp_path):
    rig = province
    players = {}
    for i, (slug, name, zone) in enumerate(PLAYERS, 1):
        data = tmp_path / f"player{i}"
        env = player_env(data, pulse.env)
        dev = enroll(rig, env, slug, name, zone)
        players[dev["device"]] = (data, env, slug, zone)
    # each commune's schedule; the players start on a session hours away...
    far = soon(3 * 3600, run_s=600)
    for slug in STATIONS:
        publish(rig, slug, write_schedule(tmp_path / slug / "v1", {"s": far}))
    procs = {d: start_player(rig, env) for d, (_, env, _, _) in players.items()}
    try:
        def installed(etags):
            return all(current_etag(data) == etags[slug] and heartbeat_up(data)
                       for data, _, slug, _ in players.values())
        v1 = {slug: latest_manifest(rig, slug)["version"] for slug in STATIONS}
        assert wait_for(lambda: installed(v1), 90)
        # ...then the session they will play, published while they run
        at = soon(30, run_s=150)
        for slug in STATIONS:
            publish(rig, slug, write_schedule(tmp_path / slug / "v2", {"s": at}))
        v2 = {slug: latest_manifest(rig, slug)["version"] for slug in STATIONS}
        assert wait_for(lambda: installed(v2), 20)
        # the server goes away before the session: the players play from their bundles
        rig.kill9()
        assert datetime.now(at.tzinfo) < at, "the players were too slow to take the bundle"
        assert wait_for(lambda: all([r.status for r in rows_in(data)] == ["played"]
                                    for data, _, _, _ in players.values()), 150)
        for data, _, _, zone in players.values():
            (row,) = rows_in(data)
            assert (row.zone, row.status) == (zone, "played")
            assert abs((datetime.fromisoformat(row.started_at) - at).total_seconds()) < 1
        assert sql(rig, "SELECT count(*) FROM fleet_play") == [(0,)]

        # back: every row arrives, once
        rig.start()

        def server_rows():
            return sql(rig, "SELECT p.device_id, s.slug, p.zone, p.status FROM fleet_play p "
                            "JOIN fleet_station s ON s.id = p.station_id")
        assert wait_for(lambda: len(server_rows()) >= 3, 90), server_rows()
        assert sorted(server_rows()) == sorted((d, slug, zone, "played")
                                               for d, (_, _, slug, zone) in players.items())

        # an emergency to the whole province: every player acknowledges start and finish
        sent = rig.fleet("emergency", "Lũ trên sông Bé đang lên, bà con di dời tài sản.",
                         "--title", "Lũ sông Bé", "--all")
        assert sent.returncode == 0, sent.stderr

        def acks():
            return sql(rig, "SELECT device_id, received_at, started_at, finished_at, failed_at "
                            "FROM fleet_delivery")
        assert wait_for(lambda: len(acks()) == 3 and all(a[3] for a in acks()), 120), acks()
        for dev, received, started, finished, failed in acks():
            assert dev in players and failed is None and received <= started <= finished
        assert wait_for(lambda: len(server_rows()) == 6, 60), server_rows()
        per_device = sql(rig, "SELECT device_id, count(*), count(DISTINCT play_key) "
                              "FROM fleet_play GROUP BY device_id")
        assert sorted(per_device) == sorted((d, 2, 2) for d in players)
    finally:
        outs = {d: stop_player(p) for d, p in procs.items()}
    for d, proc in procs.items():
        out, err = outs[d]
        assert proc.returncode == 0 and "Traceback" not in err, err

    # the province report across stations, as the province officer downloads it
    import openpyxl

    day = at.date().isoformat()
    web = officer(rig)
    query = urllib.parse.urlencode({"ky": "khoang", "tu": day, "den": day, "tai": "xlsx",
                                    "ke_hoach": "ba-vi-2026"})
    xlsx = web.open(f"{rig.url}/bao-cao/?{query}", timeout=60).read()
    ws = openpyxl.load_workbook(io.BytesIO(xlsx))["Theo xã"]
    body = {r[0]: r for r in ([c.value for c in row] for row in ws.iter_rows(min_row=4))}
    # aired counts the schedule's play and the emergency's, per commune; the plan's one
    # topic aired in both
    assert body["Đài xã Ba Vì"][1:4] == [4, 0, 0]
    assert body["Đài xã Tân Lập"][1:4] == [2, 0, 0]
    assert body["Tổng cộng"][1:4] == [6, 0, 0]
    assert body["Đài xã Ba Vì"][5:] == [1, 100.0] and body["Đài xã Tân Lập"][5:] == [1, 100.0]
