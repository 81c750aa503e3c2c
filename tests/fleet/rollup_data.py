"""One set of plays for the rollup tests, loaded the same way on SQLite (in the test
process) and on PostgreSQL (in a child process): three communes, one of them in another
zone, plays around local midnights, a retried batch, and rows written by the ORM."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from fleet.server_rig import play_row

REPO = Path(__file__).resolve().parents[2]

STATUSES = ["played", "late", "missed", "skipped", "failed", "interrupted"]
BULLETINS = ["ba-vi-2026/IV.1.a", "ba-vi-2026/IV.1.b-p1", "ba-vi-2026/IV.1.b-p2",
             "ba-vi-2026/IV.3.c", "ke-hoach-khac/V.2", "tin-xa-tuan-12", ""]
# Q1 2026 and the edges around it
Q1 = (date(2026, 1, 1), date(2026, 4, 1))
TIMES = ["2025-12-31T23:30:00+07:00", "2026-01-01T00:00:00+07:00", "2026-01-01T06:15:00+07:00",
         "2026-02-14T12:00:00+07:00", "2026-03-31T21:59:00+07:00", "2026-03-31T22:30:00+07:00",
         "2026-03-31T23:59:59+07:00", "2026-04-01T00:00:00+07:00", "2026-01-01T01:30:00+09:00"]


def rows(prefix: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        r = play_row(f"{prefix}-{i}", at=TIMES[i % len(TIMES)], status=STATUSES[i % 6],
                     bulletin=BULLETINS[(i // 2) % len(BULLETINS)])
        r["ThoiLuong"] = f"00:0{i % 5}:{(7 * i) % 60:02d}"
        if i % 7 == 3:
            del r["ThoiLuong"]  # no duration: seconds NULL
        elif i % 3 == 1:
            r["seconds"] = round(30 + i * 0.37, 2)  # sums of fractions, in any order
        out.append(r)
    return out


def seed() -> dict:
    """The plays, through the device API's ingest (twice for one batch) and the ORM.
    Returns what ingest said about the retried batch."""
    from loa.console.fleet import service as s
    from loa.console.fleet.models import Play

    s.add_province("binh-phuoc", "Bình Phước")
    a = s.add_station("xa-ba-vi", "Đài xã Ba Vì", "binh-phuoc")
    b = s.add_station("xa-nhat", "Đài xã giờ Tokyo", "binh-phuoc", tz="Asia/Tokyo")
    s.add_station("xa-tan-lap", "Đài xã Tân Lập", "binh-phuoc")
    files = {rel: (REPO / "schedules" / rel).read_text(encoding="utf-8")
             for rel in ("ba-vi.yaml", "bulletins/ba-vi-2026.yaml")}
    s.save_bundle(a, "ba-vi.yaml", files, [])  # the plan's topics, for the share
    devs = [s.enroll(s.create_enroll_code(st, name, []), "pi", "t").device
            for st, name in ((a, "Cụm 1"), (a, "Cụm 2"), (b, "Cụm Tokyo"))]
    for d, prefix in zip(devs, ("a1", "a2", "b1"), strict=True):
        s.ingest_plays(d, rows(prefix, 240))
    # a retried upload: half of it already stored, and one row twice in the batch
    again = rows("a1", 240)[100:220] + rows("a1x", 40) + rows("a1x", 1)
    keys, not_new = s.ingest_plays(devs[0], again)
    # the ORM writes some too (Django's INSERT; bulk_create ignoring a duplicate)
    checked = s.validate_rows(rows("orm", 30))
    orm = [Play(device_id=devs[2].pk, station_id=devs[2].station_id, received_at=s.now(),
                **{k: v for k, v in r.items() if k != "_json"}) for r in checked]
    orm[0].save()
    Play.objects.bulk_create(orm[1:] + [orm[0]], ignore_conflicts=True)
    return {"retried_keys": len(keys), "retried_not_new": not_new}


def numbers(first: date, end: date, source: str = "auto") -> dict:
    """What a report reads for local days first <= day < end, by station slug (pks differ
    between databases): the grouped counts, totals, plans and topics aired."""
    from loa.console.fleet import queries
    from loa.console.fleet.models import Station

    stations = list(Station.objects.order_by("slug"))
    t = queries.tally(stations, first, end, source)
    slug = {st.pk: st.slug for st in stations}
    groups = sorted([slug[sid], status, plan, topic, n, round(secs, 6)]
                    for sid, status, plan, topic, n, secs in t.groups)
    totals = {c.station.slug: [c.aired, c.missed, c.failed, round(c.seconds, 6)]
              for c in t.totals()}
    aired = {slug[sid]: sorted(ts) for sid, ts in t.aired_topics("ba-vi-2026").items()}
    out = {"groups": groups, "totals": totals, "plans": sorted(t.plan_ids()), "aired": aired,
           "plans_seen": queries.plans_seen(stations, first, end)}
    if source == "auto":  # the report itself, as the page and XLSX/DOCX get it
        from datetime import timedelta

        from loa.console.fleet import reports
        from loa.log.period import Period

        rep = reports.build("Bình Phước", stations,
                            Period(first, end - timedelta(days=1), "kỳ thử", "thu"),
                            "ba-vi-2026")
        out["report"] = {"plan": rep.plan_id, "topics": sorted(rep.topics),
                         "rows": [[r.station.slug, r.aired, r.missed, r.failed,
                                   round(r.seconds, 6), r.topics_aired, r.share]
                                  for r in rep.rows]}
    return out
