"""Simulated loa players for benchmarks/fleet.py: one asyncio loop drives N of them.

Each player speaks the device protocol (HTTP/1.1 keep-alive over raw asyncio streams, and
MQTT 3.1.1 with a persistent session, QoS 1) as `loa run --server` does, without audio:
bundle with If-None-Match, heartbeats, plays uploaded in batches until every row is
accepted (retrying through a killed server), emergencies acknowledged "received"."""

from __future__ import annotations

import asyncio
import json
import random
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from loa.log.store import COLUMNS
from loa.report.export import upward_record

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
STATUSES = ["played"] * 90 + ["late"] * 4 + ["missed", "missed", "failed", "interrupted",
                                              "skipped", "played"]


# --- HTTP ----------------------------------------------------------------------------------

class HttpError(Exception):
    pass


class Http:
    """One keep-alive connection; reopened when the server closes or dies."""

    def __init__(self, host: str, port: int, token: str | None = None, timeout: float = 30):
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()  # heartbeats and uploads share the connection

    async def close(self) -> None:
        if self._w is not None:
            self._w.close()
            try:
                await self._w.wait_closed()
            except OSError:
                pass
        self._r = self._w = None

    async def hang_up(self) -> None:
        """Close between requests (never in the middle of one)."""
        async with self._lock:
            await self.close()

    async def request(self, method: str, path: str, body: object = None,
                      headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        """(status, headers, body); raises OSError/HttpError on a broken connection."""
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(data)}", "Connection: keep-alive"]
        if body is not None:
            lines.append("Content-Type: application/json")
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        try:
            async with self._lock:
                return await asyncio.wait_for(self._exchange(raw), self.timeout)
        except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError) as e:
            await self.close()
            raise HttpError(f"{method} {path}: {e!r}") from e

    async def _exchange(self, raw: bytes) -> tuple[int, dict, bytes]:
        if self._w is None:
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
        self._w.write(raw)
        await self._w.drain()
        head = await self._r.readuntil(b"\r\n\r\n")
        status_line, *hl = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for h in hl:
            if ":" in h:
                k, v = h.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self._r.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._r.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self._r.readexactly(int(hdrs.get("content-length", "0")))
        if hdrs.get("connection", "").lower() == "close":
            await self.close()
        return status, hdrs, body


# --- MQTT 3.1.1 ----------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("!H", len(b)) + b


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


class Mqtt:
    """A device's MQTT session: clean_session=0 with client id loa-<device>, subscribes to
    its khan-cap topic at QoS 1, acks each emergency "received" on its ack topic. Acks not
    yet PUBACKed are resent (DUP) after a reconnect."""

    def __init__(self, host: str, port: int, device: str, token: str, on_emergency):
        self.host, self.port, self.device, self.token = host, port, device, token
        self.on_emergency = on_emergency
        self.connected = asyncio.Event()
        self.refused: int | None = None
        self._w: asyncio.StreamWriter | None = None
        self._pid = 0
        self._inflight: dict[int, bytes] = {}  # ack publishes awaiting PUBACK
        self._stop = False
        self.reconnects = 0

    def _next_pid(self) -> int:
        self._pid = self._pid % 65535 + 1
        return self._pid

    async def run(self) -> None:
        delay = 0.2
        while not self._stop:
            try:
                await self._session()
                delay = 0.2
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ConnectionError):
                pass
            self.connected.clear()
            if self._stop or self.refused in (4, 5):
                return
            self.reconnects += 1
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5)

    async def _session(self) -> None:
        r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
        self._w = w
        try:
            flags = 0x80 | 0x40  # username, password; clean session 0: persistent
            w.write(_packet(0x10, _s("MQTT") + bytes([4, flags]) + struct.pack("!H", 60)
                            + _s(f"loa-{self.device}") + _s(self.device) + _s(self.token)))
            await w.drain()
            kind, body = await asyncio.wait_for(self._read(r), 10)
            if kind != 0x20 or body[1] != 0:
                self.refused = body[1] if kind == 0x20 else -1
                return
            w.write(_packet(0x82, struct.pack("!H", self._next_pid())
                            + _s(f"loa/p/{self.device}/khan-cap") + b"\x01"))
            for raw in list(self._inflight.values()):  # unacknowledged acks: again, DUP
                w.write(bytes([raw[0] | 0x08]) + raw[1:])
            await w.drain()
            self.connected.set()
            ping = asyncio.get_running_loop().time()
            while not self._stop:
                try:
                    kind, body = await asyncio.wait_for(self._read(r), 30)
                except TimeoutError:
                    kind = None
                now = asyncio.get_running_loop().time()
                if now - ping > 30:
                    w.write(b"\xc0\x00")
                    ping = now
                if kind is None:
                    continue
                if kind & 0xF0 == 0x30:
                    await self._publish_in(kind, body)
                elif kind == 0x40:
                    self._inflight.pop(struct.unpack("!H", body[:2])[0], None)
        finally:
            self._w = None
            w.close()

    async def _read(self, r: asyncio.StreamReader) -> tuple[int, bytes]:
        kind = (await r.readexactly(1))[0]
        n, mult = 0, 1
        while True:
            b = (await r.readexactly(1))[0]
            n += (b & 0x7F) * mult
            mult *= 128
            if not b & 0x80:
                break
        return kind, await r.readexactly(n)

    async def _publish_in(self, kind: int, body: bytes) -> None:
        qos = (kind >> 1) & 3
        tlen = struct.unpack("!H", body[:2])[0]
        pos = 2 + tlen
        if qos:
            pid = body[pos:pos + 2]
            pos += 2
            self._w.write(b"\x40\x02" + pid)
        try:
            payload = json.loads(body[pos:])
        except ValueError:
            return
        self.on_emergency(self, payload)

    def ack(self, emergency_id: str, stage: str, detail: str = "") -> None:
        payload = json.dumps({"id": emergency_id, "stage": stage,
                              "at": datetime.now(TZ).isoformat(), "detail": detail}).encode()
        pid = self._next_pid()
        raw = _packet(0x32, _s(f"loa/p/{self.device}/ack") + struct.pack("!H", pid) + payload)
        self._inflight[pid] = raw
        if self._w is not None:
            self._w.write(raw)

    def stop(self) -> None:
        self._stop = True
        if self._w is not None:
            self._w.close()


# --- players -------------------------------------------------------------------------------

def day_rows(station: str, zone: str, day: datetime, n: int, salt: str = "") -> list[dict]:
    """n plays of one day as upward JSON (loa.report.export.upward_record) + play_key."""
    rows = []
    start = day.replace(hour=5, minute=0, second=0, microsecond=0)
    for i in range(n):
        at = start + timedelta(seconds=i * (16 * 3600 // max(n, 1)))
        status = STATUSES[(hash((station, zone, i, salt)) & 0x7FFFFFFF) % len(STATUSES)]
        aired = status in ("played", "late", "interrupted")
        bulletin = f"bt-{day:%Y%m%d}-{i:03d}{salt}"
        key = f"{station}|{zone}|chuong-trinh|{at.isoformat()}|{bulletin}"
        vals = dict.fromkeys(COLUMNS)
        vals.update(id=i, play_key=key, station=station, zone=zone, program="chuong-trinh",
                    session="sang", bulletin=bulletin, title=f"Bản tin số {i} ngày {day:%d/%m}",
                    field=1 + i % 8, priority=3, scheduled_at=at.isoformat(),
                    started_at=at.isoformat() if aired else None,
                    ended_at=(at + timedelta(seconds=150)).isoformat() if aired else None,
                    duration_s=150.0 if aired else None, status=status,
                    reason="lỗi thiết bị phát" if status == "failed" else None,
                    engine="piper", clip_hash=None, recorded_at=at.isoformat(), kind="lich",
                    clip_s=150.0, summary="", volume=80, language="vi")
        row = upward_record(tuple(vals[c] for c in COLUMNS))
        row["play_key"] = key
        rows.append(row)
    return rows


@dataclass
class Stats:
    latency: dict[str, list[float]] = field(default_factory=lambda: {
        "heartbeat": [], "upload": [], "bundle": []})
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    accepted: set = field(default_factory=set)
    duplicates_reported: int = 0
    received: dict[str, dict[str, float]] = field(default_factory=dict)  # emergency -> device -> t

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


class Player:
    def __init__(self, sim: Sim, device: str, token: str, station: str, zone: str):
        self.sim, self.device, self.token, self.station, self.zone = sim, device, token, station, zone
        # patient: a request may wait in the server's accept queue behind 1,000 others
        self.http = Http(sim.host, sim.port, token, timeout=300)
        self.etag: str | None = None
        self.unsent: list[dict] = []
        self.last_play: str | None = None
        self.mqtt = Mqtt(sim.host, sim.mqtt_port, device, token, sim.on_emergency) \
            if sim.mqtt_port else None

    async def call(self, kind: str, method: str, path: str, body=None, headers=None):
        """One request, timed; None when the server is unreachable (the caller retries)."""
        t0 = time.perf_counter()
        try:
            status, hdrs, data = await self.http.request(method, path, body, headers)
        except HttpError:
            self.sim.stats.error(f"{kind}:connection")
            return None
        if self.sim.measuring:
            self.sim.stats.latency[kind].append(time.perf_counter() - t0)
        self.sim.stats.statuses[f"{kind}:{status}"] = self.sim.stats.statuses.get(f"{kind}:{status}", 0) + 1
        if status == 429:
            await asyncio.sleep(float(hdrs.get("retry-after", "1")))
            return None
        return status, hdrs, data

    async def bundle(self) -> None:
        headers = {"If-None-Match": f'"{self.etag}"'} if self.etag else None
        got = await self.call("bundle", "GET", "/api/v1/bundle", headers=headers)
        if got and got[0] == 200:
            self.etag = got[1].get("etag", "").strip('"') or None

    async def heartbeat(self) -> None:
        body = {"at": datetime.now(TZ).isoformat(), "clock_trusted": True, "disk_free_mb": 2048.0,
                "version": "bench", "audio": "ok", "last_play": self.last_play,
                "unsent": len(self.unsent), "signal_dbm": -71, "bundle": self.etag}
        await self.call("heartbeat", "POST", "/api/v1/heartbeat", body)

    async def upload(self, batch: int, deadline: float) -> None:
        """Send unsent rows in batches until all are accepted (or the deadline passes)."""
        delay = 0.2
        while self.unsent and time.monotonic() < deadline:
            chunk = self.unsent[:batch]
            got = await self.call("upload", "POST", "/api/v1/plays", {"rows": chunk})
            if got is None or got[0] >= 500:
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 3)
                continue
            delay = 0.2
            if got[0] != 200:
                self.sim.stats.error(f"upload:{got[0]}:{got[2][:200].decode(errors='replace')}")
                await asyncio.sleep(1)
                continue
            reply = json.loads(got[2])
            ok = set(reply.get("accepted", []))
            self.sim.stats.duplicates_reported += int(reply.get("duplicates", 0))
            for k in ok:
                self.sim.stats.accepted.add((self.device, k))
            self.unsent = [r for r in self.unsent if r["play_key"] not in ok]
            self.last_play = chunk[-1]["ThoiGianBatDau"]

    async def heartbeats(self, every: float, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.random() * every)  # devices are not in step
        while not stop.is_set():
            await self.heartbeat()
            if not self.unsent:
                # a device idle until its next heartbeat does not hold a server connection
                # (waitress serves a bounded number of connections: idle ones starve others)
                await self.http.hang_up()
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass


class Sim:
    def __init__(self, host: str, port: int, mqtt_port: int | None):
        self.host, self.port, self.mqtt_port = host, port, mqtt_port
        self.stats = Stats()
        self.players: list[Player] = []
        self.measuring = True

    def on_emergency(self, mqtt: Mqtt, payload: dict) -> None:
        eid = str(payload.get("id"))
        seen = self.stats.received.setdefault(eid, {})
        if mqtt.device not in seen:  # QoS 1 may deliver twice: act once per id
            seen[mqtt.device] = time.time()
        mqtt.ack(eid, "received")
