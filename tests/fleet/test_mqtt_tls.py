"""The TLS listener a deployment uses (mqtts:// with its own CA), on a real Mosquitto."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from services import free_port

from fleet.test_mqtt import WAIT, Inbox, emergency, now
from loa.errors import LoaError
from loa.fleet.mqtt import BrokerAdmin, DeviceBus, FleetBus


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca_and_cert(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-ca.key",
             "-out", f"{name}-ca.crt", "-days", "2", "-subj", f"/CN={name} test CA", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
             f"{name}.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{name}-ca.crt", "-CAkey",
             f"{name}-ca.key", "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
             "-extfile", "san.ext", cwd=folder)
    for f in folder.iterdir():
        f.chmod(0o644)  # mosquitto drops root for its own user


@pytest.fixture
def tls_broker(broker):
    """The test broker with a second, TLS listener (the one deployments expose)."""
    root = broker.root
    make_ca_and_cert(root, "broker")
    make_ca_and_cert(root, "other")
    port = free_port()
    with open(root / "mosquitto.conf", "a") as conf:
        conf.write(f"listener {port} 127.0.0.1\n"
                   f"certfile {root}/broker.crt\n"
                   f"keyfile {root}/broker.key\n")
    broker.restart()
    broker.tls_port = port
    return broker


def test_emergency_and_ack_over_tls(tls_broker):
    b, ca = tls_broker, str(tls_broker.root / "broker-ca.crt")
    with BrokerAdmin(f"mqtts://{b.admin}:{b.admin_password}@127.0.0.1:{b.tls_port}?ca={ca}") as admin:
        admin.ensure_device_role()
        admin.ensure_server("loa-server", "server-pw")
        admin.add_device("cum-1", "token-1")
        admin.add_device("cum-2", "token-2")

    acks, inbox = Inbox(), Inbox()
    server = FleetBus(f"mqtts://loa-server:server-pw@127.0.0.1:{b.tls_port}?ca={ca}", acks)
    # a device that trusts another CA: the handshake fails, it never gets in
    stranger = DeviceBus("127.0.0.1", b.tls_port, "cum-2", "token-2", Inbox(), tls=True,
                         ca=str(b.root / "other-ca.crt"))
    device = DeviceBus("127.0.0.1", b.tls_port, "cum-1", "token-1", inbox, tls=True, ca=ca)
    try:
        stranger.start()
        server.start()
        device.start()
        assert server.wait_connected(WAIT) and device.wait_connected(WAIT)
        server.publish_emergency(["cum-1"], emergency("e-tls"))
        assert inbox.wait_for(lambda items: len(items) == 1)
        assert device.ack("e-tls", "finished", now())
        assert acks.wait_for(lambda items: len(items) == 1)
        assert acks.items[0][0] == "cum-1"
        assert not stranger.connected
    finally:
        for bus in (stranger, device, server):
            bus.stop()


def test_admin_refuses_a_broker_it_cannot_verify(tls_broker):
    b = tls_broker
    other = b.root / "other-ca.crt"
    with pytest.raises(LoaError) as err:
        BrokerAdmin(f"mqtts://{b.admin}:{b.admin_password}@127.0.0.1:{b.tls_port}?ca={other}",
                    timeout=5)
    assert "Không kết nối được máy chủ MQTT" in str(err.value)
    assert b.admin_password not in str(err.value)
