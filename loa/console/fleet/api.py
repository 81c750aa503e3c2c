"""The device API (/api/v1/): JSON in and out, bearer tokens, no session, no CSRF (no
cookie authenticates a device). Every query is scoped by the authenticated device."""

from __future__ import annotations

import logging
import re
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from loa.console.fleet import service
from loa.console.fleet.auth import device_required, enroll_limited, error, json_body
from loa.errors import LoaError

log = logging.getLogger(__name__)
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _ok(data, status: int = 200, **headers) -> JsonResponse:
    resp = JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    for k, v in headers.items():
        resp[k] = v
    return resp


def _refused(exc: LoaError) -> JsonResponse:
    code = getattr(exc, "code", "invalid")
    status = getattr(exc, "status", 400)
    return error(code, "; ".join(p.message for p in exc.problems), status)


def api(view):
    """Device API view: no login, no CSRF; a LoaError is a JSON refusal, never a 500."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except LoaError as exc:
            return _refused(exc)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return login_not_required(csrf_exempt(wrapped))


def with_json(view):
    """The view gets the request's JSON as its `body` argument; a body that is not JSON
    (or too large) is refused before the view runs (400/413, Vietnamese)."""

    @wraps(view)
    def parsed(request, *args, **kwargs):
        body = json_body(request)
        if isinstance(body, HttpResponse):
            return body
        return view(request, body, *args, **kwargs)

    return parsed


@enroll_limited
@api
@require_POST
@with_json
def enroll(request, body):
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return error("bad_request", "thiếu mã đăng ký (\"code\").", 400)
    done = service.enroll(body["code"], str(body.get("hostname") or ""),
                          str(body.get("version") or ""))
    return _ok(service.enroll_answer(done), status=201)


@api
@require_GET
@device_required
def bundle(request):
    dev = request.device
    service.touch(dev)
    # the etag alone first: most requests are answered 304 without loading the manifest
    current = service.current_etag(dev.station_id)
    wanted = [t.strip() for t in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")]
    if current is not None and (f'"{current}"' in wanted or current in wanted):
        resp = HttpResponse(status=304)
        resp["ETag"] = f'"{current}"'
        return resp
    b = service.current_bundle(dev.station)
    if b is None:
        return error("no_bundle", f"{dev.station.name} chưa có gói phát nào.", 404)
    return _ok(service.bundle_document(dev, b), ETag=f'"{b.etag}"', Cache_Control="no-cache")


@api
@require_GET
@device_required
def clip(request, sha256: str):
    dev = request.device
    if not _SHA.match(sha256) or not service.device_may_fetch_clip(dev, sha256):
        return error("not_found", "không có đoạn âm thanh này.", 404)
    path = service.clip_path(sha256)
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        log.error("clip %s is in a bundle but missing on disk (%s)", sha256, path)
        return error("not_found", "máy chủ mất tệp âm thanh này; báo kỹ thuật viên đài.", 404)
    resp = FileResponse(fh, content_type="audio/wav")
    resp["ETag"] = f'"{sha256}"'
    resp["Cache-Control"] = "private, max-age=31536000, immutable"
    return resp


@api
@require_POST
@device_required
@with_json
def plays(request, body):
    if not isinstance(body, dict) or "rows" not in body:
        return error("bad_request", "thiếu danh sách \"rows\".", 400)
    accepted, dup = service.ingest_plays(request.device, body["rows"])
    service.touch(request.device)
    return _ok({"accepted": accepted, "duplicates": dup})


@api
@require_POST
@device_required
@with_json
def heartbeat(request, body):
    return _ok(service.record_heartbeat(request.device, body))


@api
@require_GET
@device_required
def emergencies(request):
    service.touch(request.device)
    return _ok({"emergencies": service.pending_emergencies(request.device)})


@api
@require_POST
@device_required
@with_json
def ack(request, body, emergency_id: str):
    if not isinstance(body, dict) or body.get("stage") not in service.STAGES:
        return error("bad_request", "giai đoạn (\"stage\") phải là một trong: "
                     + ", ".join(service.STAGES) + ".", 400)
    at = body.get("at")
    if at is not None and service._opt_time(at) is None:
        return error("bad_request", "\"at\" phải là ngày giờ ISO có múi giờ.", 400)
    detail = body.get("detail") or ""
    if not isinstance(detail, str):
        return error("bad_request", "\"detail\" phải là chữ.", 400)
    if not service.record_ack(request.device.pk, emergency_id, body["stage"], at, detail):
        return error("not_found", "không có tin khẩn cấp này cho cụm loa này.", 404)
    return _ok({"ok": True})
