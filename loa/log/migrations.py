"""The as-played log's schema, one migration per version, frozen as literal text.

A migration that has run in some station's database must never change: the database
would no longer be what its version number says. Change the schema with a new
migration; tests/test_log_migrations.py keeps the sha256 of each text. No migration is
built from Python values (labels, column lists): those change, a database does not."""

# ruff: noqa: E501 - frozen text: its long lines are part of what was run

from __future__ import annotations

import sqlite3

# Each migration moves the schema up one version, inside one transaction.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE plays (
        id            INTEGER PRIMARY KEY,
        play_key      TEXT NOT NULL UNIQUE,   -- station|zone|program|scheduled|bulletin
        station       TEXT NOT NULL,
        zone          TEXT NOT NULL,
        program       TEXT NOT NULL,
        session       TEXT NOT NULL,
        bulletin      TEXT NOT NULL,          -- plan id / outline path
        title         TEXT NOT NULL,
        field         INTEGER,
        priority      INTEGER,
        scheduled_at  TEXT NOT NULL,          -- ISO 8601 with offset
        started_at    TEXT,
        ended_at      TEXT,
        duration_s    REAL,
        status        TEXT NOT NULL,          -- playing, played, late, failed, missed
        reason        TEXT,
        engine        TEXT,
        clip_hash     TEXT,
        recorded_at   TEXT NOT NULL
    );
    CREATE INDEX plays_scheduled ON plays(scheduled_at);
    CREATE TABLE events (
        id     INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        kind   TEXT NOT NULL,                 -- start, stop, reload, clock-jump, device-error
        detail TEXT
    );
    """,
    # 2 kept a CSV line per play with the labels of its day (dropped again by 3)
    2: """
    ALTER TABLE plays ADD COLUMN kind TEXT NOT NULL DEFAULT 'lich';  -- lich, khan-cap, thong-bao
    ALTER TABLE plays ADD COLUMN clip_s REAL;       -- length of the clip: time asked for
    ALTER TABLE plays ADD COLUMN summary TEXT;      -- opening of the text as it aired
    ALTER TABLE plays ADD COLUMN volume INTEGER;    -- zone volume (%), when configured
    UPDATE plays SET kind = CASE WHEN session = 'khan-cap' THEN 'khan-cap'
                                 WHEN session LIKE 'thong-bao:%' THEN 'thong-bao'
                                 ELSE 'lich' END;
    CREATE INDEX plays_zone ON plays(zone, scheduled_at);
    CREATE INDEX plays_bulletin ON plays(bulletin, scheduled_at);
    CREATE TABLE play_history (
        id          INTEGER PRIMARY KEY,
        play_id     INTEGER NOT NULL REFERENCES plays(id),
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  TEXT,
        ended_at    TEXT,
        duration_s  REAL,
        replaced_at TEXT NOT NULL              -- UTC, when this state was superseded
    );
    CREATE TRIGGER plays_keep_history BEFORE UPDATE ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: a final status is never rewritten')
        WHERE OLD.status != 'playing';
        INSERT INTO play_history (play_id, status, reason, started_at, ended_at, duration_s,
                                  replaced_at)
        VALUES (OLD.id, OLD.status, OLD.reason, OLD.started_at, OLD.ended_at, OLD.duration_s,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    CREATE TRIGGER plays_facts_fixed BEFORE UPDATE OF play_key, station, zone, program,
        session, bulletin, title, field, priority, scheduled_at, engine, clip_hash,
        recorded_at, kind, clip_s, summary, volume ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: what was scheduled never changes');
    END;
    CREATE TRIGGER plays_no_delete BEFORE DELETE ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: rows are never deleted');
    END;
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: events are never changed');
    END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: events are never deleted');
    END;
    CREATE INDEX events_at ON events(at);
    -- derived: the play as a CSV line, in export order (one sequential read per export)
    CREATE TABLE plays_csv (
        scheduled_at TEXT NOT NULL,
        play_id      INTEGER NOT NULL REFERENCES plays(id),
        line         TEXT NOT NULL,
        PRIMARY KEY (scheduled_at, play_id)
    ) WITHOUT ROWID;
    INSERT INTO plays_csv SELECT scheduled_at, id, (id) || ',' || ('"' || replace(COALESCE(station, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(zone, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(program, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(session, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(bulletin, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(title, ''), '"', '""') || '"') || ',' || (COALESCE(printf('%d', field), '')) || ',' || (COALESCE(printf('%d', priority), '')) || ',' || (COALESCE(substr(scheduled_at,9,2)||'/'||substr(scheduled_at,6,2)||'/'||substr(scheduled_at,1,4)||' '||substr(scheduled_at,12,8), '')) || ',' || (COALESCE(substr(started_at,9,2)||'/'||substr(started_at,6,2)||'/'||substr(started_at,1,4)||' '||substr(started_at,12,8), '')) || ',' || (COALESCE(substr(ended_at,9,2)||'/'||substr(ended_at,6,2)||'/'||substr(ended_at,1,4)||' '||substr(ended_at,12,8), '')) || ',' || (COALESCE(printf('%.1f', duration_s), '')) || ',' || (CASE status WHEN 'playing' THEN 'đang phát' WHEN 'played' THEN 'đã phát' WHEN 'late' THEN 'phát muộn' WHEN 'failed' THEN 'lỗi' WHEN 'missed' THEN 'bị lỡ' WHEN 'interrupted' THEN 'bị ngắt' WHEN 'skipped' THEN 'bỏ qua' ELSE status END) || ',' || ('"' || replace(COALESCE(reason, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(engine, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(clip_hash, ''), '"', '""') || '"') || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', scheduled_at), '')) || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', started_at), '')) || ',' || (CASE kind WHEN 'lich' THEN 'theo lịch' WHEN 'khan-cap' THEN 'khẩn cấp' WHEN 'thong-bao' THEN 'thông báo' ELSE kind END) || ',' || (COALESCE(printf('%.1f', clip_s), '')) FROM plays;
    CREATE TRIGGER plays_csv_insert AFTER INSERT ON plays
    BEGIN
        INSERT INTO plays_csv VALUES (NEW.scheduled_at, NEW.id, (NEW.id) || ',' || ('"' || replace(COALESCE(NEW.station, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.zone, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.program, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.session, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.bulletin, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.title, ''), '"', '""') || '"') || ',' || (COALESCE(printf('%d', NEW.field), '')) || ',' || (COALESCE(printf('%d', NEW.priority), '')) || ',' || (COALESCE(substr(NEW.scheduled_at,9,2)||'/'||substr(NEW.scheduled_at,6,2)||'/'||substr(NEW.scheduled_at,1,4)||' '||substr(NEW.scheduled_at,12,8), '')) || ',' || (COALESCE(substr(NEW.started_at,9,2)||'/'||substr(NEW.started_at,6,2)||'/'||substr(NEW.started_at,1,4)||' '||substr(NEW.started_at,12,8), '')) || ',' || (COALESCE(substr(NEW.ended_at,9,2)||'/'||substr(NEW.ended_at,6,2)||'/'||substr(NEW.ended_at,1,4)||' '||substr(NEW.ended_at,12,8), '')) || ',' || (COALESCE(printf('%.1f', NEW.duration_s), '')) || ',' || (CASE NEW.status WHEN 'playing' THEN 'đang phát' WHEN 'played' THEN 'đã phát' WHEN 'late' THEN 'phát muộn' WHEN 'failed' THEN 'lỗi' WHEN 'missed' THEN 'bị lỡ' WHEN 'interrupted' THEN 'bị ngắt' WHEN 'skipped' THEN 'bỏ qua' ELSE NEW.status END) || ',' || ('"' || replace(COALESCE(NEW.reason, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.engine, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.clip_hash, ''), '"', '""') || '"') || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', NEW.scheduled_at), '')) || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', NEW.started_at), '')) || ',' || (CASE NEW.kind WHEN 'lich' THEN 'theo lịch' WHEN 'khan-cap' THEN 'khẩn cấp' WHEN 'thong-bao' THEN 'thông báo' ELSE NEW.kind END) || ',' || (COALESCE(printf('%.1f', NEW.clip_s), '')));
    END;
    CREATE TRIGGER plays_csv_update AFTER UPDATE ON plays
    BEGIN
        INSERT OR REPLACE INTO plays_csv VALUES (NEW.scheduled_at, NEW.id, (NEW.id) || ',' || ('"' || replace(COALESCE(NEW.station, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.zone, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.program, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.session, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.bulletin, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.title, ''), '"', '""') || '"') || ',' || (COALESCE(printf('%d', NEW.field), '')) || ',' || (COALESCE(printf('%d', NEW.priority), '')) || ',' || (COALESCE(substr(NEW.scheduled_at,9,2)||'/'||substr(NEW.scheduled_at,6,2)||'/'||substr(NEW.scheduled_at,1,4)||' '||substr(NEW.scheduled_at,12,8), '')) || ',' || (COALESCE(substr(NEW.started_at,9,2)||'/'||substr(NEW.started_at,6,2)||'/'||substr(NEW.started_at,1,4)||' '||substr(NEW.started_at,12,8), '')) || ',' || (COALESCE(substr(NEW.ended_at,9,2)||'/'||substr(NEW.ended_at,6,2)||'/'||substr(NEW.ended_at,1,4)||' '||substr(NEW.ended_at,12,8), '')) || ',' || (COALESCE(printf('%.1f', NEW.duration_s), '')) || ',' || (CASE NEW.status WHEN 'playing' THEN 'đang phát' WHEN 'played' THEN 'đã phát' WHEN 'late' THEN 'phát muộn' WHEN 'failed' THEN 'lỗi' WHEN 'missed' THEN 'bị lỡ' WHEN 'interrupted' THEN 'bị ngắt' WHEN 'skipped' THEN 'bỏ qua' ELSE NEW.status END) || ',' || ('"' || replace(COALESCE(NEW.reason, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.engine, ''), '"', '""') || '"') || ',' || ('"' || replace(COALESCE(NEW.clip_hash, ''), '"', '""') || '"') || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', NEW.scheduled_at), '')) || ',' || (COALESCE(strftime('%Y-%m-%dT%H:%M:%SZ', NEW.started_at), '')) || ',' || (CASE NEW.kind WHEN 'lich' THEN 'theo lịch' WHEN 'khan-cap' THEN 'khẩn cấp' WHEN 'thong-bao' THEN 'thông báo' ELSE NEW.kind END) || ',' || (COALESCE(printf('%.1f', NEW.clip_s), '')));
    END;
    -- derived: plays per station-local month, bulletin, zone, status, reason, kind; a
    -- yearly report reads these instead of sorting a million plays. Milliseconds as
    -- integers, so adding and taking away a play is exact.
    CREATE TABLE play_totals (
        month     TEXT NOT NULL,            -- YYYY-MM
        bulletin  TEXT NOT NULL,
        zone      TEXT NOT NULL,
        status    TEXT NOT NULL,
        reason    TEXT NOT NULL,
        kind      TEXT NOT NULL,
        title     TEXT,
        plays     INTEGER NOT NULL,
        airtime_ms INTEGER NOT NULL,
        asked_ms  INTEGER NOT NULL,
        PRIMARY KEY (month, bulletin, zone, status, reason, kind)
    ) WITHOUT ROWID;
    INSERT INTO play_totals
        SELECT substr(scheduled_at, 1, 7), bulletin, zone, status, COALESCE(reason, ''),
               kind, MAX(title), COUNT(*),
               SUM(CAST(round(COALESCE(duration_s, 0) * 1000) AS INTEGER)),
               SUM(CAST(round(COALESCE(clip_s, 0) * 1000) AS INTEGER))
        FROM plays GROUP BY 1, 2, 3, 4, 5, 6;
    CREATE TRIGGER play_totals_insert AFTER INSERT ON plays
    BEGIN
        INSERT INTO play_totals VALUES (substr(NEW.scheduled_at, 1, 7),
            NEW.bulletin, NEW.zone, NEW.status, COALESCE(NEW.reason, ''), NEW.kind, NEW.title,
            1, CAST(round(COALESCE(NEW.duration_s, 0) * 1000) AS INTEGER),
            CAST(round(COALESCE(NEW.clip_s, 0) * 1000) AS INTEGER))
        ON CONFLICT (month, bulletin, zone, status, reason, kind) DO UPDATE SET
            plays = plays + 1, airtime_ms = airtime_ms + excluded.airtime_ms,
            asked_ms = asked_ms + excluded.asked_ms, title = excluded.title;
    END;
    CREATE TRIGGER play_totals_update AFTER UPDATE ON plays
    BEGIN
        UPDATE play_totals SET plays = plays - 1,
            airtime_ms = airtime_ms - CAST(round(COALESCE(OLD.duration_s, 0) * 1000) AS INTEGER),
            asked_ms = asked_ms - CAST(round(COALESCE(OLD.clip_s, 0) * 1000) AS INTEGER)
        WHERE month = substr(OLD.scheduled_at, 1, 7) AND bulletin = OLD.bulletin
          AND zone = OLD.zone AND status = OLD.status AND reason = COALESCE(OLD.reason, '')
          AND kind = OLD.kind;
        DELETE FROM play_totals WHERE plays = 0 AND month = substr(OLD.scheduled_at, 1, 7)
          AND bulletin = OLD.bulletin AND zone = OLD.zone AND status = OLD.status
          AND reason = COALESCE(OLD.reason, '') AND kind = OLD.kind;
        INSERT INTO play_totals VALUES (substr(NEW.scheduled_at, 1, 7),
            NEW.bulletin, NEW.zone, NEW.status, COALESCE(NEW.reason, ''), NEW.kind, NEW.title,
            1, CAST(round(COALESCE(NEW.duration_s, 0) * 1000) AS INTEGER),
            CAST(round(COALESCE(NEW.clip_s, 0) * 1000) AS INTEGER))
        ON CONFLICT (month, bulletin, zone, status, reason, kind) DO UPDATE SET
            plays = plays + 1, airtime_ms = airtime_ms + excluded.airtime_ms,
            asked_ms = asked_ms + excluded.asked_ms, title = excluded.title;
    END;
    """,
    3: """
    -- CSV lines are built when exported, with the labels of the day: a label is display,
    -- not data, and the log must not keep yesterday's wording.
    DROP TRIGGER plays_csv_insert;
    DROP TRIGGER plays_csv_update;
    DROP TABLE plays_csv;
    """,
    4: """
    -- a cache, not data: a final play's export line as last built, and the form (labels,
    -- names, format) it was built with; a line of another form is built again. Safe to
    -- empty at any time; the plays table stays the truth.
    CREATE TABLE export_lines (
        play_id INTEGER PRIMARY KEY REFERENCES plays(id),
        form    TEXT NOT NULL,
        line    BLOB NOT NULL
    );
    """,
    5: """
    -- the language of the version that aired (ISO 639 code, loa.languages): a bulletin
    -- read in Vietnamese and in a zone's ethnic-minority language is one row per language
    ALTER TABLE plays ADD COLUMN language TEXT NOT NULL DEFAULT 'vi';
    DROP TRIGGER plays_facts_fixed;
    CREATE TRIGGER plays_facts_fixed BEFORE UPDATE OF play_key, station, zone, program,
        session, bulletin, title, field, priority, scheduled_at, engine, clip_hash,
        recorded_at, kind, clip_s, summary, volume, language ON plays
    BEGIN
        SELECT RAISE(ABORT, 'as-played log: what was scheduled never changes');
    END;
    -- derived: plays per station-local month, language, zone, status, kind (the reports'
    -- count per language), kept by triggers like play_totals
    CREATE TABLE language_totals (
        month      TEXT NOT NULL,
        language   TEXT NOT NULL,
        zone       TEXT NOT NULL,
        status     TEXT NOT NULL,
        kind       TEXT NOT NULL,
        plays      INTEGER NOT NULL,
        airtime_ms INTEGER NOT NULL,
        asked_ms   INTEGER NOT NULL,
        PRIMARY KEY (month, language, zone, status, kind)
    ) WITHOUT ROWID;
    INSERT INTO language_totals
        SELECT substr(scheduled_at, 1, 7), language, zone, status, kind, COUNT(*),
               SUM(CAST(round(COALESCE(duration_s, 0) * 1000) AS INTEGER)),
               SUM(CAST(round(COALESCE(clip_s, 0) * 1000) AS INTEGER))
        FROM plays GROUP BY 1, 2, 3, 4, 5;
    CREATE TRIGGER language_totals_insert AFTER INSERT ON plays
    BEGIN
        INSERT INTO language_totals VALUES (substr(NEW.scheduled_at, 1, 7), NEW.language,
            NEW.zone, NEW.status, NEW.kind, 1,
            CAST(round(COALESCE(NEW.duration_s, 0) * 1000) AS INTEGER),
            CAST(round(COALESCE(NEW.clip_s, 0) * 1000) AS INTEGER))
        ON CONFLICT (month, language, zone, status, kind) DO UPDATE SET
            plays = plays + 1, airtime_ms = airtime_ms + excluded.airtime_ms,
            asked_ms = asked_ms + excluded.asked_ms;
    END;
    CREATE TRIGGER language_totals_update AFTER UPDATE ON plays
    BEGIN
        UPDATE language_totals SET plays = plays - 1,
            airtime_ms = airtime_ms - CAST(round(COALESCE(OLD.duration_s, 0) * 1000) AS INTEGER),
            asked_ms = asked_ms - CAST(round(COALESCE(OLD.clip_s, 0) * 1000) AS INTEGER)
        WHERE month = substr(OLD.scheduled_at, 1, 7) AND language = OLD.language
          AND zone = OLD.zone AND status = OLD.status AND kind = OLD.kind;
        DELETE FROM language_totals WHERE plays = 0 AND month = substr(OLD.scheduled_at, 1, 7)
          AND language = OLD.language AND zone = OLD.zone AND status = OLD.status
          AND kind = OLD.kind;
        INSERT INTO language_totals VALUES (substr(NEW.scheduled_at, 1, 7), NEW.language,
            NEW.zone, NEW.status, NEW.kind, 1,
            CAST(round(COALESCE(NEW.duration_s, 0) * 1000) AS INTEGER),
            CAST(round(COALESCE(NEW.clip_s, 0) * 1000) AS INTEGER))
        ON CONFLICT (month, language, zone, status, kind) DO UPDATE SET
            plays = plays + 1, airtime_ms = airtime_ms + excluded.airtime_ms,
            asked_ms = asked_ms + excluded.asked_ms;
    END;
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)


def statements(script: str) -> list[str]:
    """Split a migration into statements (triggers hold ';' inside BEGIN ... END)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
