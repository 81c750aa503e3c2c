"""Device authentication (bearer tokens) and rate limits of the device API.

The rate limit is a token bucket per device token (and per address for enrolling), kept
in this process's memory: behind several server processes each process counts its own
requests, so the effective limit is the per-process limit times the processes."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from functools import wraps

from django.conf import settings
from django.http import JsonResponse

from loa.console.fleet import service


def error(code: str, message: str, status: int, **headers) -> JsonResponse:
    resp = JsonResponse({"error": code, "message": message}, status=status,
                        json_dumps_params={"ensure_ascii": False})
    for k, v in headers.items():
        resp[k.replace("_", "-")] = v
    return resp


class Buckets:
    """Token buckets by key: `rate` per second refilled up to `burst`; bounded memory
    (the least recently used keys are forgotten: a forgotten key starts full)."""

    def __init__(self, rate: float, burst: float, keep: int = 100_000):
        self.rate, self.burst, self.keep = rate, burst, keep
        self._b: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Like take, without taking: 0 when a request would be allowed now."""
        t = time.monotonic()
        with self._lock:
            level, last = self._b.get(key, (self.burst, t))
        level = min(self.burst, level + (t - last) * self.rate)
        return 0.0 if level >= 1 else (1 - level) / self.rate

    def take(self, key: str) -> float:
        """0 when allowed; else the seconds to wait before the next request."""
        t = time.monotonic()
        with self._lock:
            level, last = self._b.pop(key, (self.burst, t))
            level = min(self.burst, level + (t - last) * self.rate)
            if level >= 1:
                self._b[key] = (level - 1, t)
                wait = 0.0
            else:
                self._b[key] = (level, t)
                wait = (1 - level) / self.rate
            while len(self._b) > self.keep:
                self._b.popitem(last=False)
        return wait


def _limits() -> tuple[Buckets, Buckets]:
    per_min = float(getattr(settings, "LOA_API_RATE_PER_MIN", 600))
    burst = float(getattr(settings, "LOA_API_BURST", 120))
    return (Buckets(per_min / 60, burst),
            Buckets(float(getattr(settings, "LOA_ENROLL_FAILURES_PER_MIN", 10)) / 60, 10))


DEVICE_BUCKETS, ENROLL_BUCKETS = _limits()


def reset_limits() -> None:
    """Tests change the settings; fresh buckets follow them."""
    global DEVICE_BUCKETS, ENROLL_BUCKETS
    DEVICE_BUCKETS, ENROLL_BUCKETS = _limits()


def _too_many(wait: float) -> JsonResponse:
    return error("rate_limited", "gửi yêu cầu quá dày; chờ một lát rồi gửi lại.", 429,
                 Retry_After=str(max(1, math.ceil(wait))))


def bearer(request) -> str:
    head = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = head.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def device_required(view):
    """The view gets request.device (a Device, not revoked) or the request is answered
    401 (no/unknown/revoked token) or 429 (too many requests for this token)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        token = bearer(request)
        if not token:
            return error("unauthorized", "thiếu mã thiết bị (Authorization: Bearer …).", 401)
        key = service.digest(token)
        wait = DEVICE_BUCKETS.take(key)
        if wait:
            return _too_many(wait)
        dev = service.authenticate(token)
        if dev is None:
            return error("unauthorized", "mã thiết bị không đúng hoặc đã bị thu hồi; cần "
                                         "đăng ký lại với mã mới.", 401)
        request.device = dev
        return view(request, *args, **kwargs)

    return guarded


def enroll_limited(view):
    """Wrong enroll codes per address are limited (guessing), right ones are not (a
    technician enrolls a whole commune's clusters from one office)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        addr = request.META.get("REMOTE_ADDR", "")
        wait = ENROLL_BUCKETS.wait(addr)
        if wait:
            return _too_many(wait)
        resp = view(request, *args, **kwargs)
        if resp.status_code in (400, 403):
            ENROLL_BUCKETS.take(addr)
        return resp

    return guarded


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_BODY = 4 * 1024 * 1024  # 1000 upward rows are ~1 MB


def _no_constant(name: str):
    # NaN and Infinity are not JSON (Python reads them; PostgreSQL's jsonb does not)
    raise ValueError(f"not JSON: {name}")


def json_body(request):
    """The request's JSON (any type), or a JsonResponse refusing it (400/413)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        return error("too_large", f"nội dung gửi lên lớn quá {MAX_BODY // (1024 * 1024)} MB.",
                     413)
    # read the stream ourselves: request.body would apply the form-upload limit (2.5 MB)
    raw = request.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return error("too_large", f"nội dung gửi lên lớn quá {MAX_BODY // (1024 * 1024)} MB.",
                     413)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        return error("bad_json", "nội dung gửi lên không phải JSON hợp lệ (UTF-8).", 400)
    # PostgreSQL stores neither NUL nor half a surrogate pair: refused here, not a 500 later
    if b"\\u0000" in raw:
        return error("bad_json", "nội dung gửi lên có ký tự NUL (\\u0000).", 400)
    if _SURROGATE.search(raw):
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return error("bad_json", "nội dung gửi lên có ký tự Unicode hỏng (nửa cặp "
                                     "surrogate).", 400)
    return data
