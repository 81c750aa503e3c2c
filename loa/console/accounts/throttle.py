"""Login throttling: after a few wrong passwords for an account, or from one address,
logins wait. Kept in the console's database so it holds across restarts and workers."""

from __future__ import annotations

import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from loa.console.accounts.models import LoginFailure

# an address gets more room than an account: several officers share one office PC
ADDRESS_FACTOR = 4


def _now():
    return settings.LOA_CLOCK.now() if settings.LOA_CLOCK is not None else timezone.now()


def _key(username: str) -> str:
    """The account a login names, as the form reads it (spaces stripped, NFKC: so
    " admin" and full-width "ａｄｍｉｎ" count against admin), case folded."""
    return unicodedata.normalize("NFKC", username.strip()).lower()[:150]


def _wait(failures, limit: int, window: timedelta) -> int:
    times = list(failures.order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return 0
    return max(0, math.ceil((times[-1] + window - _now()).total_seconds()))


def wait_seconds(username: str, address: str | None) -> int:
    """How long a login for `username` from `address` must wait (0: go ahead)."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_S)
    recent = LoginFailure.objects.filter(at__gte=_now() - window)
    allowed = settings.LOGIN_FAILURES_ALLOWED
    wait = _wait(recent.filter(username=_key(username)), allowed, window)
    if address:
        wait = max(wait, _wait(recent.filter(address=address), allowed * ADDRESS_FACTOR, window))
    return wait


def failed(username: str, address: str | None) -> None:
    LoginFailure.objects.create(at=_now(), username=_key(username), address=address)


def succeeded(username: str) -> None:
    LoginFailure.objects.filter(username=_key(username)).delete()
