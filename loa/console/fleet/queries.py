"""Read-only questions the province and commune pages and reports ask of the fleet's tables.

ORM only; the scope check is the caller's (service.stations_for / can_see). Times are
aware; a station's day is its own zone's day."""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Q, Sum

from loa.console.fleet.models import Bundle, Device, Play, PlayDaily, Station
from loa.console.fleet.service import now
from loa.log.store import topic_of

log = logging.getLogger(__name__)

DOWN_AFTER = timedelta(minutes=3)  # no heartbeat for longer: the cluster is down
AIRED = ("played", "late")
MISSED = ("missed", "skipped")
FAILED = ("failed", "interrupted")


def zone_of(st: Station) -> ZoneInfo:
    try:
        return ZoneInfo(st.tz)
    except Exception:
        return ZoneInfo("Asia/Ho_Chi_Minh")


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)


def is_up(dev: Device, at: datetime) -> bool:
    return (dev.revoked_at is None and dev.heartbeat_at is not None
            and at - dev.heartbeat_at <= DOWN_AFTER)


# --- what the schedule expects today ----------------------------------------------------------

_expect_cache: dict[tuple[str, date], dict[str, int] | None] = {}
_expect_lock = threading.Lock()


def _expected_by_zone(bundle: Bundle, day: date) -> dict[str, int] | None:
    """Plays the bundle's schedule expects on `day`, per zone (one per item and zone);
    None when the schedule cannot be read. Cached per (bundle, day): a bundle never changes
    (its manifest, deferred by the caller, is read only on a miss)."""
    key = (bundle.etag, day)
    with _expect_lock:
        if key in _expect_cache:
            return _expect_cache[key]
    from loa.schedule import expand
    from loa.station.core import load_station

    result: dict[str, int] | None
    try:
        with tempfile.TemporaryDirectory(prefix="loa-bundle-") as tmp:
            root = Path(tmp).resolve()
            for rel, text in bundle.manifest["files"].items():
                dest = (root / rel).resolve()
                if root not in dest.parents:
                    raise ValueError(f"bundle path outside its folder: {rel}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding="utf-8")
            loaded = load_station(root / bundle.manifest["schedule"])
        tz = loaded.schedule.station.tz
        start, end = day_bounds(day, tz)
        result = defaultdict(int)
        for occ in expand(loaded.schedule, loaded.bulletins, start, end):
            for z in occ.zones:
                result[z] += len(occ.items)
        result = dict(result)
    except Exception:  # a station page must show even when one schedule is unreadable
        log.exception("fleet: cannot expand the schedule of bundle %s", bundle.etag)
        result = None
    with _expect_lock:
        if len(_expect_cache) > 2000:
            _expect_cache.clear()
        _expect_cache[key] = result
    return result


def expected_for(dev: Device, by_zone: dict[str, int] | None) -> int | None:
    if by_zone is None:
        return None
    zones = dev.zones or list(by_zone)  # no zones listed: the player plays them all
    return sum(by_zone.get(z, 0) for z in zones)


# --- dashboard rows ---------------------------------------------------------------------------

@dataclass
class Today:
    aired: int = 0
    expected: int | None = 0
    missed: int = 0
    failed: int = 0

    @property
    def bad(self) -> int:
        return self.missed + self.failed

    def add(self, other: Today) -> None:
        self.aired += other.aired
        self.missed += other.missed
        self.failed += other.failed
        if self.expected is None or other.expected is None:
            self.expected = None
        else:
            self.expected += other.expected


def _today_counts(station_ids: list[int], bounds: dict[int, tuple[datetime, datetime]]
                  ) -> dict[str, Today]:
    """Per device: today's reported plays by outcome."""
    if not station_ids:
        return {}
    q = Q()
    for sid in station_ids:
        start, end = bounds[sid]
        q |= Q(station_id=sid, at__gte=start, at__lt=end)
    out: dict[str, Today] = defaultdict(Today)
    for row in Play.objects.filter(q).values("device_id", "status").annotate(n=Count("id")):
        t = out[row["device_id"]]
        if row["status"] in AIRED:
            t.aired += row["n"]
        elif row["status"] in MISSED:
            t.missed += row["n"]
        elif row["status"] in FAILED:
            t.failed += row["n"]
    return out


@dataclass
class DeviceRow:
    device: Device
    up: bool
    today: Today
    bundle_current: bool | None  # None: the station has no bundle yet

    @property
    def refused(self) -> int:
        """Plays the server refused as malformed, kept on the cluster and never resent
        (its last heartbeat says how many): someone must look at its log."""
        beat = self.device.last_heartbeat
        n = beat.get("refused") if isinstance(beat, dict) else None
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


@dataclass
class StationRow:
    station: Station
    devices: list[DeviceRow] = field(default_factory=list)
    today: Today = field(default_factory=Today)
    last_heartbeat: datetime | None = None
    has_bundle: bool = False

    @property
    def active(self) -> list[DeviceRow]:
        return [d for d in self.devices if d.device.revoked_at is None]

    @property
    def up(self) -> int:
        return sum(1 for d in self.active if d.up)

    @property
    def down(self) -> int:
        return len(self.active) - self.up

    @property
    def untrusted(self) -> int:
        return sum(1 for d in self.active if d.device.clock_trusted is False)

    @property
    def unsent(self) -> int:
        return sum(d.device.unsent or 0 for d in self.active)


def current_bundles(stations) -> dict[int, Bundle]:
    """Station id -> its current bundle (as service.current_bundle), in one query, without
    the manifests (the schedule and bulletin texts)."""
    out: dict[int, Bundle] = {}
    for b in (Bundle.objects.filter(station__in=stations).defer("manifest")
              .order_by("station_id", "-created_at", "-id")):
        out.setdefault(b.station_id, b)
    return out


def station_rows(stations, at: datetime | None = None) -> list[StationRow]:
    """One row per station with its devices: up/down, heartbeat, clock, unsent, today."""
    at = at or now()
    stations = list(stations)
    bounds, by_zone, current = {}, {}, {}
    latest = current_bundles(stations)
    for st in stations:
        tz = zone_of(st)
        day = at.astimezone(tz).date()
        bounds[st.pk] = day_bounds(day, tz)
        b = latest.get(st.pk)
        current[st.pk] = b.etag if b else None
        by_zone[st.pk] = _expected_by_zone(b, day) if b else {}
    counts = _today_counts([s.pk for s in stations], bounds)
    rows = {st.pk: StationRow(st, has_bundle=current[st.pk] is not None) for st in stations}
    for dev in Device.objects.filter(station__in=stations).order_by("name", "id"):
        row = rows[dev.station_id]
        t = counts.get(dev.pk, Today())
        t = Today(t.aired, 0, t.missed, t.failed)
        if dev.revoked_at is None:
            t.expected = expected_for(dev, by_zone[dev.station_id])
        etag = current[dev.station_id]
        row.devices.append(DeviceRow(dev, is_up(dev, at), t,
                                     None if etag is None else dev.bundle == etag))
        row.today.add(t)  # a cluster revoked today still aired what it aired
        if dev.heartbeat_at and (row.last_heartbeat is None or dev.heartbeat_at > row.last_heartbeat):
            row.last_heartbeat = dev.heartbeat_at
    return [rows[st.pk] for st in stations]


# --- reports across stations ---------------------------------------------------------------------

@dataclass
class CommuneTotals:
    station: Station
    aired: int = 0
    missed: int = 0
    failed: int = 0
    seconds: float = 0.0
    share: float | None = None  # of the chosen plan's topics aired at least once
    topics_aired: int = 0


@dataclass
class PeriodTally:
    """One scan of the period's plays, grouped by (station, status, plan, topic): the
    commune totals, the plans seen and the topics aired all come from it."""

    stations: list[Station]
    groups: list[tuple[int, str, str, str, int, float]]  # station, status, plan, topic, n, s

    def totals(self) -> list[CommuneTotals]:
        out = {st.pk: CommuneTotals(st) for st in self.stations}
        for sid, status, _plan, _topic, n, secs in self.groups:
            t = out[sid]
            if status in AIRED:
                t.aired += n
                t.seconds += secs
            elif status in MISSED:
                t.missed += n
            elif status in FAILED:
                t.failed += n
        return [out[st.pk] for st in self.stations]

    def plan_ids(self) -> set[str]:
        return {g[2] for g in self.groups if g[2]}

    def aired_topics(self, plan_id: str) -> dict[int, set[str]]:
        out: dict[int, set[str]] = defaultdict(set)
        for sid, status, plan, topic, _n, _s in self.groups:
            if plan == plan_id and topic and status in AIRED:
                out[sid].add(topic_of(topic))
        return out


def use_rollup() -> bool:
    """PostgreSQL keeps the daily rollup (rollup.py); SQLite counts plays directly."""
    return connection.vendor == "postgresql"


def local_days(stations, first: date, end: date) -> Q:
    """Plays in each station's own local days first <= day < end."""
    by_zone: dict[str, list[int]] = defaultdict(list)
    for st in stations:
        by_zone[zone_of(st).key].append(st.pk)
    q = Q(pk__in=[])
    for key, ids in by_zone.items():
        tz = ZoneInfo(key)
        q |= Q(station_id__in=ids, at__gte=datetime.combine(first, time(0), tzinfo=tz),
               at__lt=datetime.combine(end, time(0), tzinfo=tz))
    return q


def tally(stations, first: date, end: date, source: str = "auto") -> PeriodTally:
    """The plays of each station's local days first <= day < end. `source`: "rollup"
    (PostgreSQL's daily rollup), "direct" (the plays), "auto" (the rollup where there is
    one); both give the same numbers."""
    stations = list(stations)
    if not stations:
        return PeriodTally(stations, [])
    if source == "auto":
        source = "rollup" if use_rollup() else "direct"
    if source == "rollup":
        rows = (PlayDaily.objects.filter(station__in=stations, day__gte=first, day__lt=end)
                .values_list("station_id", "status", "plan", "topic")
                .annotate(n=Sum("plays"), s=Sum("seconds")).order_by())
    else:
        rows = (Play.objects.filter(local_days(stations, first, end))
                .values_list("station_id", "status", "plan", "topic")
                .annotate(n=Count("id"), s=Sum("seconds")).order_by())
    return PeriodTally(stations, [(sid, st, pl, tp, n, s or 0.0)
                                  for sid, st, pl, tp, n, s in rows])


def commune_totals(stations, first: date, end: date) -> list[CommuneTotals]:
    return tally(stations, first, end).totals()


def _plan_files(stations):
    """(plan dict, bulletins list) of every bulletin file in the stations' bundles."""
    import yaml

    seen = set()
    for b in Bundle.objects.filter(station__in=stations).only("manifest"):
        m = b.manifest or {}
        for rel, text in (m.get("files") or {}).items():
            if rel == m.get("schedule") or (rel, len(text), hash(text)) in seen:
                continue
            seen.add((rel, len(text), hash(text)))
            try:
                doc = yaml.safe_load(text)
            except Exception:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("plan"), dict):
                yield doc["plan"], doc.get("bulletins") or []


def plans_seen(stations, first: date, end: date,
               ids: set[str] | None = None) -> list[tuple[str, str]]:
    """(plan id, title) of the plans whose bulletins aired in the local days
    first <= day < end, by title (`ids`: those plan ids, already known from a tally)."""
    stations = list(stations)
    if ids is None:
        ids = tally(stations, first, end).plan_ids()
    titles: dict[str, str] = {}
    for plan, _ in _plan_files(stations):
        pid = str(plan.get("id") or "")
        if pid in ids and pid not in titles:
            titles[pid] = " ".join(str(plan.get("title") or "").split())
    for pid in ids - set(titles):  # a plan no bundle carries now: the name its rows gave
        last = (Play.objects.filter(local_days(stations, first, end), plan=pid).order_by("-at")
                .values_list("row", flat=True).first()) or {}
        titles[pid] = str(last.get("KeHoach") or "") if isinstance(last, dict) else ""
    return sorted(((p, titles[p] or p) for p in ids), key=lambda x: (x[1], x[0]))


def plan_topics(stations, plan_id: str) -> dict[str, str]:
    """The plan's topics (outline path -> title; parts of one bulletin are one topic), from
    every bulletin file of that plan in the stations' bundles, whatever its status."""
    topics: dict[str, str] = {}
    for plan, bulletins in _plan_files(stations):
        if str(plan.get("id") or "") != plan_id:
            continue
        for b in bulletins:
            if isinstance(b, dict) and b.get("id"):
                key = topic_of(str(b["id"]))
                title = re.sub(r"\s*\(phần \d+/\d+\)$", "", " ".join(str(b.get("title") or "").split()))
                topics.setdefault(key, title)
    return dict(sorted(topics.items()))


def with_plan_share(totals: list[CommuneTotals], topics: dict[str, str],
                    aired_by_station: dict[int, set[str]]) -> list[CommuneTotals]:
    for t in totals:
        aired = aired_by_station.get(t.station.pk, set()) & set(topics)
        t.topics_aired = len(aired)
        t.share = len(aired) / len(topics) if topics else None
    return totals
