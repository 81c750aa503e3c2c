"""Every URL of the console: a logged-out client is sent to log in, every view declares
its roles, and each role without access is refused (403) for GET and POST alike."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from loa.console.accounts.roles import ROLES

OPEN = {"login"}  # the only pages a stranger may see


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def sample_url(route: str) -> str:
    """A concrete URL for a route; parameters get harmless sample values (the role
    check comes before the view looks at them)."""
    url = re.sub(r"<int:\w+>", "1", route)
    url = re.sub(r"<(?:str|slug|path|uuid):\w+>|<\w+>", "x", url)
    return "/" + url


# the device API (/api/v1/) authenticates devices by token, not people by session:
# tests/fleet/test_server_api.py checks each of its routes refuses a missing token
ROUTES = sorted((sample_url(r), p.name or r, p.callback) for r, p in walk(get_resolver().url_patterns)
                if not r.startswith("api/"))


def test_every_view_declares_its_roles():
    missing = [name for _, name, view in ROUTES
               if name not in OPEN and not hasattr(view, "loa_roles")]
    assert not missing, f"views without @roles_required: {missing}"
    assert len(ROUTES) >= 10


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_logged_out_client_is_sent_to_login_everywhere(station, method):
    client = Client()
    for url, name, _ in ROUTES:
        if name in OPEN:
            continue
        resp = getattr(client, method)(url)
        assert resp.status_code == 302, (url, resp.status_code)
        assert resp["Location"].startswith("/dang-nhap/?next="), (url, resp["Location"])


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_is_refused_what_it_may_not_do(client_as, role):
    client = client_as(role)
    refused = 0
    for url, name, view in ROUTES:
        allowed = getattr(view, "loa_roles", None)
        if name in OPEN or not allowed or role in allowed:
            continue
        for method in ("get", "post"):
            resp = getattr(client, method)(url)
            assert resp.status_code == 403, (role, method, url, resp.status_code)
            assert "Không có quyền" in resp.content.decode()
        refused += 1
    # every role is kept out of something (nobody is all-powerful by default)
    assert refused > 0, role
