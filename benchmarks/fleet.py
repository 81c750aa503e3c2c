"""A province server with 1,000 simulated players on this machine.

Starts its own PostgreSQL and Mosquitto (tests/services.py) and a real
`loa serve --database postgresql://... --mqtt mqtt://...` process, creates the province,
STATIONS stations and PLAYERS enroll codes through the fleet service layer, enrolls every
player over POST /api/v1/enroll, then drives the players from one asyncio loop
(benchmarks/_fleet_sim.py: HTTP/1.1 keep-alive and MQTT 3.1.1 persistent sessions):

  day 1     every player fetches its bundle; then all upload a day of plays (--rows, in
            batches of --batch: 500 like the player's outbox; this phase's wall time gives
            ingest_rows_per_s); then all fetch the bundle again (304); heartbeats every
            --heartbeat-s throughout
  fan-out   `loa fleet emergency --all`: every player acks "received" over MQTT; the
            server records each ack (Delivery.received_recorded_at - Emergency.sent_at)
  fault 1   day 2 uploaded; the server is killed with kill -9 mid-upload and restarted;
            players resend until every row is accepted
  fault 2   the broker stopped, another emergency sent (the server pushes it into its
            MQTT client while the broker is away), the broker started: every player must
            still get it and ack
then compares every play key sent with PostgreSQL.

Prints one JSON object: players, api_p99_ms (heartbeat + upload + bundle, day 1),
ingest_rows_per_s (rows accepted / wall time of the day-1 upload phase), server_rows_per_s
(rows / spread of received_at in PostgreSQL), fanout_p50_s, fanout_p99_s, lost_rows,
duplicate_rows, the fault results, machine facts and the parameters used.

    python benchmarks/fleet.py [--players 1000] [--quick] [--heartbeat-s 60] ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _fleet_sim import TZ, Http, HttpError, Player, Sim, day_rows  # noqa: E402
from services import free_port, start_broker, start_postgres  # noqa: E402

SCHEDULE = """\
# bench: a station's schedule (the bundle's content is not what is measured)
station: {slug}
name: {name}
timezone: Asia/Ho_Chi_Minh
"""


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


class Server:
    """A real `loa serve` process (kill -9 and restart on the same port)."""

    def __init__(self, db_url: str, mqtt_url: str | None, data: Path, port: int, threads: int):
        self.db_url, self.mqtt_url, self.data, self.port, self.threads = (
            db_url, mqtt_url, data, port, threads)
        self.proc: subprocess.Popen | None = None
        self.log = data / "serve.log"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "loa", "serve", "--database", self.db_url,
               "--host", "127.0.0.1", "--port", str(self.port), "--threads", str(self.threads)]
        if self.mqtt_url:
            cmd += ["--mqtt", self.mqtt_url]
        env = dict(os.environ, LOA_DATA_DIR=str(self.data), PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, cwd=str(self.data))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("loa serve exited:\n" + self.log.read_text()[-3000:])
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/bundle", timeout=5)
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for a device token
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("loa serve did not answer:\n" + self.log.read_text()[-3000:])

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def prepare_fleet(db_url: str, data: Path, stations: int, players: int) -> list[tuple[str, str, str]]:
    """Province, stations with a bundle each, one enroll code per player, through the
    service layer (in this process). Returns (code, station slug, zone) per player."""
    os.environ["LOA_DATA_DIR"] = str(data)
    from loa.console.server import prepare

    prepare(None, db_url)
    from loa.console.fleet import service

    service.add_province("tinh-thu", "Tỉnh Thử Nghiệm")
    out = []
    slugs = []
    for s in range(stations):
        slug = f"xa-{s:04d}"
        st = service.add_station(slug, f"Xã số {s:04d}", "tinh-thu")
        service.save_bundle(st, "lich.yaml", {"lich.yaml": SCHEDULE.format(slug=slug, name=st.name)},
                            [], by="bench")
        slugs.append(st)
    for p in range(players):
        st = slugs[p % stations]
        zone = f"thon-{p // stations:03d}"
        code = service.create_enroll_code(st, f"Cụm loa {zone} {st.name}", [zone], hours=24)
        out.append((code, st.slug, zone))
    from django.db import connections

    connections.close_all()
    return out


async def enroll_all(host: str, port: int, codes, concurrency: int = 8) -> list[dict]:
    sem = asyncio.Semaphore(concurrency)
    out: list[dict | None] = [None] * len(codes)

    async def one(i: int, code: str) -> None:
        async with sem:
            http = Http(host, port)
            for _ in range(20):
                try:
                    status, _, body = await http.request("POST", "/api/v1/enroll", {
                        "code": code, "hostname": f"bench-{i}", "version": "bench"})
                except HttpError:
                    await asyncio.sleep(0.5)
                    continue
                if status == 201:
                    out[i] = json.loads(body)
                    break
                raise RuntimeError(f"enroll {status}: {body[:300]!r}")
            await http.close()

    await asyncio.gather(*(one(i, c[0]) for i, c in enumerate(codes)))
    if any(o is None for o in out):
        raise RuntimeError("some players could not enroll")
    return out  # type: ignore[return-value]


def loa_cli(args: list[str], data: Path) -> str:
    env = dict(os.environ, LOA_DATA_DIR=str(data), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "loa", *args], env=env, capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"loa {' '.join(args[:3])}: {r.stdout}{r.stderr}")
    return r.stdout


def send_emergency(db_url: str, data: Path, pg, dbname: str, text: str) -> str:
    """`loa fleet emergency --all`; the serving process pushes it (its dispatcher)."""
    loa_cli(["fleet", "--database", db_url, "emergency", "--all", "--title",
             "Tin khẩn cấp thử", text], data)
    with pg.connect(dbname) as conn:
        return conn.execute("SELECT id FROM fleet_emergency ORDER BY created_at DESC "
                            "LIMIT 1").fetchone()[0]


async def wait_acks(sim: Sim, pg, dbname: str, eid: str, n: int, timeout: float) -> dict:
    """Until every player got `eid` and the server recorded n "received" acks."""
    deadline = time.monotonic() + timeout
    recorded = 0

    def count() -> int:
        with pg.connect(dbname) as conn:
            return conn.execute(
                "SELECT count(*) FROM fleet_delivery WHERE emergency_id = %s "
                "AND received_recorded_at IS NOT NULL", (eid,)).fetchone()[0]

    while time.monotonic() < deadline:
        # in a thread: a blocking query here would stall every simulated player's loop
        recorded = await asyncio.to_thread(count)
        if recorded >= n:
            break
        await asyncio.sleep(0.25)
    with pg.connect(dbname) as conn:
        sent_at, = conn.execute("SELECT sent_at FROM fleet_emergency WHERE id = %s",
                                (eid,)).fetchone()
        server = [r[0] for r in conn.execute(
            "SELECT extract(epoch FROM d.received_recorded_at - e.sent_at)::float "
            "FROM fleet_delivery d JOIN fleet_emergency e ON e.id = d.emergency_id "
            "WHERE e.id = %s AND d.received_recorded_at IS NOT NULL", (eid,))]
    got = sim.stats.received.get(eid, {})
    client = [t - sent_at.timestamp() for t in got.values()] if sent_at else []
    return {"acked": len(server), "received_by_players": len(got), "server": server,
            "client": client, "sent": sent_at is not None}


def run(args, pg, dbname: str, db_url: str, broker, data: Path, out: dict) -> None:
    t = time.perf_counter()
    codes = prepare_fleet(db_url, data, args.stations, args.players)
    out["setup_s"] = round(time.perf_counter() - t, 1)
    server = Server(db_url, broker.url if broker else None, data, free_port(), args.threads)
    server.start()
    try:
        asyncio.run(_run(args, pg, dbname, db_url, broker, data, out, server, codes))
    finally:
        server.stop()


async def _run(args, pg, dbname, db_url, broker, data, out, server, codes) -> None:
    t = time.perf_counter()
    enrolled = await enroll_all("127.0.0.1", server.port, codes)
    out["enroll_s"] = round(time.perf_counter() - t, 1)
    mqtt_info = enrolled[0].get("mqtt")
    sim = Sim("127.0.0.1", server.port, mqtt_info["port"] if mqtt_info else None)
    for e, (_code, slug, zone) in zip(enrolled, codes, strict=True):
        sim.players.append(Player(sim, e["device"], e["token"], slug, zone))
    sent: set[tuple[str, str]] = set()
    day1 = datetime(2026, 11, 29, tzinfo=TZ)
    for p in sim.players:
        p.unsent = day_rows(p.station, p.zone, day1, args.rows)
        sent.update((p.device, r["play_key"]) for r in p.unsent)
    mqtt_tasks = []
    if sim.mqtt_port:
        mqtt_tasks = [asyncio.create_task(p.mqtt.run()) for p in sim.players]
        t = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(p.mqtt.connected.wait() for p in sim.players)),
                               120)
        out["mqtt_connect_s"] = round(time.perf_counter() - t, 1)
    stop_hb = asyncio.Event()
    hb_tasks = [asyncio.create_task(p.heartbeats(args.heartbeat_s, stop_hb)) for p in sim.players]

    # day 1: every player fetches its bundle; then uploads a day of plays (timed: the
    # ingestion figure); then asks for its bundle again (304). Heartbeats go on throughout.
    t0 = time.perf_counter()
    await asyncio.gather(*(p.bundle() for p in sim.players))
    out["bundle_wall_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()

    async def upload(p: Player) -> None:
        await p.upload(args.batch, time.monotonic() + args.timeout)

    await asyncio.gather(*(upload(p) for p in sim.players))
    wall = time.perf_counter() - t1
    accepted = len(sim.stats.accepted)
    out["upload_wall_s"] = round(wall, 2)
    out["ingest_rows_per_s"] = round(accepted / wall)

    async def again(p: Player) -> None:
        await p.bundle()
        await p.http.hang_up()  # done until the next heartbeat

    await asyncio.gather(*(again(p) for p in sim.players))
    out["day1_wall_s"] = round(time.perf_counter() - t0, 2)
    with pg.connect(dbname) as conn:
        n, spread = conn.execute("SELECT count(*), extract(epoch FROM max(received_at) - "
                                 "min(received_at))::float FROM fleet_play").fetchone()
    out["server_rows_per_s"] = round(n / spread) if spread else None
    lat = sim.stats.latency
    all_lat = [x for v in lat.values() for x in v]
    out["api_p99_ms"] = round(pct(all_lat, 99) * 1000, 1)
    out["api_p50_ms"] = round(pct(all_lat, 50) * 1000, 1)
    out["api_requests"] = {k: len(v) for k, v in lat.items()}
    out["api_p99_ms_by_kind"] = {k: round(pct(v, 99) * 1000, 1) for k, v in lat.items() if v}
    out["api_p50_ms_by_kind"] = {k: round(pct(v, 50) * 1000, 1) for k, v in lat.items() if v}

    # steady state: heartbeats only, every player at least once
    sim.stats.latency = {"heartbeat": [], "upload": [], "bundle": []}
    await asyncio.sleep(args.steady_s)
    hb = sim.stats.latency["heartbeat"]
    out["steady_heartbeats"] = len(hb)
    out["steady_heartbeat_p50_ms"] = round(pct(hb, 50) * 1000, 1) if hb else None
    out["steady_heartbeat_p99_ms"] = round(pct(hb, 99) * 1000, 1) if hb else None

    # fan-out, heartbeats still going
    if sim.mqtt_port:
        eid = await asyncio.to_thread(send_emergency, db_url, data, pg, dbname,
                                      "Bão số 9 sắp đổ bộ: thử nghiệm đo thời gian.")
        r = await wait_acks(sim, pg, dbname, eid, len(sim.players), args.timeout)
        out["fanout_acked"] = r["acked"]
        out["fanout_p50_s"] = round(pct(r["server"], 50), 3) if r["server"] else None
        out["fanout_p99_s"] = round(pct(r["server"], 99), 3) if r["server"] else None
        out["fanout_max_s"] = round(max(r["server"]), 3) if r["server"] else None
        out["fanout_player_p99_s"] = round(pct(r["client"], 99), 3) if r["client"] else None
    sim.measuring = False

    # fault 1: kill -9 the server during day 2's upload, restart, players resend
    day2 = day1 + timedelta(days=1)
    for p in sim.players:
        p.unsent = day_rows(p.station, p.zone, day2, args.rows)
        sent.update((p.device, r["play_key"]) for r in p.unsent)
    before = len(sim.stats.accepted)
    target = before + (len(sent) - before) // 3
    t2 = time.perf_counter()
    async def resend(p: Player) -> None:
        await p.upload(args.batch, time.monotonic() + args.timeout)
        await p.http.hang_up()

    ups = asyncio.gather(*(resend(p) for p in sim.players))
    while len(sim.stats.accepted) < target and not ups.done():
        await asyncio.sleep(0.01)
    killed_at = len(sim.stats.accepted) - before
    server.kill9()
    await asyncio.sleep(0.5)
    await asyncio.to_thread(server.start)
    await ups
    out["fault_kill9"] = {"accepted_before_kill": killed_at,
                          "day2_upload_s": round(time.perf_counter() - t2, 1),
                          "rows_players_gave_up": sum(len(p.unsent) for p in sim.players)}

    # fault 2: broker restarted during an emergency
    if sim.mqtt_port:
        await asyncio.sleep(2)  # the restarted server's bus is connected again
        # the broker goes down, the emergency is sent and pushed by the server's dispatcher
        # into its bus while the broker is away, then the broker comes back
        await asyncio.to_thread(broker.stop)
        eid = await asyncio.to_thread(send_emergency, db_url, data, pg, dbname,
                                      "Lũ quét: thử khởi động lại máy chủ MQTT.")
        pushed_before = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not pushed_before:
            await asyncio.sleep(0.1)
            with pg.connect(dbname) as conn:
                pushed_before = conn.execute("SELECT sent_at IS NOT NULL FROM fleet_emergency "
                                             "WHERE id = %s", (eid,)).fetchone()[0]
        got_before = len(sim.stats.received.get(eid, {}))
        await asyncio.to_thread(broker.start)
        r = await wait_acks(sim, pg, dbname, eid, len(sim.players), args.timeout)
        out["fault_broker_restart"] = {"received_before_restart": got_before,
                                       "pushed_while_broker_down": pushed_before,
                                       "received_by_players": r["received_by_players"],
                                       "acked_at_server": r["acked"]}
    stop_hb.set()
    await asyncio.gather(*hb_tasks)
    for p in sim.players:
        if p.mqtt:
            p.mqtt.stop()
        await p.http.close()
    for task in mqtt_tasks:
        task.cancel()
    await asyncio.gather(*mqtt_tasks, return_exceptions=True)

    with pg.connect(dbname) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT (device_id, play_key)) "
                              "FROM fleet_play").fetchone()
        keys = {(d, k) for d, k in conn.execute("SELECT device_id, play_key FROM fleet_play")}
        out["heartbeats_stored"] = conn.execute("SELECT count(*) FROM fleet_heartbeat").fetchone()[0]
    out["rows_sent"] = len(sent)
    out["rows_stored"] = stored[0]
    out["lost_rows"] = len(sent - keys)
    out["duplicate_rows"] = stored[0] - stored[1]
    out["unexpected_rows"] = len(keys - sent)
    out["duplicates_reported_by_server"] = sim.stats.duplicates_reported
    out["http_errors"] = sim.stats.errors
    out["http_statuses"] = sim.stats.statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--stations", type=int, help="default: players / 10 (10 clusters a station)")
    ap.add_argument("--rows", type=int, default=100, help="plays a day per player")
    ap.add_argument("--batch", type=int, default=500,
                    help="rows per upload request (the player's outbox sends 500)")
    ap.add_argument("--heartbeat-s", type=float, default=60)
    ap.add_argument("--steady-s", type=float, help="heartbeats-only phase (default: --heartbeat-s)")
    ap.add_argument("--threads", type=int, default=8, help="loa serve --threads")
    ap.add_argument("--timeout", type=float, default=300, help="bound on each phase")
    ap.add_argument("--no-mqtt", action="store_true")
    ap.add_argument("--quick", action="store_true",
                    help="30 players, 60 plays a day, heartbeats every 5 s (the test's mode, < 90 s)")
    args = ap.parse_args()
    if args.quick:
        args.players, args.rows, args.heartbeat_s, args.timeout = 30, 60, 5.0, 60
    args.steady_s = args.steady_s or args.heartbeat_s
    args.stations = args.stations or max(1, args.players // 10)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2 sockets a player
    out: dict = {"players": args.players, "stations": args.stations,
                 "params": {"rows_per_player_day": args.rows, "batch": args.batch,
                            "heartbeat_s": args.heartbeat_s, "steady_s": args.steady_s,
                            "server_threads": args.threads,
                            "mqtt": not args.no_mqtt, "quick": args.quick},
                 "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                             "system": platform.platform()}}
    t_all = time.perf_counter()
    data = Path(tempfile.mkdtemp(prefix="loa-fleet-"))
    os.chmod(data, 0o755)
    pg = start_postgres()
    broker = None
    try:
        dbname = pg.create_database("fleet")
        db_url = pg.url(dbname)
        if not args.no_mqtt:
            broker = start_broker(Path(tempfile.mkdtemp(prefix="loa-fleet-mq-")) / "broker")
        run(args, pg, dbname, db_url, broker, data, out)
    finally:
        if broker:
            broker.stop()
            shutil.rmtree(broker.root.parent, ignore_errors=True)
        pg.stop()
        if os.environ.get("LOA_BENCH_KEEP"):
            print(f"kept {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
    out["total_s"] = round(time.perf_counter() - t_all, 1)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
