"""The daily rollup of plays (loa/console/fleet/rollup.py, migration 0004) on a real
PostgreSQL: it counts exactly the rows stored (a retried batch once, whatever wrote them:
the device API's ingest, the ORM, an INSERT from jsonb_to_recordset), follows deletes,
updates and a station's zone change, survives the migration's reverse, and the reports
read the same numbers from it as from the plays, and as SQLite gives for the same data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.rollup_data import Q1, numbers, seed

REPO = Path(__file__).resolve().parents[2]
YEAR_2026 = ("2026-01-01", "2027-01-01")

PRELUDE = f"""
import json, sys
from datetime import date
sys.path.insert(0, {str(REPO / "tests")!r})
from loa.console.server import prepare
prepare(None, sys.argv[1])
from django.db import connection
from loa.console.fleet import rollup
from fleet.rollup_data import Q1, numbers, seed

def out(**kw):
    print(json.dumps(kw, ensure_ascii=False, default=str))

def mismatch():
    # the rollup against a fresh count of the plays, both ways
    cols = "station_id, day, status, plan, topic, plays, round(seconds::numeric, 6)"
    mine = f"SELECT {{cols}} FROM fleet_play_daily"
    fresh = (f"SELECT {{cols}} FROM ("
             + rollup.groups("fleet_play", only_its_stations=False) + ") g")
    with connection.cursor() as c:
        c.execute(f"({{mine}} EXCEPT {{fresh}}) UNION ALL ({{fresh}} EXCEPT {{mine}})")
        return c.fetchall()

def count(sql):
    with connection.cursor() as c:
        c.execute(sql)
        return c.fetchone()[0]
"""


def on_postgres(pg_db, tmp_path, code: str) -> dict:
    server, name = pg_db
    done = subprocess.run([sys.executable, "-c", PRELUDE + code, server.url(name)],
                          env={"PYTHONPATH": str(REPO), "LOA_DATA_DIR": str(tmp_path / "data"),
                               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_rollup_counts_each_stored_play_once_however_it_was_written(pg_db, tmp_path):
    r = on_postgres(pg_db, tmp_path, """
retried = seed()
after_seed = dict(plays=count("SELECT count(*) FROM fleet_play"),
                  rolled=count("SELECT sum(plays) FROM fleet_play_daily"), mismatch=mismatch())
# what the ingest may become: one INSERT from jsonb_to_recordset, a batch sent twice
import psycopg
from loa.console.fleet.models import Device
dev = Device.objects.get(name="Cụm Tokyo")
batch = [dict(play_key=f"js-{i}", at="2026-02-01T08:00:00+07:00", status="missed",
              plan="ba-vi-2026", topic="IV.1.a", seconds=1.25) for i in range(50)]
insert = '''INSERT INTO fleet_play (device_id, station_id, received_at, play_key, at, zone,
    bulletin, title, kind, reason, plan, topic, status, seconds, "row")
    SELECT %s, %s, now(), t.play_key, t.at, '', '', '', '', '', t.plan, t.topic, t.status,
           t.seconds, '{}'::jsonb
    FROM jsonb_to_recordset(%s::jsonb) AS t(play_key text, at timestamptz, plan text,
         topic text, status text, seconds float8)
    ON CONFLICT (device_id, play_key) DO NOTHING'''
inserted = []
connection.ensure_connection()
for _ in range(2):
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(insert, [dev.pk, dev.station_id, json.dumps(batch)])
        inserted.append(cur.rowcount)
days = {}
with connection.cursor() as c:
    c.execute("SELECT s.slug, min(d.day), max(d.day) FROM fleet_play_daily d "
              "JOIN fleet_station s ON s.id = d.station_id GROUP BY 1")
    days = {slug: [str(a), str(b)] for slug, a, b in c.fetchall()}
out(retried=retried, after_seed=after_seed, inserted=inserted, days=days,
    plays=count("SELECT count(*) FROM fleet_play"),
    rolled=count("SELECT sum(plays) FROM fleet_play_daily"), mismatch=mismatch(),
    rollup=numbers(*Q1, "rollup"), direct=numbers(*Q1, "direct"))
""")
    # the retried batch: 120 rows already there + one twice in the batch are not new
    assert r["retried"] == {"retried_keys": 160, "retried_not_new": 121}
    assert r["after_seed"] == {"plays": 3 * 240 + 40 + 30, "rolled": 790, "mismatch": []}
    assert r["inserted"] == [50, 0]  # the second INSERT stored nothing...
    assert r["plays"] == r["rolled"] == 840  # ...and counted nothing
    assert r["mismatch"] == []
    # a station's days are its own zone's: 23:30 on 31/12 in Hà Nội is 1/1 in Tokyo
    assert r["days"]["xa-ba-vi"][0] == "2025-12-31"
    assert r["days"]["xa-nhat"][0] == "2026-01-01"
    assert r["rollup"] == r["direct"]
    assert r["rollup"]["totals"]["xa-tan-lap"] == [0, 0, 0, 0]
    assert sum(sum(t[:3]) for t in r["rollup"]["totals"].values()) > 500


def test_deletes_updates_zone_changes_and_the_migration_reverse_keep_it_exact(pg_db, tmp_path):
    r = on_postgres(pg_db, tmp_path, """
from django.core.management import call_command
from loa.console.fleet.models import Play, Station
seed()
steps = {}
Play.objects.filter(status="failed").delete()
steps["delete"] = mismatch()
Play.objects.filter(status="late").update(status="played", seconds=99.5)
steps["update"] = mismatch()
st = Station.objects.get(slug="xa-ba-vi")
st.tz = "Asia/Tokyo"
st.save()
steps["zone"] = mismatch()
moved = numbers(*Q1, "rollup") == numbers(*Q1, "direct")
Station.objects.filter(slug="xa-nhat").update(tz="Not/AZone")  # an unknown zone: Hà Nội's days
steps["bad_zone"] = mismatch()
before = numbers(date(2025, 1, 1), date(2027, 1, 1), "rollup")
call_command("migrate", "fleet", "0003", verbosity=0)
gone = count("SELECT count(*) FROM pg_class WHERE relname = 'fleet_play_daily'")
triggers = count("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'fleet_play_daily%'")
Play.objects.filter(status="missed").delete()  # no rollup now: nothing to keep
call_command("migrate", "fleet", verbosity=0)
steps["refilled"] = mismatch()
after = numbers(date(2025, 1, 1), date(2027, 1, 1), "rollup")
with connection.cursor() as c:
    c.execute("TRUNCATE fleet_play")
steps["truncate"] = count("SELECT count(*) FROM fleet_play_daily")
out(steps=steps, moved=moved, gone=gone, triggers=triggers, before=before, after=after)
""")
    assert r["steps"] == {"delete": [], "update": [], "zone": [], "bad_zone": [],
                          "refilled": [], "truncate": 0}
    assert r["moved"] is True
    assert r["gone"] == 0 and r["triggers"] == 0
    missed_before = sum(t[1] for t in r["before"]["totals"].values())
    missed_after = sum(t[1] for t in r["after"]["totals"].values())
    skipped = sum(g[4] for g in r["before"]["groups"] if g[1] == "skipped")
    assert missed_before > skipped > 0
    assert missed_after == skipped  # only the deleted "missed" rows left the refilled rollup


@pytest.mark.django_db
def test_sqlite_and_postgresql_reports_give_the_same_numbers(pg_db, tmp_path, data_dir, settings):
    settings.LOA_SCHEDULE = ""
    pg = on_postgres(pg_db, tmp_path, """
seed()
out(q1=numbers(*Q1), year=numbers(date(2026, 1, 1), date(2027, 1, 1)))
""")
    from datetime import date

    seed()
    here = json.loads(json.dumps({"q1": numbers(*Q1),
                                  "year": numbers(date(2026, 1, 1), date(2027, 1, 1))},
                                 ensure_ascii=False, default=str))
    assert here == pg
    rep = pg["q1"]["report"]
    assert rep["plan"] == "ba-vi-2026"
    # Ba Vì aired IV.1.a, IV.1.b (two parts, one topic) and IV.3.c of the plan's topics
    ba_vi = next(row for row in rep["rows"] if row[0] == "xa-ba-vi")
    assert ba_vi[5] == 3 and 0 < ba_vi[6] < 1
    assert pg["q1"]["totals"] != pg["year"]["totals"]  # the period matters
