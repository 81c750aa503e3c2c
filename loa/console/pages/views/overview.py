"""Tổng quan: is the player running and healthy, what plays now and next, what needs doing.

The page refreshes its status part by itself (a fetch of /tong-quan/khung/ every 15 s)."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path

from loa import station as svc
from loa.console import station
from loa.console.accounts.roles import has_role, roles_required
from loa.errors import LoaError

REFRESH_S = 15


def _context(request) -> dict:
    try:
        loaded = station.load()
    except LoaError:
        loaded = None  # overview() reads it again and keeps every problem, file and line
    clock = station.clock()
    ov = svc.overview(station.schedule_path(), clock, station=loaded,
                      bulletin_files=station.bulletin_files().values())
    st = ov.status
    tz = loaded.schedule.station.tz if loaded else clock.now().tzinfo
    return {
        "ov": ov, "st": st,
        "now_vi": svc.when_vi(clock.now(), tz),
        "now_playing": [{"play": p, "since": svc.when_vi(p.started_at or p.scheduled_at, tz)}
                        for p in ov.now_playing],
        "upcoming": [{"s": s, "at": svc.when_vi(s.at, tz)} for s in st.upcoming],
        "errors": [{"e": e, "at": svc.when_vi(e.at, tz, seconds=True)} for e in st.errors],
        "heartbeat_age": round(max(st.heartbeat_age_s or 0, 0)),
        "disk_vi": st.disk.describe() if st.disk else "",
        "is_leader": has_role(request.user, "leader"),
        "refresh_s": REFRESH_S,
    }


@roles_required()
def index(request):
    return render(request, "pages/overview/index.html", {"title": "Tổng quan",
                                                         **_context(request)})


@roles_required()
def fragment(request):
    """The status part alone, for the page's auto-refresh."""
    return render(request, "pages/overview/_status.html", _context(request))


urlpatterns = [
    path("", index, name="overview"),
    path("tong-quan/khung/", fragment, name="overview_fragment"),
]
