"""A server with no station schedule of its own (`loa serve --database` alone): every
console page either works or says clearly that it needs a station's schedule; none fails."""

from __future__ import annotations

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
