"""The device's HTTP client for the server's API (/api/v1/, see docs/server.md).

Plain urllib: TLS verified by default (the system's CAs, or a CA file for a private
server), a timeout on every request, the device's Bearer token, ETag on the bundle.
Failures are typed so the follower can decide: Offline (try again later), Revoked (401:
stop syncing), RateLimited (429: wait Retry-After), Refused (any other 4xx, with the
server's Vietnamese message)."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from loa.errors import LoaError

TIMEOUT_S = 20.0
MAX_JSON = 64 << 20  # a bundle's YAML is small; refuse anything absurd
MAX_CLIP = 512 << 20


class ServerError(Exception):
    """Base of the client's failures; str() is Vietnamese."""


class Offline(ServerError):
    """No answer (DNS, refused, timeout, TLS, 5xx): keep playing from disk, retry later."""


class Revoked(ServerError):
    """401: the token is unknown or revoked; syncing stops until the device is enrolled again."""


class Refused(ServerError):
    """A 4xx other than 401/429, with the server's code and Vietnamese message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message or f"máy chủ từ chối yêu cầu (mã {status})")
        self.status, self.code = status, code


class RateLimited(ServerError):
    def __init__(self, retry_after: float):
        super().__init__(f"máy chủ yêu cầu chờ {retry_after:.0f} giây rồi gửi lại")
        self.retry_after = retry_after


@dataclass
class Bundle:
    etag: str
    manifest: dict


def base_url(url: str) -> str:
    """The server's root, checked: http(s)://host[:port][/prefix], no trailing slash."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoaError(f"địa chỉ máy chủ không hợp lệ: '{url}' (cần dạng "
                       "https://may-chu.example.vn).")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


class Client:
    """One server, one device token (None before enrolment)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT_S,
                 ca_file: str | None = None):
        self.url = base_url(url)
        self.token = token
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=ca_file)  # verify on, always

    # --- transport -------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None,
                 headers: dict[str, str] | None = None, limit: int = MAX_JSON,
                 ok: tuple[int, ...] = (200, 201)) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        req.add_header("User-Agent", "loa-player")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                payload = resp.read(limit + 1)
                if len(payload) > limit:
                    raise Offline("câu trả lời của máy chủ quá lớn")
                return resp.status, dict(resp.headers.items()), payload
        except urllib.error.HTTPError as exc:
            status = exc.code
            if status in ok or status == 304:
                return status, dict(exc.headers.items()), b""
            raw = exc.read(1 << 16) if exc.fp else b""
            self._raise(status, dict(exc.headers.items()), raw)
        except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError,
                OSError, http.client.HTTPException) as exc:  # a server dying mid-answer
            reason = getattr(exc, "reason", exc)
            raise Offline(f"không kết nối được máy chủ {self.url} ({reason})") from None
        raise AssertionError("unreachable")

    @staticmethod
    def _raise(status: int, headers: dict[str, str], raw: bytes):
        try:
            err = json.loads(raw.decode("utf-8"))
            code, message = str(err.get("error", "")), str(err.get("message", ""))
        except (ValueError, AttributeError, UnicodeDecodeError):
            code, message = "", ""
        if status == 401:
            raise Revoked(message or "máy chủ không nhận mã thiết bị (đã bị thu hồi?)")
        if status == 429:
            try:
                wait = float(headers.get("Retry-After") or headers.get("retry-after") or 30)
            except ValueError:
                wait = 30.0
            raise RateLimited(max(1.0, wait))
        if 400 <= status < 500:
            raise Refused(status, code, message)
        raise Offline(f"máy chủ đang lỗi (mã {status})")

    def _json(self, method: str, path: str, body: Any = None) -> dict:
        _, _, raw = self._request(method, path, body)
        try:
            out = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Offline("máy chủ trả lời không phải JSON") from None
        if not isinstance(out, dict):
            raise Offline("máy chủ trả lời không đúng dạng")
        return out

    # --- the protocol ------------------------------------------------------------------

    def enroll(self, code: str, hostname: str, version: str) -> dict:
        return self._json("POST", "/api/v1/enroll",
                          {"code": code, "hostname": hostname, "version": version})

    def bundle(self, etag: str | None = None) -> Bundle | None:
        """The current bundle, or None when `etag` is still current (304)."""
        headers = {"If-None-Match": f'"{etag}"'} if etag else {}
        status, head, raw = self._request("GET", "/api/v1/bundle", headers=headers)
        if status == 304:
            return None
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Offline("gói lịch từ máy chủ không phải JSON") from None
        if not isinstance(manifest, dict):
            raise Offline("gói lịch từ máy chủ không đúng dạng")
        tag = {k.lower(): v for k, v in head.items()}.get("etag", "").strip()
        tag = tag.removeprefix("W/").strip('"') or str(manifest.get("version", ""))
        return Bundle(tag, manifest)

    def clip(self, sha256: str, out, limit: int = MAX_CLIP) -> int:
        """Stream the clip's bytes into the open file `out`; returns the byte count."""
        req = urllib.request.Request(f"{self.url}/api/v1/clips/{sha256}", method="GET")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                n = 0
                while chunk := resp.read(1 << 16):
                    n += len(chunk)
                    if n > limit:
                        raise Offline("đoạn âm thanh quá lớn")
                    out.write(chunk)
                return n
        except urllib.error.HTTPError as exc:
            self._raise(exc.code, dict(exc.headers.items()), exc.read(1 << 16) if exc.fp else b"")
        except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError,
                OSError, http.client.HTTPException) as exc:  # a server dying mid-answer
            reason = getattr(exc, "reason", exc)
            raise Offline(f"không tải được đoạn âm thanh ({reason})") from None
        raise AssertionError("unreachable")

    def plays(self, rows: list[dict]) -> dict:
        return self._json("POST", "/api/v1/plays", {"rows": rows})

    def heartbeat(self, beat: dict) -> dict:
        return self._json("POST", "/api/v1/heartbeat", beat)

    def emergencies(self) -> list[dict]:
        got = self._json("GET", "/api/v1/emergencies").get("emergencies") or []
        return [e for e in got if isinstance(e, dict) and e.get("id")]

    def ack(self, emergency_id: str, stage: str, at: str, detail: str = "") -> None:
        quoted = urllib.parse.quote(emergency_id, safe="")
        self._json("POST", f"/api/v1/emergencies/{quoted}/ack",
                   {"stage": stage, "at": at, "detail": detail})
