"""The audit log: every state change, by whom, when (the console's Nhật ký thao tác)."""

from __future__ import annotations

from loa.console.accounts.models import AuditEntry


def client_address(request) -> str | None:
    # behind Caddy/nginx REMOTE_ADDR is the proxy; the technician's README sets
    # X-Forwarded-For only when LOA_HTTPS is on, so trust it only then
    from django.conf import settings

    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        fwd = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if fwd:
            return fwd.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def record(request, action: str, target: str = "", detail: str = "", *, user=None,
           at=None) -> AuditEntry:
    """Write one entry. `request` may be None (the CLI); then `user` names who."""
    from django.conf import settings
    from django.utils import timezone

    from loa.console.accounts.roles import display_name

    who = user if user is not None else getattr(request, "user", None)
    if at is None:
        at = settings.LOA_CLOCK.now() if settings.LOA_CLOCK is not None else timezone.now()
    entry = AuditEntry(
        at=at,
        username=who.get_username() if who is not None and who.is_authenticated else "",
        full_name=display_name(who) if who is not None and who.is_authenticated else "",
        action=action, target=target[:500], detail=detail,
        address=client_address(request) if request is not None else None)
    entry.save()
    return entry
