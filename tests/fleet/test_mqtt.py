"""Emergency push over a real Mosquitto (dynsec): delivery, sessions, ACLs, revocation."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest

from loa.errors import LoaError
from loa.fleet import mqtt as fm
from loa.fleet.mqtt import BrokerAdmin, DeviceBus, FleetBus, parse_url, wait_until

WAIT = 20  # generous: the tests wait on events, they never assert on durations
VN = ZoneInfo("Asia/Ho_Chi_Minh")
SERVER_USER, SERVER_PW = "loa-server", "server-secret-0123456789abcdef0123"


def now() -> datetime:
    return datetime.now(VN)


def emergency(eid: str) -> dict:
    return {"id": eid, "title": "Bão số 3", "text": "Người dân vào nơi trú ẩn an toàn.",
            "zones": [], "sent_at": now().isoformat()}


class Inbox:
    """What a callback received, with a condition to wait on."""

    def __init__(self):
        self.items: list = []
        self.cond = threading.Condition()

    def __call__(self, *args):
        with self.cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=WAIT) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.items), timeout)


@pytest.fixture
def fleet(broker):
    """The broker set up as the server does: device role, the server's client, a bus."""
    started: list = []
    admin = BrokerAdmin(broker.url)
    admin.ensure_device_role()
    admin.ensure_server(SERVER_USER, SERVER_PW)
    server_url = f"mqtt://{SERVER_USER}:{SERVER_PW}@127.0.0.1:{broker.port}"

    class Fleet:
        def __init__(self):
            self.broker, self.admin, self.server_url = broker, admin, server_url
            self.acks = Inbox()

        def server(self, acks=None) -> FleetBus:
            bus = FleetBus(server_url, acks or self.acks)
            bus.start()
            started.append(bus)
            assert bus.wait_connected(WAIT)
            return bus

        def device(self, device_id, token, inbox=None, wait=True) -> DeviceBus:
            bus = DeviceBus("127.0.0.1", broker.port, device_id, token, inbox or Inbox())
            bus.start()
            started.append(bus)
            if wait:
                assert bus.wait_connected(WAIT), bus.last_error
            return bus

    yield Fleet()
    for bus in started:
        bus.stop()
    admin.close()


def raw_client(port, username, password, client_id):
    """A bare paho client, to try what DeviceBus never would."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(username, password)
    got, subacks, connected = Inbox(), Inbox(), threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.on_message = lambda client, ud, msg: got((msg.topic, msg.payload))
    c.on_subscribe = lambda client, ud, mid, codes, props: subacks((mid, codes))
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert connected.wait(WAIT)
    return c, got, subacks


# --- URLs -------------------------------------------------------------------------------

def test_parse_url_plain_tls_and_ca():
    u = parse_url("mqtt://loa-admin:p%40ss%3Aw@broker.tinh.vn:1884")
    assert (u.host, u.port, u.username, u.password, u.tls, u.ca) == (
        "broker.tinh.vn", 1884, "loa-admin", "p@ss:w", False, None)
    t = parse_url("mqtts://srv:pw@10.0.0.5?ca=/etc/loa/ca.pem")
    assert (t.host, t.port, t.tls, t.ca) == ("10.0.0.5", 8883, True, "/etc/loa/ca.pem")
    assert parse_url("mqtt://h").port == 1883
    assert "pw" not in repr(t)


@pytest.mark.parametrize("bad", ["http://h:1883", "mqtt://", "mqtt://h:notaport", "h:1883"])
def test_parse_url_refuses_in_vietnamese(bad):
    with pytest.raises(LoaError) as err:
        parse_url(bad)
    assert "máy chủ MQTT" in str(err.value)


def test_parse_url_error_hides_password():
    with pytest.raises(LoaError) as err:
        parse_url("http://admin:topsecret@h:1883")
    assert "topsecret" not in str(err.value)


def test_admin_with_wrong_password_is_a_vietnamese_error(broker):
    with pytest.raises(LoaError) as err:
        BrokerAdmin(f"mqtt://{broker.admin}:wrong@127.0.0.1:{broker.port}", timeout=5)
    assert "không nhận tài khoản quản trị" in str(err.value)


# --- delivery ---------------------------------------------------------------------------

def test_emergency_reaches_device_and_ack_reaches_server(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    fleet.admin.add_device("cum-2", "token-2")
    server = fleet.server()
    one, two = Inbox(), Inbox()
    d1 = fleet.device("cum-1", "token-1", one)
    fleet.device("cum-2", "token-2", two)

    server.publish_emergency(["cum-1"], emergency("e1"))
    server.publish_emergency(["cum-1", "cum-2"], emergency("e2"))
    assert one.wait_for(lambda items: len(items) == 2)
    assert [e["id"] for e in one.items] == ["e1", "e2"]
    assert one.items[0]["title"] == "Bão số 3"
    assert two.wait_for(lambda items: len(items) == 1)
    assert two.items[0]["id"] == "e2"  # cum-2 was not sent e1

    assert d1.ack("e1", "started", now(), "loa 1")
    assert fleet.acks.wait_for(lambda items: len(items) == 1)
    device, payload = fleet.acks.items[0]
    assert device == "cum-1"
    assert payload["id"] == "e1" and payload["stage"] == "started"
    assert payload["detail"] == "loa 1"
    assert datetime.fromisoformat(payload["at"]).utcoffset() is not None


def test_same_emergency_twice_reaches_the_player_once(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    server = fleet.server()
    inbox = Inbox()
    fleet.device("cum-1", "token-1", inbox)
    for eid in ("e1", "e1", "e2", "e1"):
        server.publish_emergency(["cum-1"], emergency(eid))
    # e3 comes after all the repeats on the same topic, so once it is here they all were
    server.publish_emergency(["cum-1"], emergency("e3"))
    assert inbox.wait_for(lambda items: any(e["id"] == "e3" for e in items))
    assert [e["id"] for e in inbox.items] == ["e1", "e2", "e3"]


def test_dedupe_memory_is_bounded():
    bus = DeviceBus("127.0.0.1", 1, "cum-1", "t", lambda e: None)

    class Msg:
        topic = fm.khan_cap_topic("cum-1")

    for i in range(fm.SEEN_IDS + 50):
        Msg.payload = json.dumps({"id": f"e{i}"}).encode()
        bus._on_message(None, None, Msg)
    assert len(bus._seen) == fm.SEEN_IDS
    assert "e0" not in bus._seen and f"e{fm.SEEN_IDS + 49}" in bus._seen


def test_failing_callbacks_and_bad_payloads_do_not_stop_the_bus(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    server = fleet.server()
    got = Inbox()

    def on_emergency(e):
        got(e)
        if e["id"] == "boom":
            raise RuntimeError("player broke")

    d = fleet.device("cum-1", "token-1", on_emergency)
    server._client.publish(fm.khan_cap_topic("cum-1"), b"\xff not json", qos=1)
    server._client.publish(fm.khan_cap_topic("cum-1"), b'["no", "id"]', qos=1)
    server.publish_emergency(["cum-1"], emergency("boom"))
    server.publish_emergency(["cum-1"], emergency("after"))
    assert got.wait_for(lambda items: len(items) == 2)
    assert [e["id"] for e in got.items] == ["boom", "after"]
    assert d.connected


def test_server_callback_failure_does_not_stop_acks(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    acks = Inbox()

    def on_ack(device, payload):
        acks(payload)
        if payload["stage"] == "received":
            raise RuntimeError("database down")

    fleet.server(on_ack)
    d = fleet.device("cum-1", "token-1")
    d.ack("e1", "received", now())
    d.ack("e1", "finished", now())
    assert acks.wait_for(lambda items: len(items) == 2)
    assert [a["stage"] for a in acks.items] == ["received", "finished"]


def test_ack_refuses_unknown_stage_and_naive_time(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    d = fleet.device("cum-1", "token-1")
    with pytest.raises(ValueError):
        d.ack("e1", "done", now())
    with pytest.raises(ValueError):
        d.ack("e1", "started", datetime.now())


def test_device_ids_that_break_topics_are_refused(fleet):
    for bad in ("a/b", "+", "#", "%u", ""):
        with pytest.raises(ValueError):
            fleet.admin.add_device(bad, "t")


# --- persistent sessions and broker restarts -----------------------------------------------

def test_emergency_sent_while_device_offline_arrives_on_reconnect(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    server = fleet.server()
    first = fleet.device("cum-1", "token-1")
    first.stop()  # the broker keeps its session: subscription and what comes next

    server.publish_emergency(["cum-1"], emergency("e-offline"))
    assert wait_until(lambda: server.in_flight() == 0, WAIT)  # the broker holds it now

    inbox = Inbox()
    fleet.device("cum-1", "token-1", inbox)  # a new process: same client id, same session
    assert inbox.wait_for(lambda items: len(items) >= 1)
    server.publish_emergency(["cum-1"], emergency("e-next"))
    assert inbox.wait_for(lambda items: any(e["id"] == "e-next" for e in items))
    assert [e["id"] for e in inbox.items] == ["e-offline", "e-next"]


def test_acks_sent_while_server_offline_arrive_when_it_returns(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    server = fleet.server()
    d = fleet.device("cum-1", "token-1")
    server.stop()
    assert d.ack("e1", "finished", now())
    acks = Inbox()
    fleet.server(acks)  # same client id "loa-server": the broker kept its session
    assert acks.wait_for(lambda items: len(items) == 1)
    assert acks.items[0][0] == "cum-1" and acks.items[0][1]["stage"] == "finished"


def test_broker_restart_during_an_emergency(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    server = fleet.server()
    inbox = Inbox()
    d = fleet.device("cum-1", "token-1", inbox)
    d.stop()
    server.publish_emergency(["cum-1"], emergency("e-storm"))
    assert wait_until(lambda: server.in_flight() == 0, WAIT)

    fleet.broker.restart()  # persistence on: the queued message and both sessions survive
    d.start()
    assert inbox.wait_for(lambda items: len(items) >= 1)
    assert d.ack("e-storm", "received", now())
    assert d.ack("e-storm", "started", now())

    fleet.broker.stop()  # down while it plays: the finish is kept by paho
    assert wait_until(lambda: not d.connected, WAIT)
    assert d.ack("e-storm", "finished", now()) is False
    fleet.broker.start()
    assert d.wait_connected(WAIT) and server.wait_connected(WAIT)

    server.publish_emergency(["cum-1"], emergency("e-after"))
    assert inbox.wait_for(lambda items: any(e["id"] == "e-after" for e in items))
    assert [e["id"] for e in inbox.items] == ["e-storm", "e-after"]  # exactly once
    stages = lambda items: [p["stage"] for _, p in items if p["id"] == "e-storm"]  # noqa: E731
    assert fleet.acks.wait_for(lambda items: "finished" in stages(items))
    assert set(stages(fleet.acks.items)) == {"received", "started", "finished"}


def test_device_started_while_broker_down_connects_when_it_comes_up(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    fleet.broker.stop()
    d = fleet.device("cum-1", "token-1", wait=False)
    assert not d.connected
    fleet.broker.start()
    assert d.wait_connected(WAIT + 60)  # paho's backoff may have grown while it was down


# --- ACLs and revocation ----------------------------------------------------------------

def test_a_device_cannot_read_or_write_another_devices_topics(fleet):
    fleet.admin.add_device("cum-a", "token-a")
    fleet.admin.add_device("cum-b", "token-b")
    server = fleet.server()
    b_inbox = Inbox()
    fleet.device("cum-b", "token-b", b_inbox)

    spy, spied, subacks = raw_client(fleet.broker.port, "cum-a", "token-a", "loa-cum-a")
    try:
        for topic in (fm.khan_cap_topic("cum-b"), "loa/p/+/khan-cap", "#", fm.ack_topic("cum-b")):
            spy.subscribe(topic, qos=1)
        assert subacks.wait_for(lambda items: len(items) == 4)
        for _, codes in subacks.items:
            assert [c.value for c in codes] == [0x87]  # Not authorized
        spy.subscribe(fm.khan_cap_topic("cum-a"), qos=1)  # its own: allowed
        assert subacks.wait_for(lambda items: len(items) == 5)
        assert not subacks.items[4][1][0].is_failure

        # forged ack for b, forged emergency to b and to itself: all dropped by the broker
        spy.publish(fm.ack_topic("cum-b"), json.dumps(
            {"id": "e1", "stage": "finished", "at": now().isoformat(), "detail": "forged"}), qos=1)
        spy.publish(fm.khan_cap_topic("cum-b"), json.dumps(emergency("forged")), qos=1)
        spy.publish(fm.khan_cap_topic("cum-a"), json.dumps(emergency("self-forged")), qos=1)
        # then its own ack, allowed: it arrives after the forged one would have
        spy.publish(fm.ack_topic("cum-a"), json.dumps(
            {"id": "e1", "stage": "received", "at": now().isoformat(), "detail": ""}), qos=1)
        assert fleet.acks.wait_for(lambda items: len(items) >= 1)
        assert fleet.acks.items == [("cum-a", fleet.acks.items[0][1])]
        assert fleet.acks.items[0][1]["stage"] == "received"

        server.publish_emergency(["cum-b"], emergency("real"))
        assert b_inbox.wait_for(lambda items: len(items) >= 1)
        assert [e["id"] for e in b_inbox.items] == ["real"]
        server.publish_emergency(["cum-a"], emergency("for-a"))
        assert spied.wait_for(lambda items: len(items) >= 1)
        # its self-forged emergency was dropped before the server's real one came
        assert [json.loads(p)["id"] for _, p in spied.items] == ["for-a"]
    finally:
        spy.disconnect()
        spy.loop_stop()


def test_a_device_may_not_use_another_client_id(fleet):
    fleet.admin.add_device("cum-a", "token-a")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="loa-cum-b",
                    protocol=mqtt.MQTTv5)
    c.username_pw_set("cum-a", "token-a")
    codes = Inbox()
    c.on_connect = lambda client, ud, flags, rc, props: codes(rc)
    c.connect("127.0.0.1", fleet.broker.port)
    c.loop_start()
    try:
        assert codes.wait_for(lambda items: len(items) >= 1)
        assert codes.items[0].is_failure
    finally:
        c.loop_stop()


def test_removed_device_is_disconnected_and_cannot_return(fleet):
    fleet.admin.add_device("cum-1", "token-1")
    d = fleet.device("cum-1", "token-1")
    fleet.admin.remove_device("cum-1")
    assert wait_until(lambda: not d.connected, WAIT)
    assert wait_until(lambda: d.refused is not None, WAIT + 60)
    assert "authorized" in d.refused.lower()
    assert not d.connected
    fleet.admin.remove_device("cum-1")  # idempotent


def test_reenrolment_replaces_the_token(fleet):
    fleet.admin.add_device("cum-1", "old-token")
    fleet.admin.add_device("cum-1", "new-token")
    fleet.admin.add_device("cum-1", "new-token")  # idempotent
    old = fleet.device("cum-1", "old-token", wait=False)
    assert wait_until(lambda: old.refused is not None, WAIT)
    old.stop()
    inbox = Inbox()
    fleet.device("cum-1", "new-token", inbox)
    fleet.server().publish_emergency(["cum-1"], emergency("e1"))
    assert inbox.wait_for(lambda items: len(items) == 1)


def test_a_burst_of_acks_beyond_the_brokers_queue_all_reach_a_slow_server(fleet):
    """3,000 acks at once (a province's clusters, three stages each) to a server whose
    handler is slow: Mosquitto queues at most 1,000 for a client beyond its 20 in flight
    and drops the rest, unless the client announces its receive maximum (FleetBus does)."""
    import time

    n = 3000
    heard: list = []

    def slow(device_id, payload):
        heard.append(payload["detail"])
        time.sleep(0.001)

    fleet.admin.add_device("cum-1", "token-1")
    fleet.server(slow)
    dev = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=fm.client_id_for("cum-1"),
                      protocol=mqtt.MQTTv5)
    dev.username_pw_set("cum-1", "token-1")
    dev.max_inflight_messages_set(0)
    dev.connect("127.0.0.1", fleet.broker.port)
    dev.loop_start()
    try:
        sent = [dev.publish(fm.ack_topic("cum-1"), json.dumps(
            {"id": "e-1", "stage": "received", "at": now().isoformat(), "detail": str(i)}),
            qos=1) for i in range(n)]
        for info in sent:
            info.wait_for_publish(WAIT)
        assert all(info.rc == mqtt.MQTT_ERR_SUCCESS for info in sent)
        assert wait_until(lambda: len(heard) >= n, WAIT + n * 0.002)
        assert sorted(map(int, heard)) == list(range(n))
    finally:
        dev.disconnect()
        dev.loop_stop()
