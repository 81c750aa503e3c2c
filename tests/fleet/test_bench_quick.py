"""benchmarks/fleet.py --quick runs end to end (real PostgreSQL, Mosquitto, loa serve and
simulated players) and, after its fault runs (kill -9 of the server mid-upload, broker
restarted during an emergency), PostgreSQL holds every play key sent exactly once.
The figures themselves are the benchmark's business: only their presence is checked."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("players", "api_p99_ms", "ingest_rows_per_s", "fanout_p50_s", "fanout_p99_s",
        "lost_rows", "duplicate_rows")


def test_fleet_bench_quick_loses_and_duplicates_nothing():
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks/fleet.py"), "--quick"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for key in KEYS:
        assert key in out, key
    assert out["players"] == 30
    assert out["rows_sent"] > 0
    assert out["lost_rows"] == 0
    assert out["duplicate_rows"] == 0
