"""The daily rollup of plays on PostgreSQL: one row per station / local day / status /
plan / topic with the plays and their seconds, kept by statement-level triggers on the
play table. A province's year of plays (~36 M rows) is reported from it in seconds
(benchmarks/fleet_year.py measures it with this very SQL).

The triggers read transition tables, so they count exactly the rows a statement really
wrote, however it was written (ORM, bulk_create, INSERT ... SELECT, ON CONFLICT DO
NOTHING: a row already there is not in the transition table). The local day is the
station's own zone (fleet_station.tz); a zone PostgreSQL does not know counts as
Asia/Ho_Chi_Minh, as queries.zone_of does. Changing a station's zone rebuilds its rows.

SQLite (one station's console, the tests) has no rollup: queries.py counts plays there."""

from __future__ import annotations

TABLE = "fleet_play_daily"
FALLBACK_TZ = "Asia/Ho_Chi_Minh"

CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    station_id bigint NOT NULL REFERENCES fleet_station (id) ON DELETE CASCADE,
    day date NOT NULL,
    status varchar(20) NOT NULL,
    plan varchar(300) NOT NULL,
    topic varchar(100) NOT NULL,
    plays integer NOT NULL,
    seconds double precision NOT NULL,
    PRIMARY KEY (station_id, day, status, plan, topic))
"""

# the zone check runs once per station of a statement, not per play (an EXCEPTION block
# costs a subtransaction): VOLATILE keeps the planner from pulling the per-station
# subquery below into the join, which would call it once per play
ZONE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION fleet_zone(tz text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM now() AT TIME ZONE tz;
    RETURN tz;
EXCEPTION WHEN OTHERS THEN
    RETURN '{FALLBACK_TZ}';
END $$
"""


def groups(source: str, sign: str = "", only_its_stations: bool = True) -> str:
    """SELECT of `source`'s plays grouped into rollup rows (`sign` '-': to subtract)."""
    where = (f" WHERE s.id IN (SELECT DISTINCT station_id FROM {source})"
             if only_its_stations else "")
    return f"""
    SELECT p.station_id, (p.at AT TIME ZONE z.tz)::date AS day, p.status, p.plan, p.topic,
           {sign}count(*) AS plays, {sign}coalesce(sum(p.seconds), 0) AS seconds
    FROM {source} p
    JOIN (SELECT s.id, fleet_zone(s.tz) AS tz FROM fleet_station s{where}) z
      ON z.id = p.station_id
    GROUP BY 1, 2, 3, 4, 5"""


# rows are upserted in key order: two uploads of one station never deadlock
UPSERT = f"""
    INSERT INTO {TABLE} AS d (station_id, day, status, plan, topic, plays, seconds)
    {{select}}
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (station_id, day, status, plan, topic)
    DO UPDATE SET plays = d.plays + EXCLUDED.plays, seconds = d.seconds + EXCLUDED.seconds"""
DROP_EMPTY = (f"DELETE FROM {TABLE} WHERE plays = 0 "
              "AND station_id IN (SELECT DISTINCT station_id FROM old_plays)")

TRIGGER_FUNCTIONS = [
    f"""CREATE OR REPLACE FUNCTION fleet_play_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{UPSERT.format(select=groups("new_plays"))};
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION fleet_play_daily_sub() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{UPSERT.format(select=groups("old_plays", "-"))};
    {DROP_EMPTY};
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION fleet_play_daily_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{UPSERT.format(select=(
        "SELECT station_id, day, status, plan, topic, sum(plays), sum(seconds) FROM ("
        + groups("new_plays") + " UNION ALL " + groups("old_plays", "-")
        + ") u GROUP BY 1, 2, 3, 4, 5 HAVING sum(plays) <> 0 OR sum(seconds) <> 0"))};
    {DROP_EMPTY};
    RETURN NULL;
END $$""",
    f"""CREATE OR REPLACE FUNCTION fleet_play_daily_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE {TABLE};
    RETURN NULL;
END $$""",
    # a station's days move with its zone: rebuild its rows from its plays
    f"""CREATE OR REPLACE FUNCTION fleet_play_daily_rezone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    local_tz text := fleet_zone(NEW.tz);
BEGIN
    DELETE FROM {TABLE} WHERE station_id = NEW.id;
    INSERT INTO {TABLE} (station_id, day, status, plan, topic, plays, seconds)
    SELECT station_id, (at AT TIME ZONE local_tz)::date, status, plan, topic, count(*),
           coalesce(sum(seconds), 0)
    FROM fleet_play WHERE station_id = NEW.id GROUP BY 1, 2, 3, 4, 5;
    RETURN NULL;
END $$""",
]

TRIGGERS = [
    """CREATE TRIGGER fleet_play_daily_add AFTER INSERT ON fleet_play
    REFERENCING NEW TABLE AS new_plays FOR EACH STATEMENT EXECUTE FUNCTION fleet_play_daily_add()""",
    """CREATE TRIGGER fleet_play_daily_sub AFTER DELETE ON fleet_play
    REFERENCING OLD TABLE AS old_plays FOR EACH STATEMENT EXECUTE FUNCTION fleet_play_daily_sub()""",
    """CREATE TRIGGER fleet_play_daily_upd AFTER UPDATE ON fleet_play
    REFERENCING OLD TABLE AS old_plays NEW TABLE AS new_plays
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_play_daily_upd()""",
    """CREATE TRIGGER fleet_play_daily_clear AFTER TRUNCATE ON fleet_play
    FOR EACH STATEMENT EXECUTE FUNCTION fleet_play_daily_clear()""",
    """CREATE TRIGGER fleet_play_daily_rezone AFTER UPDATE OF tz ON fleet_station
    FOR EACH ROW WHEN (OLD.tz IS DISTINCT FROM NEW.tz) EXECUTE FUNCTION fleet_play_daily_rezone()""",
]

# the plays already there (a server upgraded with a year of data)
FILL = f"INSERT INTO {TABLE} (station_id, day, status, plan, topic, plays, seconds)" + groups(
    "fleet_play", only_its_stations=False)

# writes wait while the triggers are made and the table filled: no play is missed or
# counted twice
LOCK = "LOCK TABLE fleet_play IN SHARE ROW EXCLUSIVE MODE"

# a rollup (and its triggers) made and filled, in this order
INSTALL = [LOCK, CREATE_TABLE, ZONE_FUNCTION, *TRIGGER_FUNCTIONS, *TRIGGERS, FILL]

DROP = [
    "DROP TRIGGER IF EXISTS fleet_play_daily_rezone ON fleet_station",
    *(f"DROP TRIGGER IF EXISTS fleet_play_daily_{t} ON fleet_play"
      for t in ("add", "sub", "upd", "clear")),
    *(f"DROP FUNCTION IF EXISTS fleet_play_daily_{t}()"
      for t in ("add", "sub", "upd", "clear", "rezone")),
    f"DROP TABLE IF EXISTS {TABLE}",
    "DROP FUNCTION IF EXISTS fleet_zone(text)",
]
