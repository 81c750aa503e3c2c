"""A real `loa serve --database postgresql://...` process for the fleet tests, and a small
HTTP client speaking the device API (urllib: what a test needs, nothing more)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services import free_port

REPO = Path(__file__).resolve().parents[2]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"loa serve exited with {proc.returncode}: "
                               + (proc.stderr.read() if proc.stderr else ""))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@dataclass
class Reply:
    status: int
    headers: Any  # case-insensitive (email.message.Message)
    body: bytes

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


@dataclass
class ServerRig:
    """`loa serve` on PostgreSQL database `db_url` with data folder `data`."""

    db_url: str
    data: Path
    extra: list[str] = field(default_factory=list)  # more `loa serve` arguments
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("LOA_DATABASE_URL", "LOA_SCHEDULE", "DJANGO_SETTINGS_MODULE")}
        env.update(LOA_DATA_DIR=str(self.data), PYTHONPATH=str(REPO), **self.env_extra)
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerRig:
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loa", "serve", "--database", self.db_url, "--host",
             "127.0.0.1", "--port", str(self.port), *self.extra],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_port(self.port, self.proc)
        return self

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def stop(self) -> str:
        """Stop (SIGTERM); returns what it wrote on stderr."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def loa(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """A `loa` command on the same database and data folder."""
        return subprocess.run([sys.executable, "-m", "loa", *args], env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=120)

    def service(self, code: str) -> str:
        """Python run against loa.console.fleet.service `s` on this database, in one
        process (quicker than a `loa fleet` command per step)."""
        prog = ("from loa.console.server import prepare\n"
                f"prepare(None, {self.db_url!r})\n"
                "from loa.console.fleet import service as s\n" + code)
        done = subprocess.run([sys.executable, "-c", prog], env=self.env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def codes(self, station: str, names: list[str]) -> list[str]:
        """One enroll code per name (zone: none), made in one process."""
        out = self.service(f"st = s.station({station!r})\n"
                           f"for n in {names!r}:\n"
                           "    print(s.create_enroll_code(st, n, []))\n")
        return out.split()

    def fleet(self, *args: str) -> subprocess.CompletedProcess:
        return self.loa("fleet", "--database", self.db_url, *args)

    def code(self, station: str, name: str, *zones: str) -> str:
        zone_args = [a for z in zones for a in ("--zone", z)]
        done = self.fleet("code", station, "--name", name, *zone_args)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()[1].strip()

    def call(self, method: str, path: str, token: str | None = None, body=None,
             raw: bytes | None = None, headers: dict | None = None,
             timeout: float = 30) -> Reply:
        data = raw if raw is not None else (
            None if body is None else json.dumps(body, ensure_ascii=False).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, exc.read())

    def enroll(self, code: str, hostname: str = "pi") -> dict:
        r = self.call("POST", "/api/v1/enroll", body={"code": code, "hostname": hostname,
                                                      "version": "test"})
        assert r.status == 201, r.body
        return r.json


def play_row(key: str, at: str = "2026-11-30T06:00:00+07:00", status: str = "played",
             bulletin: str = "ba-vi-2026/IV.1.a", zone: str = "thon-doai") -> dict:
    """An upward row as loa/report/export.py upward_record writes it, plus play_key."""
    return {"play_key": key, "MaBanTin": bulletin, "LoaiBanTin": "lich", "MucDoUuTien": 3,
            "TieuDe": "Phòng chống bão", "LinhVuc": 1, "TomTat": "", "ThoiLuong": "00:01:05",
            "ThoiGianBatDau": at, "MaCumLoa": zone, "AmLuong": 80, "TiepSong": False,
            "ThanhCong": status in ("played", "late"), "MaLuotPhat": key, "TrangThai": status,
            "LyDo": None, "ThoiGianTheoLich": at, "TenCumLoa": "Thôn Đoài",
            "KeHoach": "Kế hoạch 2026", "TenLoaiBanTin": "theo lịch",
            "TenTrangThai": "đã phát", "NgonNgu": "vi", "TenNgonNgu": "tiếng Việt"}


def serve(pg_db, data: Path, stations: str, **kw):
    """The body of a test's `rig` fixture: `loa serve` on the test's PostgreSQL database
    with the stations made by `stations` (service code, see ServerRig.service); yields
    the rig (rig.pg = (server, db name)), then stops it and checks it did not fail."""
    server, name = pg_db
    r = ServerRig(server.url(name), data, **kw)
    r.service(stations)
    r.start()
    r.pg = (server, name)
    yield r
    err = r.stop()
    assert "Traceback" not in err, err


def sql(rig: ServerRig, query: str, *args):
    """Rows of a query on the rig's database (what the server stored)."""
    server, name = rig.pg
    with server.connect(name) as conn:
        return conn.execute(query, args).fetchall()


def province_server(postgres, prefix: str, stations: dict[str, str] | None = None):
    """The body of a module's server fixture: a throw-away database and Mosquitto, the
    province binh-phuoc with `stations` (slug -> name), `loa serve --mqtt` on them. Yields
    the rig (rig.pg, rig.root, rig.broker), then stops all and checks the server did not fail."""
    import shutil
    import tempfile

    from services import start_broker

    root = Path(tempfile.mkdtemp(prefix=prefix))
    broker = start_broker(root / "broker")
    name = postgres.create_database()
    rig = ServerRig(postgres.url(name), root / "server", extra=["--mqtt", broker.url])
    rig.pg, rig.root, rig.broker = (postgres, name), root, broker
    steps = [("province", "add", "binh-phuoc", "--name", "Bình Phước")]
    steps += [("station", "add", slug, "--name", title, "--province", "binh-phuoc")
              for slug, title in (stations or {}).items()]
    for args in steps:
        done = rig.fleet(*args)
        assert done.returncode == 0, done.stderr
    rig.start()
    try:
        yield rig
    finally:
        err = rig.stop()
        broker.stop()
        postgres.drop_database(name)
        shutil.rmtree(root, ignore_errors=True)
    assert "Traceback" not in err, err


def add_province_admin(rig: ServerRig, user: str, name: str, password: str) -> None:
    """A console account (admin) that sees every commune of binh-phuoc."""
    add = rig.loa("users", "add", user, "--role", "admin", "--name", name,
                  "--password-stdin", "--database", rig.db_url, stdin=password + "\n")
    assert add.returncode == 0, add.stderr
    done = rig.fleet("scope", user, "--province", "binh-phuoc")
    assert done.returncode == 0, done.stderr
