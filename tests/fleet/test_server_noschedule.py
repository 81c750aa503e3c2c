"""A server with no station schedule of its own (`loa serve --database` alone): every
console page either works or says clearly that it needs a station's schedule; none fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db


def plain_routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)
    return ["/" + r for r in walk(get_resolver().url_patterns)
            if "<" not in r and not r.startswith("api/")]


def test_every_page_without_a_schedule_works_or_explains(data_dir, settings):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    settings.LOA_SCHEDULE = ""
    user = get_user_model().objects.create_user("quantri", password="Loa-kiem-thu-2026")
    user.groups.set([Group.objects.get_or_create(name=r)[0]
                     for r in ("editor", "leader", "technician", "admin")])
    client = Client(raise_request_exception=False)
    client.force_login(user)
    explained = 0
    routes = plain_routes()
    assert len(routes) >= 8
    for url in routes:
        resp = client.get(url)
        assert resp.status_code in (200, 302, 404, 405), (url, resp.status_code)
        body = resp.content.decode()
        assert "Có lỗi" not in body, url
        if "Máy chủ chưa có lịch phát riêng" in body:
            explained += 1
            assert "Máy chủ truyền thanh" in body  # the header names the server, not a file
    assert explained >= 3  # overview, bulletins, schedule ... say why they are empty


def test_logging_in_without_a_schedule_lands_on_the_stations(data_dir, settings):
    """A province or commune account opens on /dai/ (what it works on); an account that
    sees no station, and any account on a station's own console, on the overview."""
    from django.contrib.auth import get_user_model

    from loa.console.fleet import service

    settings.LOA_SCHEDULE = ""
    users = get_user_model().objects
    bp = service.add_province("binh-phuoc", "Bình Phước")
    st = service.add_station("xa-ba-vi", "Đài xã Ba Vì", "binh-phuoc")
    service.set_scope(users.create_user("tinh", password="Loa-kiem-thu-2026"), province=bp)
    service.set_scope(users.create_user("xa", password="Loa-kiem-thu-2026"), station=st)
    users.create_user("ngoai", password="Loa-kiem-thu-2026")
    users.create_superuser("goc", password="Loa-kiem-thu-2026")
    service.add_province("ha-noi", "Hà Nội")
    service.set_scope(users.create_user("trong", password="Loa-kiem-thu-2026"),
                      province=service.province("ha-noi"))  # a province with no station yet

    def landing(username: str) -> str:
        client = Client()
        resp = client.post("/dang-nhap/", {"username": username, "password": "Loa-kiem-thu-2026"})
        assert resp.status_code == 302, resp.content.decode()
        again = client.get("/dang-nhap/")  # already logged in: the same landing
        assert again.status_code == 302 and again["Location"] == resp["Location"]
        return resp["Location"]

    assert landing("tinh") == "/dai/"
    assert landing("xa") == "/dai/"
    assert landing("goc") == "/dai/"
    assert landing("ngoai") == "/"
    assert landing("trong") == "/"
    # where it lands works, and shows the province's station
    client = Client()
    client.post("/dang-nhap/", {"username": "tinh", "password": "Loa-kiem-thu-2026"})
    assert "Đài xã Ba Vì" in client.get("/dai/").content.decode()
    # `next` still wins
    resp = Client().post("/dang-nhap/?next=/bao-cao/", {"username": "tinh",
                                                        "password": "Loa-kiem-thu-2026"})
    assert resp["Location"] == "/bao-cao/"
    # a station's own console keeps the overview
    settings.LOA_SCHEDULE = str(Path(__file__).resolve().parents[2] / "schedules" / "ba-vi.yaml")
    assert landing("tinh") == "/"
