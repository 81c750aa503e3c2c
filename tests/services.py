"""Real PostgreSQL and Mosquitto for the server-tier tests, started on loopback as
../shared/testing-services.md shows, and stopped afterwards. Nothing is skipped: CI
installs both (scripts/setup.sh --dev)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

PG_USER = "loa"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.iterdir() if (p / "bin" / name).exists()),
                      key=lambda p: int(p.name) if p.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL is not installed (scripts/setup.sh --dev installs it)")
    return str(versions[-1] / "bin" / name)


def _as_postgres(args: list[str]) -> list[str]:
    return args if os.getuid() != 0 else ["runuser", "-u", "postgres", "--", *args]


@dataclass
class PgServer:
    """A throw-away PostgreSQL cluster on a Unix socket (and 127.0.0.1:port for clients
    that want TCP, such as `loa serve --database postgresql://...`)."""

    root: Path
    port: int

    @property
    def socket_dir(self) -> str:
        return str(self.root)

    def url(self, dbname: str) -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, prefix: str = "loa") -> str:
        """A fresh empty database; returns its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(host=self.socket_dir, port=self.port, user=PG_USER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(host=self.socket_dir, port=self.port, user=PG_USER,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def connect(self, dbname: str):
        import psycopg

        return psycopg.connect(host=self.socket_dir, port=self.port, user=PG_USER,
                               dbname=dbname, autocommit=True)

    def stop(self) -> None:
        subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(self.root / "data"),
                                     "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PgServer:
    root = Path(tempfile.mkdtemp(prefix="loa-pg-"))
    os.chmod(root, 0o755)
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(root / "data"), "-A", "trust",
                                 "-U", PG_USER, "--encoding=UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True)
    opts = (f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c max_connections=300")
    subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(root / "data"), "-l",
                                 str(root / "log"), "-w", "-o", opts, "start"]),
                   check=True, capture_output=True)
    return PgServer(root, port)


@dataclass
class Broker:
    """A Mosquitto broker on 127.0.0.1 with the dynamic-security plugin: `admin` /
    `admin_password` may manage clients over $CONTROL; anonymous clients are refused."""

    root: Path
    port: int
    admin: str
    admin_password: str
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.admin}:{self.admin_password}@127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.root / "mosquitto.log", "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.root / "mosquitto.conf")],
                                     stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.2):
                return
            if self.proc.poll() is not None:
                raise RuntimeError((self.root / "mosquitto.log").read_text())
            time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_broker(root: Path, persistence: bool = True) -> Broker:
    """Mosquitto 2 with dynsec (its config persists in root, so a restarted broker still
    knows every device) and, with persistence, the QoS 1 sessions survive a restart."""
    root.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        os.chmod(root.parent, 0o755)
        # mosquitto drops root for the `mosquitto` user: it must write its files
        os.chmod(root, 0o777)
    port = free_port()
    admin, password = "loa-admin", uuid.uuid4().hex
    dynsec = root / "dynsec.json"
    subprocess.run(["mosquitto_ctrl", "dynsec", "init", str(dynsec), admin, password],
                   check=True, capture_output=True)
    os.chmod(dynsec, 0o666)
    plugin = next(iter(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so")), None)
    if plugin is None:
        raise RuntimeError("mosquitto's dynamic security plugin is missing")
    (root / "mosquitto.conf").write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous false\n"
        f"persistence {'true' if persistence else 'false'}\n"
        f"persistence_location {root}/\n"
        f"plugin {plugin}\n"
        f"plugin_opt_config_file {dynsec}\n"
        "max_queued_messages 1000\n")
    broker = Broker(root, port, admin, password)
    broker.start()
    return broker
