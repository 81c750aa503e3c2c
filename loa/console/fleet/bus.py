"""The server process's MQTT side (`loa serve --mqtt URL`): the broker admin (device
credentials on enroll/revoke) and the FleetBus (emergencies out, acks in through
service.record_ack). URL: the dynamic-security admin, mqtt://admin:pw@host:port."""

from __future__ import annotations

import logging
import os
import queue
import secrets
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

from loa.errors import LoaError

log = logging.getLogger(__name__)
SERVER_CLIENT = "loa-server"


class LockedAdmin:
    """BrokerAdmin shared by the web server's threads: one request at a time."""

    def __init__(self, admin):
        self._admin = admin
        self._lock = threading.Lock()

    def add_device(self, device_id: str, token: str) -> None:
        with self._lock:
            self._admin.add_device(device_id, token)

    def remove_device(self, device_id: str) -> None:
        with self._lock:
            self._admin.remove_device(device_id)

    def close(self) -> None:
        with self._lock:
            self._admin.close()


def public_mqtt(url: str) -> dict:
    """What devices are told at enrollment: host, port, TLS (never credentials)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise LoaError("địa chỉ máy chủ MQTT phải có dạng mqtt://máy:cổng hoặc mqtts://máy:cổng.")
    tls = parts.scheme == "mqtts"
    return {"host": parts.hostname, "port": parts.port or (8883 if tls else 1883), "tls": tls}


def _server_password() -> str:
    """The server's own broker password, made once and kept beside the data (0600)."""
    from loa.settings import data_dir

    path = data_dir() / "server" / "mqtt-server-password.txt"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        pw = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pw)
        return pw


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def start(url: str, public: str | None = None):
    """Set the broker up for devices and the server, start the bus, install both in the
    service layer. Returns the bus (stop it at exit)."""
    from loa.console.fleet import service

    try:
        from loa.fleet.mqtt import BrokerAdmin, FleetBus
    except ImportError:
        raise LoaError("bản loa này chưa có phần MQTT (loa.fleet.mqtt).") from None
    pub = public_mqtt(public or url)
    try:
        admin = BrokerAdmin(url)
        admin.ensure_device_role()
        password = _server_password()
        admin.ensure_server(SERVER_CLIENT, password)
    except LoaError:
        raise
    except Exception as exc:
        where = urlsplit(url)
        raise LoaError(f"không quản lý được máy chủ MQTT {where.hostname}:{where.port}: "
                       f"{exc}") from None
    # paho's network thread gives up the GIL on every socket call; with the default 5 ms
    # switch interval each wait behind a busy request thread cost up to 5 ms, several
    # times per ack: a thousand acks took seconds to be heard
    sys.setswitchinterval(0.0005)
    acks = AckWriter()
    bus = FleetBus(_with_user(url, SERVER_CLIENT, password), on_ack=acks.on_ack,
                   client_id=SERVER_CLIENT)
    acks.start()
    bus.loa_acks = acks
    bus.start()
    service.use_mqtt(bus, LockedAdmin(admin), pub)
    bus.loa_dispatcher = Dispatcher()
    bus.loa_dispatcher.start()
    return bus


class AckWriter(threading.Thread):
    """The bus's on_ack only queues (it runs on paho's network thread: no database
    there); this thread writes the queue in batches through service.record_acks."""

    BATCH = 1000

    def __init__(self):
        super().__init__(name="loa-fleet-acks", daemon=True)
        self.queue: queue.Queue = queue.Queue()

    def on_ack(self, device_id: str, payload: dict) -> None:
        from loa.console.fleet import service

        ack = service.ack_from_mqtt(device_id, payload, datetime.now(UTC))
        if ack is not None:
            self.queue.put(ack)

    def stop(self) -> None:
        self.queue.put(None)
        self.join(10)

    def run(self) -> None:
        from django.db import close_old_connections

        from loa.console.fleet import service

        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            for attempt in range(5):
                try:
                    service.record_acks(batch)
                    break
                except Exception:  # the database restarting: keep the batch, try again
                    log.exception("writing %d acks failed (attempt %d)", len(batch), attempt + 1)
                    close_old_connections()
                    time.sleep(min(30, 2 ** attempt))
            close_old_connections()
            if stop:
                return


class Dispatcher(threading.Thread):
    """Pushes what other processes queued (`loa fleet emergency`, `loa fleet revoke`).

    On PostgreSQL it LISTENs: the other process NOTIFYs when it commits, so an emergency
    goes out at once, not at the next poll; the poll stays for a lost notification (a
    database restart drops the listening connection, which is then made again)."""

    INTERVAL_S = 0.25
    RETRY_S = 10  # between attempts to LISTEN again

    def __init__(self):
        super().__init__(name="loa-fleet-dispatch", daemon=True)
        self.stopping = threading.Event()
        self._retry_at = 0.0
        self._listen = None  # psycopg connection LISTENing on service.DISPATCH_CHANNEL

    def _wait(self) -> None:
        """Until a notification or INTERVAL_S has passed."""
        from loa.console.fleet import service

        if self._listen is None and time.monotonic() >= self._retry_at:
            self._listen = service.listen_for_dispatch()
            self._retry_at = time.monotonic() + self.RETRY_S
        if self._listen is None:  # SQLite, or the database is away
            self.stopping.wait(self.INTERVAL_S)
            return
        try:
            for _ in self._listen.notifies(timeout=self.INTERVAL_S, stop_after=1):
                pass
        except Exception:  # noqa: BLE001 - the database restarting: listen again later
            log.warning("fleet dispatch: lost the LISTEN connection; polling until it is back")
            self._close_listen()
            self.stopping.wait(self.INTERVAL_S)

    def _close_listen(self) -> None:
        if self._listen is not None:
            try:
                self._listen.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._listen = None

    def run(self) -> None:
        from django.db import close_old_connections

        from loa.console.fleet import service

        try:
            while not self.stopping.is_set():
                self._wait()
                if self.stopping.is_set():
                    break
                try:
                    service.dispatch_pending()
                except Exception:  # a database restart: try again next round
                    log.exception("fleet dispatch failed")
                finally:
                    close_old_connections()
        finally:
            self._close_listen()


def stop(bus) -> None:
    from loa.console.fleet import service

    admin = service._broker_admin
    service.use_mqtt()
    dispatcher = getattr(bus, "loa_dispatcher", None)
    if dispatcher is not None:
        dispatcher.stopping.set()
        dispatcher.join(5)
    try:
        bus.stop()
        acks = getattr(bus, "loa_acks", None)
        if acks is not None:
            acks.stop()
    finally:
        if admin is not None:
            admin.close()
