"""Emergency push over MQTT (Mosquitto with the dynamic-security plugin), paho-mqtt 2.

Topics: the server publishes `loa/p/<device>/khan-cap` (QoS 1, not retained) and each
device answers on `loa/p/<device>/ack`. The device id is the MQTT username, its token the
password, its client id `loa-<device>`. Sessions are persistent (MQTT 5, clean_start False
with a session expiry), so the broker keeps what a disconnected device has not yet had.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from loa.errors import LoaError

log = logging.getLogger("loa.fleet.mqtt")

DEVICE_ROLE = "loa-device"
SERVER_ROLE = "loa-server"
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
STAGES = ("received", "started", "finished", "failed")
# A device offline this long loses its queued emergencies (it then polls the server).
SESSION_EXPIRY_S = 14 * 24 * 3600
SEEN_IDS = 4096  # emergencies remembered for de-duplication (QoS 1 is at-least-once)


def khan_cap_topic(device_id: str) -> str:
    return f"loa/p/{device_id}/khan-cap"


def ack_topic(device_id: str) -> str:
    return f"loa/p/{device_id}/ack"


def client_id_for(device_id: str) -> str:
    return f"loa-{device_id}"


def device_role(device_id: str) -> str:
    return f"{DEVICE_ROLE}-{device_id}"


def _device_acls(who: str) -> list[tuple[str, str]]:
    return [
        ("subscribeLiteral", khan_cap_topic(who)),
        ("subscribePattern", khan_cap_topic(who)),
        ("publishClientReceive", khan_cap_topic(who)),
        ("publishClientSend", ack_topic(who)),
    ]


def check_device_id(device_id: str) -> str:
    # the id is a topic level and a username: no wildcards, separators or control chars
    if (not isinstance(device_id, str) or not device_id or len(device_id) > 128
            or any(c in device_id for c in "/+#%") or not device_id.isprintable()):
        raise ValueError(f"invalid device id for MQTT: {device_id!r}")
    return device_id


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca: str | None = None

    def __repr__(self) -> str:  # never print the password
        return (f"BrokerUrl(host={self.host!r}, port={self.port}, username={self.username!r}, "
                f"tls={self.tls}, ca={self.ca!r})")


def parse_url(url: str) -> BrokerUrl:
    """`mqtt://user:pw@host:port` or `mqtts://…` (TLS; `?ca=/path/ca.pem` for a private CA)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        raise LoaError(f"Địa chỉ máy chủ MQTT không hợp lệ: {_hide_password(url)!r}.") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise LoaError(f"Địa chỉ máy chủ MQTT phải bắt đầu bằng mqtt:// hoặc mqtts://, "
                       f"không phải {_hide_password(url)!r}.")
    if not parts.hostname:
        raise LoaError(f"Địa chỉ máy chủ MQTT thiếu tên máy: {_hide_password(url)!r}.")
    tls = parts.scheme == "mqtts"
    ca = parse_qs(parts.query).get("ca", [None])[-1]
    return BrokerUrl(
        host=parts.hostname, port=port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=tls, ca=ca)


def _hide_password(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            return url.replace(":" + parts.password + "@", ":***@", 1)
    except ValueError:
        pass
    return url


def _new_client(client_id: str, username: str | None, password: str | None, tls: bool,
                ca: str | None) -> mqtt.Client:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    if tls:
        client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    # our callbacks catch their own errors; this guards paho's internals too
    client.suppress_exceptions = True
    client.enable_logger(log)
    return client


def _persistent_connect_props(receive_maximum: int | None = None) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = SESSION_EXPIRY_S
    if receive_maximum:
        props.ReceiveMaximum = receive_maximum
    return props


def _safe(what: str, fn: Callable, *args) -> None:
    """Run an application callback; its error is logged, never raised into paho's thread."""
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - the network thread must survive any callback
        log.exception("%s callback failed", what)


def _failed(reason_code) -> bool:
    return bool(getattr(reason_code, "is_failure", False))


class BrokerAdmin:
    """The server's dynsec admin: manages roles and device clients over $CONTROL."""

    def __init__(self, url: str, timeout: float = 10):
        self.url = parse_url(url)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._pending: dict[str, dict | None] = {}
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = _new_client(f"loa-admin-{uuid.uuid4().hex[:8]}", self.url.username,
                                   self.url.password, self.url.tls, self.url.ca)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *a: self._subscribed.set()
        self._client.on_message = self._on_message
        self._connect_error: str | None = None
        try:
            self._client.connect(self.url.host, self.url.port, keepalive=30)
        except OSError as exc:
            raise LoaError(f"Không kết nối được máy chủ MQTT {self.url.host}:{self.url.port}: "
                           f"{exc.strerror or exc}.") from None
        self._client.loop_start()
        if not self._subscribed.wait(timeout) or self._connect_error:
            self.close()
            raise LoaError(f"Máy chủ MQTT {self.url.host}:{self.url.port} không nhận tài khoản "
                           f"quản trị {self.url.username!r}"
                           + (f" ({self._connect_error})." if self._connect_error else "."))

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if _failed(reason_code):
            self._connect_error = str(reason_code)
            self._subscribed.set()  # wake __init__: it reports the refusal at once
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_message(self, client, userdata, msg):
        try:
            responses = json.loads(msg.payload).get("responses", [])
        except (ValueError, AttributeError):
            log.warning("unreadable dynsec response")
            return
        with self._cond:
            for resp in responses:
                cid = resp.get("correlationData")
                if cid in self._pending:
                    self._pending[cid] = resp
            self._cond.notify_all()

    def _command(self, command: str, allow_errors: tuple[str, ...] = (), **fields) -> dict:
        return self._commands([(command, allow_errors, fields)])[0]

    def _commands(self, commands: list[tuple[str, tuple[str, ...], dict]]) -> list[dict]:
        """Several dynsec commands in one $CONTROL message; their responses in order.

        Published at QoS 0: with QoS 1 the broker's PUBACK and its response go out as two
        small writes and Nagle holds the second for the client's delayed ACK (~40 ms a
        command); a lost message is a timeout here like a lost response."""
        cids = [uuid.uuid4().hex for _ in commands]
        body = {"commands": [{"command": c, "correlationData": cid, **f}
                             for cid, (c, _, f) in zip(cids, commands, strict=True)]}
        names = ", ".join(c for c, _, _ in commands)
        with self._lock:  # one message at a time: simple and plenty for enrolment
            with self._cond:
                for cid in cids:
                    self._pending[cid] = None
            info = self._client.publish(CONTROL_TOPIC, json.dumps(body), qos=0)
            with self._cond:
                done = (info.rc == mqtt.MQTT_ERR_SUCCESS and self._cond.wait_for(
                    lambda: all(self._pending[c] is not None for c in cids), self.timeout))
                responses = [self._pending.pop(c) for c in cids]
        if not done:
            raise LoaError(f"Máy chủ MQTT không trả lời lệnh quản trị {names}.")
        for (command, allow_errors, _), resp in zip(commands, responses, strict=True):
            error = resp.get("error")
            if error and not any(a.lower() in error.lower() for a in allow_errors):
                raise LoaError(f"Máy chủ MQTT từ chối lệnh {command}: {error}.")
        return responses

    def _ensure_role(self, name: str, acls: list[tuple[str, str]]) -> None:
        self._command("createRole", ("already exists",), rolename=name)
        # a role made by an older loa may hold other ACLs: reset it to exactly these
        current = self._command("getRole", rolename=name).get("data", {}).get("role", {})
        for acl in current.get("acls", []):
            self._command("removeRoleACL", ("not found",), rolename=name,
                          acltype=acl["acltype"], topic=acl["topic"])
        for acltype, topic in acls:
            self._command("addRoleACL", rolename=name, acltype=acltype, topic=topic,
                          allow=True, priority=0)

    def ensure_device_role(self) -> None:
        """Role `loa-device`: read its own khan-cap topic, write its own ack topic; nothing else
        (the broker's default denies every other publish and subscribe).

        Mosquitto 2.0's dynsec does not expand %u (2.1 does), so add_device also gives each
        device a role of its own with literal topics; on 2.0 this shared role grants nothing."""
        self._ensure_role(DEVICE_ROLE, _device_acls("%u"))

    def ensure_server(self, username: str, password: str) -> None:
        """The server's own client: publishes every khan-cap topic, reads every ack topic."""
        self._ensure_role(SERVER_ROLE, [
            ("publishClientSend", "loa/p/+/khan-cap"),
            ("subscribeLiteral", "loa/p/+/ack"),
            ("subscribePattern", "loa/p/+/ack"),
            ("publishClientReceive", "loa/p/+/ack"),
        ])
        self._ensure_client(username, password, [SERVER_ROLE], client_id=None)

    def add_device(self, device_id: str, token: str) -> None:
        """Create the device's client (or set its new password on re-enrolment)."""
        check_device_id(device_id)
        own = device_role(device_id)
        acls = _device_acls(device_id)
        roles = [DEVICE_ROLE, own]
        # a new device (the usual case): its role with its ACLs and its client in one
        # message; dynsec answers each command, "already exists" sends us the slow path
        role, client = self._commands([
            ("createRole", ("already exists",),
             {"rolename": own, "acls": [{"acltype": t, "topic": topic, "allow": True,
                                         "priority": 0} for t, topic in acls]}),
            ("createClient", ("already exists",),
             {"username": device_id, "password": token, "clientid": client_id_for(device_id),
              "roles": [{"rolename": r} for r in roles]}),
        ])
        if role.get("error"):
            self._ensure_role(own, acls)
        if client.get("error"):
            self._ensure_client(device_id, token, roles, client_id=client_id_for(device_id))

    def _ensure_client(self, username: str, password: str, roles: list[str],
                       client_id: str | None) -> None:
        extra = {"clientid": client_id} if client_id else {}
        resp = self._command("createClient", ("already exists",), username=username,
                             password=password, roles=[{"rolename": r} for r in roles],
                             **extra)
        if resp.get("error"):  # it existed: new password, and make sure of its role
            self._command("setClientPassword", username=username, password=password)
            client = self._command("getClient", username=username).get("data", {})
            held = {r.get("rolename") for r in client.get("client", {}).get("roles", [])}
            for role in roles:
                if role not in held:  # mosquitto 2.0 answers "Internal error" to a repeat
                    self._command("addClientRole", username=username, rolename=role)
            if client_id:
                self._command("setClientId", username=username, clientid=client_id)

    def remove_device(self, device_id: str) -> None:
        """Delete the device's client; the broker disconnects it and refuses it after."""
        self._commands([
            ("deleteClient", ("not found",), {"username": check_device_id(device_id)}),
            ("deleteRole", ("not found",), {"rolename": device_role(device_id)})])

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> BrokerAdmin:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Bus:
    """One persistent MQTT 5 connection that reconnects with backoff forever."""

    receive_maximum: int | None = None  # MQTT 5 CONNECT property; None: the broker's

    def __init__(self, client: mqtt.Client, host: str, port: int):
        self._client = client
        self._host, self._port = host, port
        self.connected = False
        self.last_error: str | None = None  # the broker's last refusal or drop, for health
        self.refused: str | None = None  # CONNACK failure (e.g. "Not authorized": revoked)
        self._connected_evt = threading.Event()
        client.on_connect = self._on_connect_base
        client.on_disconnect = self._on_disconnect_base
        client.on_subscribe = self._on_subscribe
        self._started = False

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        # connect_async: a broker down at start is retried by the loop thread, forever
        self._client.connect_async(self._host, self._port, keepalive=30, clean_start=False,
                                   properties=_persistent_connect_props(self.receive_maximum))
        self._client.loop_start()

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        self._client.disconnect()
        self._client.loop_stop()
        self.connected = False
        self._connected_evt.clear()

    def wait_connected(self, timeout: float) -> bool:
        """Wait until connected and subscribed (the broker's SUBACK), up to `timeout` s."""
        return self._connected_evt.wait(timeout)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if any(_failed(rc) for rc in reason_codes):
            self.last_error = f"subscribe refused: {reason_codes}"
            log.error("broker refused the subscription: %s", reason_codes)
        else:
            self._connected_evt.set()

    def _on_connect_base(self, client, userdata, flags, reason_code, properties):
        if _failed(reason_code):
            self.last_error = self.refused = str(reason_code)
            log.warning("broker refused %s: %s", client._client_id.decode(), reason_code)
            return
        self.last_error = self.refused = None
        self.connected = True
        self._on_connected(client, flags)

    def _on_disconnect_base(self, client, userdata, flags, reason_code, properties):
        self.connected = False
        self._connected_evt.clear()
        if reason_code is not None and _failed(reason_code):
            self.last_error = str(reason_code)

    def _on_connected(self, client, flags) -> None:
        raise NotImplementedError


class FleetBus(_Bus):
    """The server side: publishes emergencies to devices and hears their acks."""

    # Mosquitto hands a client at most `max_inflight_messages` (20) unacknowledged QoS 1
    # messages and queues the rest up to `max_queued_messages` (1,000), then DROPS: a
    # province's clusters acking one emergency at once overflowed that. An MQTT 5 client
    # announcing a receive maximum gets that many in flight instead.
    receive_maximum = 65535

    def __init__(self, url: str, on_ack: Callable[[str, dict], None],
                 client_id: str = "loa-server"):
        u = parse_url(url)
        client = _new_client(client_id, u.username, u.password, u.tls, u.ca)
        # a fan-out to a thousand devices: do not throttle it to paho's default of 20
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        super().__init__(client, u.host, u.port)
        self._on_ack = on_ack
        self._count_lock = threading.Lock()
        self._sent = self._confirmed = 0
        client.on_message = self._on_message
        client.on_publish = self._on_publish

    def _on_connected(self, client, flags) -> None:
        client.subscribe("loa/p/+/ack", qos=1)

    def _on_message(self, client, userdata, msg):
        levels = msg.topic.split("/")
        if len(levels) != 4 or levels[3] != "ack":
            return
        try:
            payload = json.loads(msg.payload)
            if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
                raise ValueError("not an ack object")
        except ValueError as exc:
            log.warning("bad ack from %s: %s", levels[2], exc)
            return
        _safe("on_ack", self._on_ack, levels[2], payload)

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        with self._count_lock:
            self._confirmed += 1

    def in_flight(self) -> int:
        """Emergency messages the broker has not yet confirmed (PUBACK) holding for delivery."""
        with self._count_lock:
            return self._sent - self._confirmed

    def publish_emergency(self, device_ids: list[str], payload: dict) -> None:
        """QoS 1 to each device; queued by paho (and then the broker) if one is offline."""
        body = json.dumps(payload, ensure_ascii=False)
        topics = [khan_cap_topic(check_device_id(d)) for d in device_ids]
        for topic in topics:
            with self._count_lock:
                self._sent += 1
            self._client.publish(topic, body, qos=1)


class DeviceBus(_Bus):
    """The player side: hears its emergencies (each id once) and acknowledges stages."""

    def __init__(self, url_or_host: str, port: int, device_id: str, token: str,
                 on_emergency: Callable[[dict], None], tls: bool = False,
                 ca: str | None = None):
        if "://" in url_or_host:
            u = parse_url(url_or_host)
            host, port, tls, ca = u.host, u.port, u.tls, u.ca or ca
        else:
            host = url_or_host
        self.device_id = check_device_id(device_id)
        client = _new_client(client_id_for(device_id), device_id, token, tls, ca)
        client.max_queued_messages_set(0)
        super().__init__(client, host, port)
        self._on_emergency = on_emergency
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_lock = threading.Lock()
        client.on_message = self._on_message

    def _on_connected(self, client, flags) -> None:
        # also when the session is present: cheap, and repairs a session the broker lost
        client.subscribe(khan_cap_topic(self.device_id), qos=1)

    def _on_message(self, client, userdata, msg):
        try:
            payload = json.loads(msg.payload)
            if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
                raise ValueError("not an emergency object")
        except ValueError as exc:
            log.warning("bad emergency message dropped: %s", exc)
            return
        with self._seen_lock:
            if payload["id"] in self._seen:
                self._seen.move_to_end(payload["id"])
                return
            self._seen[payload["id"]] = None
            while len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        # runs in the network thread, and the PUBACK follows it: hand off, return quickly
        _safe("on_emergency", self._on_emergency, payload)

    def ack(self, emergency_id: str, stage: str, at: datetime, detail: str = "") -> bool:
        """Publish a stage (QoS 1). True if handed to a connected broker; False if offline:
        paho keeps it in its session and sends it on reconnect (the server's ack is idempotent,
        so a caller may also post it over HTTP)."""
        if stage not in STAGES:
            raise ValueError(f"unknown ack stage {stage!r}")
        if at.tzinfo is None:
            raise ValueError("ack time must be timezone-aware")
        body = json.dumps({"id": emergency_id, "stage": stage, "at": at.isoformat(),
                           "detail": detail}, ensure_ascii=False)
        info = self._client.publish(ack_topic(self.device_id), body, qos=1)
        return info.rc == mqtt.MQTT_ERR_SUCCESS and self.connected


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll `predicate` until true or `timeout` s (for tests and start-up waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
