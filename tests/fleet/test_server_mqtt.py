"""`loa serve --database ... --mqtt ...`: the server process pushes emergencies to enrolled
devices over a real Mosquitto, records their MQTT acks in PostgreSQL, and takes a revoked
device's credentials off the broker."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fleet.server_rig import serve, sql
from loa.fleet.mqtt import DeviceBus, wait_until

WAIT = 30  # generous: wait on conditions, never assert on durations
VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def rig(pg_db, broker, tmp_path):
    yield from serve(pg_db, tmp_path / "server", 's.add_station("xa-ba-vi", "Đài xã Ba Vì")\n'
                     's.add_station("xa-tan-lap", "Đài xã Tân Lập")\n', extra=["--mqtt", broker.url])


class Player:
    """An enrolled device's MQTT side (what `loa run --server` runs), with its inbox."""

    def __init__(self, rig, station: str, name: str):
        self.answer = rig.enroll(rig.code(station, name))
        self.id, self.token = self.answer["device"], self.answer["token"]
        self.got: list[dict] = []
        m = self.answer["mqtt"]
        self.bus = DeviceBus(m["host"], m["port"], self.id, self.token, self.got.append,
                             tls=m["tls"])
        self.bus.start()
        assert self.bus.wait_connected(WAIT)


def test_an_emergency_from_the_cli_is_pushed_and_acked_over_mqtt(rig, broker):
    a = Player(rig, "xa-ba-vi", "Cụm loa thôn Đoài")
    b = Player(rig, "xa-ba-vi", "Cụm loa thôn Bắc")
    c = Player(rig, "xa-tan-lap", "Cụm loa thôn Nam")
    try:
        assert a.answer["mqtt"] == {"host": "127.0.0.1", "port": broker.port, "tls": False}
        # sent by another process (the CLI): the serving process pushes it
        sent = rig.fleet("emergency", "Bão số 3 sắp đổ bộ.", "--title", "Bão số 3",
                         "--station", "xa-ba-vi")
        assert sent.returncode == 0, sent.stderr
        assert wait_until(lambda: a.got and b.got, WAIT)
        eid = a.got[0]["id"]
        assert a.got[0]["title"] == "Bão số 3" and b.got[0]["id"] == eid
        for p in (a, b):
            t = datetime.now(VN)
            assert p.bus.ack(eid, "received", t)
            assert p.bus.ack(eid, "started", t)
            assert p.bus.ack(eid, "finished", t, "đã phát xong")
        assert wait_until(lambda: sql(rig, "SELECT count(*) FROM fleet_delivery WHERE "
                                           "finished_at IS NOT NULL")[0][0] == 2, WAIT)
        rows = sql(rig, "SELECT d.name, x.received_at IS NOT NULL, x.started_at IS NOT NULL, "
                        "x.received_recorded_at IS NOT NULL, x.detail FROM fleet_delivery x "
                        "JOIN fleet_device d ON d.id = x.device_id ORDER BY 1")
        assert rows == [("Cụm loa thôn Bắc", True, True, True, "đã phát xong"),
                        ("Cụm loa thôn Đoài", True, True, True, "đã phát xong")]
        assert sql(rig, "SELECT sent_at IS NOT NULL FROM fleet_emergency") == [(True,)]
        # C (another station) got nothing, and its ack of A's emergency is not recorded
        assert c.bus.ack(eid, "finished", datetime.now(VN))
        assert rig.call("GET", "/api/v1/emergencies", c.token).json == {"emergencies": []}
        assert c.got == []
        assert sql(rig, "SELECT count(*) FROM fleet_delivery")[0][0] == 2
    finally:
        for p in (a, b, c):
            p.bus.stop()


def test_a_device_revoked_from_the_cli_loses_its_broker_account(rig):
    a = Player(rig, "xa-ba-vi", "Cụm loa thôn Đoài")
    b = Player(rig, "xa-ba-vi", "Cụm loa thôn Bắc")
    try:
        done = rig.fleet("revoke", a.id)
        assert done.returncode == 0, done.stderr
        # the serving process removes its MQTT client: the broker drops it and refuses it
        assert wait_until(lambda: sql(rig, "SELECT broker_removed_at IS NOT NULL FROM "
                                           "fleet_device WHERE id = %s", a.id) == [(True,)], WAIT)
        assert wait_until(lambda: not a.bus.connected, WAIT)
        assert rig.call("GET", "/api/v1/bundle", a.token).status == 401
        sent = rig.fleet("emergency", "Lũ về.", "--station", "xa-ba-vi")
        assert sent.returncode == 0 and "tới 1 cụm loa" in sent.stdout  # not the revoked one
        assert wait_until(lambda: b.got, WAIT)
        assert a.got == [] and not a.bus.connected
    finally:
        a.bus.stop()
        b.bus.stop()


def test_the_cli_wakes_the_serving_process_with_a_notification(rig):
    """`loa fleet emergency` NOTIFYs on commit and the serving process LISTENs, so the push
    does not wait for the dispatcher's next poll."""
    import psycopg

    from loa.console.fleet.service import DISPATCH_CHANNEL

    server, name = rig.pg
    a = Player(rig, "xa-ba-vi", "Cụm loa thôn Đoài")
    try:
        with psycopg.connect(server.url(name), autocommit=True) as conn:
            conn.execute(f"LISTEN {DISPATCH_CHANNEL}")
            listening = ("SELECT count(*) FROM pg_stat_activity WHERE query = "
                         f"'LISTEN {DISPATCH_CHANNEL}'")
            # the server's dispatcher and this test
            assert wait_until(lambda: sql(rig, listening)[0][0] == 2, WAIT)
            sent = rig.fleet("emergency", "Bão số 3 sắp đổ bộ.", "--station", "xa-ba-vi")
            assert sent.returncode == 0, sent.stderr
            got = list(conn.notifies(timeout=WAIT, stop_after=1))
            assert [n.channel for n in got] == [DISPATCH_CHANNEL]
        assert wait_until(lambda: a.got, WAIT)
        assert a.got[0]["text"] == "Bão số 3 sắp đổ bộ."
    finally:
        a.bus.stop()
