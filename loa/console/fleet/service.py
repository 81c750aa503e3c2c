"""The fleet's service layer: what the CLI, the console pages and the device API all call.

ORM only, no HTTP. Errors for people are LoaError (Vietnamese, names not ids). The MQTT
side is optional: `loa serve --mqtt` installs a bus (publisher) and a broker admin (device
credentials) with `use_mqtt`; without them emergencies reach devices by HTTP polling."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from loa.console.fleet.models import (
    DEFAULT_TZ,
    Bundle,
    Clip,
    Delivery,
    Device,
    Emergency,
    EnrollCode,
    Heartbeat,
    Play,
    Province,
    Scope,
    Station,
)
from loa.errors import LoaError

log = logging.getLogger(__name__)

HEARTBEAT_KEEP = timedelta(days=2)  # history per device (~2,900 rows); the latest is on Device
MAX_BATCH_ROWS = 1000
MAX_ROW_BYTES = 16 * 1024
FINAL_STATUSES = ("played", "late", "failed", "missed", "interrupted", "skipped")
STAGES = ("received", "started", "finished", "failed")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# enroll codes are typed by a person from a phone screen: no 0/O, 1/I/L
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def now() -> datetime:
    clock = getattr(settings, "LOA_CLOCK", None)
    return clock.now() if clock is not None else timezone.now()


def digest(secret: str) -> str:
    """What is stored of a token or code: its SHA-256 (both are random, ≥ 60 bits)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- MQTT (optional) ----------------------------------------------------------------------

_bus = None  # loa.fleet.mqtt.FleetBus
_broker_admin = None  # loa.fleet.mqtt.BrokerAdmin
_mqtt_public: dict | None = None  # what devices are told at enrollment


def use_mqtt(bus=None, admin=None, public: dict | None = None) -> None:
    """Install (or, with no arguments, remove) the server process's MQTT bus and admin."""
    global _bus, _broker_admin, _mqtt_public
    _bus, _broker_admin, _mqtt_public = bus, admin, public


# --- scope ---------------------------------------------------------------------------------

def stations_for(user) -> QuerySet[Station]:
    """The stations an account may see: a superuser all; a province account its
    province's; a commune account its own; anyone else none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Station.objects.none()
    if user.is_superuser:
        return Station.objects.all()
    scope = Scope.objects.filter(user=user).first()
    if scope is None:
        return Station.objects.none()
    if scope.station_id is not None:
        return Station.objects.filter(pk=scope.station_id)
    return Station.objects.filter(province_id=scope.province_id)


def can_see(user, station: Station) -> bool:
    return station is not None and stations_for(user).filter(pk=station.pk).exists()


def can_manage(user, station: Station) -> bool:
    """Enroll codes, revoking, emergencies: an admin (or technician) who sees the station."""
    from loa.console.accounts.roles import has_role

    return can_see(user, station) and (user.is_superuser or has_role(user, "admin", "technician"))


def devices_for(user) -> QuerySet[Device]:
    return Device.objects.filter(station__in=stations_for(user))


def set_scope(user, *, province: Province | None = None, station: Station | None = None) -> Scope:
    if (province is None) == (station is None):
        raise LoaError("tài khoản thuộc một tỉnh hoặc một đài, không cả hai.")
    scope, _ = Scope.objects.update_or_create(user=user, defaults={"province": province,
                                                                   "station": station})
    return scope


# --- provinces and stations ------------------------------------------------------------------

def _check_slug(slug: str, what: str) -> str:
    if not _SLUG.match(slug or ""):
        raise LoaError(f"mã {what} '{slug}' không hợp lệ: chỉ dùng chữ thường không dấu, số và "
                       "dấu gạch ngang, ví dụ xa-ba-vi.")
    return slug


def add_province(slug: str, name: str) -> Province:
    _check_slug(slug, "tỉnh")
    if not name.strip():
        raise LoaError("cần tên tỉnh (--name).")
    return _create(Province, f"đã có tỉnh mã '{slug}'.", slug=slug, name=name.strip())


def _create(model, exists: str, **fields):
    """A new row, or LoaError(exists) when its unique key is taken."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise LoaError(exists) from None


def _one(found, missing: str):
    """The row found (a query's .first()), or LoaError(missing)."""
    if found is None:
        raise LoaError(missing)
    return found


def province(slug: str) -> Province:
    return _one(Province.objects.filter(slug=slug).first(), f"không có tỉnh mã '{slug}'.")


def add_station(slug: str, name: str, province_slug: str | None = None,
                tz: str = DEFAULT_TZ) -> Station:
    from zoneinfo import ZoneInfo

    _check_slug(slug, "đài")
    if not name.strip():
        raise LoaError("cần tên đài (--name).")
    try:
        ZoneInfo(tz)
    except Exception:
        raise LoaError(f"không biết múi giờ '{tz}' (ví dụ: Asia/Ho_Chi_Minh).") from None
    prov = province(province_slug) if province_slug else None
    return _create(Station, f"đã có đài mã '{slug}'.", slug=slug, name=name.strip(),
                   province=prov, tz=tz)


def station(slug: str) -> Station:
    return _one(Station.objects.filter(slug=slug).first(),
                f"không có đài mã '{slug}' (xem: loa fleet stations).")


def device(device_id: str) -> Device:
    return _one(Device.objects.select_related("station").filter(pk=device_id).first(),
                f"không có cụm loa mã '{device_id}' (xem: loa fleet devices).")


# --- enrollment and tokens ---------------------------------------------------------------------

def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def _code_key(code: str) -> str:
    return digest("".join(c for c in code.upper() if c.isalnum()))


def create_enroll_code(station_: Station, name: str, zones: Iterable[str] = (),
                       hours: float = 24, user=None) -> str:
    """A one-time code for enrolling one device as `name` playing `zones` of the station;
    shown once (only its hash is kept). `user` None: the CLI, trusted."""
    if user is not None and not can_manage(user, station_):
        raise LoaError("tài khoản này không được tạo mã đăng ký cho đài này.")
    name = (name or "").strip()
    if not name:
        raise LoaError("cần tên cụm loa (--name), ví dụ \"Cụm loa thôn Đoài\".")
    if not 0 < hours <= 24 * 30:
        raise LoaError("thời hạn của mã phải từ vài phút đến 30 ngày (--hours).")
    zones = [z.strip() for z in zones if z and z.strip()]
    code = new_code()
    at = now()
    EnrollCode.objects.create(code_hash=_code_key(code), station=station_, name=name,
                              zones=zones, created_by=user if user is not None else None,
                              created_at=at, expires_at=at + timedelta(hours=hours))
    return code


class Refused(LoaError):
    """A device request the server refuses: `code` for the API's JSON, `status` its HTTP."""

    def __init__(self, message: str, code: str = "invalid", status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


@dataclass
class Enrolled:
    device: Device
    token: str


def enroll(code: str, hostname: str = "", version: str = "") -> Enrolled:
    at = now()
    with transaction.atomic():
        ec = (EnrollCode.objects.select_for_update().select_related("station")
              .filter(code_hash=_code_key(code or "")).first())
        if ec is None:
            raise Refused("mã đăng ký không đúng.", "bad_code", 403)
        if ec.used_at is not None:
            raise Refused("mã đăng ký này đã được dùng; xin mã mới ở đài.", "code_used", 403)
        if ec.expires_at <= at:
            raise Refused("mã đăng ký đã hết hạn; xin mã mới ở đài.", "code_expired", 403)
        token = secrets.token_urlsafe(32)
        for _ in range(5):
            dev_id = "d-" + secrets.token_hex(5)
            if not Device.objects.filter(pk=dev_id).exists():
                break
        dev = Device.objects.create(id=dev_id, station=ec.station, name=ec.name,
                                    zones=list(ec.zones), hostname=(hostname or "")[:200],
                                    version=(version or "")[:40], token_hash=digest(token),
                                    enrolled_at=at)
        ec.used_at, ec.device = at, dev
        ec.save(update_fields=["used_at", "device"])
    if _broker_admin is not None:
        try:
            _broker_admin.add_device(dev.id, token)
        except Exception:  # the device still polls over HTTP; the operator sees the log
            log.exception("broker: could not add device %s", dev.id)
    return Enrolled(dev, token)


def mqtt_for_devices() -> dict | None:
    return dict(_mqtt_public) if _mqtt_public else None


def enroll_answer(e: Enrolled) -> dict:
    st = e.device.station
    return {"device": e.device.id, "token": e.token, "name": e.device.name,
            "station": {"slug": st.slug, "name": st.name}, "zones": list(e.device.zones),
            "mqtt": mqtt_for_devices()}


def authenticate(token: str) -> Device | None:
    """The device of a bearer token, if it is not revoked."""
    if not token:
        return None
    found = list(Device.objects.raw(_auth_sql(), [digest(token)]))
    return found[0] if found else None


def _auth_sql() -> str:
    """Every request runs it: plain SQL (the ORM's query building cost more than the
    query), without the last heartbeat (a deferred field) or the station (loaded when a
    view needs it)."""
    global _AUTH_SQL
    if _AUTH_SQL is None:
        cols = ", ".join(f.column for f in Device._meta.concrete_fields
                         if f.name != "last_heartbeat")
        _AUTH_SQL = (f"SELECT {cols} FROM {Device._meta.db_table} "
                     "WHERE token_hash = %s AND revoked_at IS NULL LIMIT 1")
    return _AUTH_SQL


_AUTH_SQL: str | None = None


def revoke_device(device_id: str, user=None) -> Device:
    dev = device(device_id)
    if user is not None and not can_manage(user, dev.station):
        raise LoaError("tài khoản này không được thu hồi cụm loa của đài này.")
    if dev.revoked_at is None:
        dev.revoked_at = now()
        dev.save(update_fields=["revoked_at"])
    if _broker_admin is not None:
        try:
            _broker_admin.remove_device(dev.id)
            Device.objects.filter(pk=dev.pk).update(broker_removed_at=now())
        except Exception:  # dispatch_pending tries again
            log.exception("broker: could not remove device %s", dev.id)
    else:
        _notify_dispatcher()  # the serving process takes it off the broker now
    return dev


# --- bundles and clips -----------------------------------------------------------------------

def clips_root() -> Path:
    from loa.settings import data_dir

    return data_dir() / "server" / "clips"


def clip_path(sha256: str) -> Path:
    return clips_root() / sha256[:2] / f"{sha256}.wav"


def store_clip(source: Path) -> Clip:
    """Copy a produced clip into the content-addressed store (temp, fsync, rename)."""
    import os
    import tempfile

    h = hashlib.sha256()
    size = 0
    with open(source, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
            size += len(block)
    sha = h.hexdigest()
    dest = clip_path(sha)
    if not dest.is_file() or dest.stat().st_size != size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    clip, _ = Clip.objects.get_or_create(sha256=sha, defaults={"bytes": size})
    return clip


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def save_bundle(station_: Station, schedule_name: str, files: dict[str, str],
                clips: list[dict], by: str = "") -> Bundle:
    """Store a bundle (idempotent: the same manifest again is the same bundle, made
    current again). etag = sha256 of the canonical manifest."""
    if schedule_name not in files:
        raise LoaError("gói phát phải có tệp lịch phát.")
    manifest = {"station": station_.slug, "schedule": schedule_name, "files": files,
                "clips": sorted(clips, key=lambda c: (c["bulletin"], c["lang"], c["sha256"]))}
    etag = hashlib.sha256(canonical(manifest)).hexdigest()
    shas = {c["sha256"] for c in clips}
    known = set(Clip.objects.filter(sha256__in=shas).values_list("sha256", flat=True))
    if shas - known:
        raise LoaError("gói phát nhắc tới đoạn âm thanh chưa có trên máy chủ.")
    with transaction.atomic():
        bundle = Bundle.objects.filter(station=station_, etag=etag).first()
        if bundle is None:
            bundle = Bundle.objects.create(station=station_, etag=etag, manifest=manifest,
                                           created_at=now(), created_by=by)
            bundle.clips.set(list(shas))
        elif current_bundle(station_) != bundle:
            bundle.created_at = now()  # published again: current again
            bundle.save(update_fields=["created_at"])
    return bundle


def current_bundle(station_: Station) -> Bundle | None:
    return Bundle.objects.filter(station=station_).order_by("-created_at", "-id").first()


def bundle_document(dev: Device, bundle: Bundle) -> dict:
    m = bundle.manifest
    st = dev.station
    return {"version": bundle.etag, "station": {"slug": st.slug, "name": st.name, "tz": st.tz},
            "created_at": bundle.created_at.isoformat(), "schedule": m["schedule"],
            "files": m["files"], "clips": m["clips"], "zones": list(dev.zones)}


def device_may_fetch_clip(dev: Device, sha256: str) -> bool:
    return Bundle.objects.filter(station_id=dev.station_id, clips__sha256=sha256).exists()


def publish(station_: Station, schedule_path: str | Path, by: str = "",
            note=None) -> tuple[Bundle, list[str]]:
    """Render the schedule's approved bulletins with loa's own pipeline, store the clips,
    and make a bundle of the schedule and the bulletin files it uses. Returns the bundle
    and the Vietnamese warnings worth showing. Refuses (LoaError) when a clip is missing:
    devices must never get a bundle they cannot play."""
    import os

    from loa.station.audio import recording_key, render
    from loa.station.core import load_station

    path = Path(schedule_path).resolve()
    if not path.is_file():
        raise LoaError("không có tệp lịch phát này.", path)
    loaded = load_station(path)  # LoaError with file and line if the schedule is broken
    folder = path.parent
    files = {path.name: path.read_text(encoding="utf-8")}
    for prog in loaded.schedule.programs.values():
        f = Path(prog.bulletins_file).resolve()
        rel = os.path.relpath(f, folder)
        if rel.startswith(".."):
            raise LoaError(f"tệp bản tin {f.name} phải nằm trong thư mục của lịch phát "
                           "(hoặc thư mục con) để gửi xuống cụm loa.", path)
        files[Path(rel).as_posix()] = f.read_text(encoding="utf-8")
    result = render(path, note=note)
    by_text = {o.text: o for o in result.outcomes}
    clips: list[dict] = []
    failed = []
    for b in result.needed:
        o = by_text.get(recording_key(b) if b.audio else b.text)
        if o is None or o.clip is None:
            failed.append(f"“{b.title}” [{b.id}]: {o.error if o else 'không đọc được'}")
            continue
        clip = store_clip(Path(o.clip.path))
        # what the clip binds: the approval hash of the bulletin as it airs (title, words,
        # recording, voice), so a player can tell it belongs to the bulletin it loaded
        clips.append({"bulletin": b.key, "lang": b.language, "sha256": clip.sha256,
                      "bytes": clip.bytes, "text_sha256": b.approval_hash()})
    # versions in other languages: what the station's own daemon prepares (planner
    # _airing: every approved version with its translator's recording), produced the same
    # way (chime, intro, levelled); a text-only version airs nowhere yet, so not here
    renderer = None
    for b in result.needed:
        for lang in sorted(b.versions):
            aired = b.for_air(lang)
            if aired is None:
                continue  # not approved (or no recording): the Vietnamese one airs
            if renderer is None:
                from loa.languages import lower_name
                from loa.station.audio import _produce_outcome
                from loa.station.core import clock_for
                from loa.station.wiring import chain_for, renderer_for

                st = loaded.schedule.station
                renderer = renderer_for(st, chain_for(st, clock_for(loaded, None)))
            o = _produce_outcome(renderer, aired)
            if o.clip is None:
                failed.append(f"“{b.title}” [{b.id}] bản {lower_name(lang)}: {o.error}")
                continue
            clip = store_clip(Path(o.clip.path))
            clips.append({"bulletin": b.key, "lang": lang, "sha256": clip.sha256,
                          "bytes": clip.bytes, "text_sha256": aired.approval_hash()})
    if failed:
        raise LoaError(*[f"không đọc được bản tin {f}" for f in failed])
    unique = {(c["bulletin"], c["lang"]): c for c in clips}
    bundle = save_bundle(station_, path.name, files, list(unique.values()), by=by)
    from loa.schedule.expand import missing_versions

    warnings = [str(r.detail_vi) for r in result.refused] + list(result.notes)
    warnings += missing_versions(loaded.schedule, loaded.bulletins)  # those zones hear vi
    return bundle, warnings


# --- plays ------------------------------------------------------------------------------------

def _aware(value: Any, what: str, row_no: int) -> datetime:
    if not isinstance(value, str):
        raise Refused(f"dòng {row_no}: thiếu {what}.", "bad_row")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(f"dòng {row_no}: {what} '{value[:40]}' không phải ngày giờ ISO.",
                      "bad_row") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise Refused(f"dòng {row_no}: {what} '{value[:40]}' thiếu múi giờ.", "bad_row")
    return t


def _seconds(row: dict) -> float | None:
    for k in ("seconds", "duration_s"):
        v = row.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    v = row.get("ThoiLuong")
    if isinstance(v, str):
        parts = v.split(":")
        if len(parts) == 3 and all(p.isdigit() and len(p) <= 4 for p in parts):
            h, m, s = (int(x) for x in parts)
            return float(h * 3600 + m * 60 + s)
    return None


# the text columns: (column, keys in the row, most characters, what it is for the message)
_TEXTS = (("zone", ("zone", "MaCumLoa"), 100, "vùng phát"),
          ("bulletin", ("bulletin", "MaBanTin"), 300, "mã bản tin"),
          ("title", ("title", "TieuDe"), 500, "tiêu đề"),
          ("kind", ("kind", "LoaiBanTin"), 20, "loại bản tin"),
          ("reason", ("reason", "LyDo"), 2000, "lý do"))
_SCALARS = (int, float, bool, type(None))


def _text(row: dict, keys: tuple[str, ...], limit: int, what: str, row_no: int) -> str:
    for k in keys:
        v = row.get(k)
        if v is None:
            continue
        if not isinstance(v, str):
            raise Refused(f"dòng {row_no}: {what} phải là chữ.", "bad_row")
        if len(v) > limit:
            raise Refused(f"dòng {row_no}: {what} dài quá {limit} ký tự.", "bad_row")
        return v
    return ""


def _row_too_big(row: dict) -> bool:
    """Is the row's JSON longer than MAX_ROW_BYTES? An upper bound from its strings first
    (every character escaped as \\uXXXX), the exact JSON only when the bound is over: a
    json.dumps per row was a third of the ingestion time."""
    n = 2
    for k, v in row.items():
        n += 6 * len(k) + 4
        if isinstance(v, str):
            n += 6 * len(v) + 2
        elif isinstance(v, _SCALARS) and (not isinstance(v, int) or -10**18 < v < 10**18):
            n += 32
        else:  # nested or huge: measure
            n = MAX_ROW_BYTES + 1
            break
    if n <= MAX_ROW_BYTES:
        return False
    return len(json.dumps(row, ensure_ascii=False)) > MAX_ROW_BYTES


def validate_rows(rows: Any) -> list[dict]:
    """Every row checked before any is stored: one bad row refuses the batch (the
    device's log keeps them; its owner sees the message)."""
    from loa.log.labels import outline_of, plan_of

    if not isinstance(rows, list):
        raise Refused("thiếu danh sách \"rows\".", "bad_request")
    if len(rows) > MAX_BATCH_ROWS:
        raise Refused(f"một lần gửi tối đa {MAX_BATCH_ROWS} dòng (đã gửi {len(rows)}).",
                      "too_many_rows", 413)
    out = []
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise Refused(f"dòng {i} không phải một đối tượng JSON.", "bad_row")
        key = row.get("play_key", row.get("MaLuotPhat"))
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise Refused(f"dòng {i}: thiếu mã lượt phát (play_key) hoặc dài quá 200 ký tự.",
                          "bad_row")
        status = row.get("status", row.get("TrangThai"))
        if status not in FINAL_STATUSES:
            raise Refused(f"dòng {i}: trạng thái '{str(status)[:30]}' không hợp lệ (chỉ gửi "
                          "lượt phát đã xong: " + ", ".join(FINAL_STATUSES) + ").", "bad_row")
        when = row.get("at") or row.get("ThoiGianBatDau") or row.get("ThoiGianTheoLich")
        at = _aware(when, "giờ phát", i)
        if _row_too_big(row):
            raise Refused(f"dòng {i} lớn quá {MAX_ROW_BYTES // 1024} KB.", "bad_row", 413)
        checked = {"play_key": key, "status": status, "at": at}
        for col, keys, limit, what in _TEXTS:
            checked[col] = _text(row, keys, limit, what, i)
        bulletin = checked["bulletin"]
        checked.update(plan=plan_of(bulletin)[:300], topic=outline_of(bulletin)[:100],
                       seconds=_seconds(row), row=row)
        out.append(checked)
    return out


def ingest_plays(dev: Device, rows: Any) -> tuple[list[str], int]:
    """Store a batch of a device's final plays, idempotent by (device, play_key).
    Returns (every play key of the batch, in order: all are safely stored now; how many
    rows of the batch were not stored now: already there, or twice in the batch)."""
    checked = validate_rows(rows)
    keys = list(dict.fromkeys(r["play_key"] for r in checked))
    if not checked:
        return [], 0
    received = now()
    once = list({r["play_key"]: r for r in reversed(checked)}.values())[::-1]
    from django.db import connection

    if connection.vendor == "postgresql":
        return keys, len(checked) - _insert_pg(dev, once, received)
    existing = set(Play.objects.filter(device=dev, play_key__in=keys)
                   .values_list("play_key", flat=True))
    fresh = [Play(device_id=dev.pk, station_id=dev.station_id, received_at=received, **r)
             for r in once if r["play_key"] not in existing]
    # a retry racing its first attempt: the unique (device, play_key) keeps one row
    Play.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    return keys, len(checked) - len(fresh)


# (column, its type): the order of each row's JSON array in _insert_pg
_PLAY_COLUMNS = (("play_key", "text"), ("at", "timestamptz"), ("zone", "text"),
                 ("bulletin", "text"), ("title", "text"), ("kind", "text"),
                 ("reason", "text"), ("plan", "text"), ("topic", "text"), ("status", "text"),
                 ("seconds", "float8"), ("row", "jsonb"))


def _insert_sql() -> str:
    from django.db import connection

    q = connection.ops.quote_name
    names = ", ".join(q(c) for c, _ in _PLAY_COLUMNS)
    cols = ", ".join(f"e -> {i}" if t == "jsonb" else f"(e ->> {i})::{t}"
                     for i, (_, t) in enumerate(_PLAY_COLUMNS))
    return (f"INSERT INTO {q(Play._meta.db_table)} (device_id, station_id, received_at, "
            f"{names}) SELECT %s, %s, %s, {cols} FROM jsonb_array_elements(%s::jsonb) AS e "
            "ON CONFLICT (device_id, play_key) DO NOTHING")


def _insert_pg(dev: Device, rows: list[dict], received: datetime) -> int:
    """One INSERT ... SELECT FROM jsonb_array_elements(one JSON text) ON CONFLICT DO
    NOTHING: the batch is encoded once by json (C) and taken apart by PostgreSQL, where
    psycopg's per-element array dumping (Python) and a json.dumps per row cost more than
    the insert itself. Returns the rows inserted. One statement, one transaction: the
    batch is stored whole or not at all before the device hears "accepted"."""
    import psycopg
    from django.db import connection

    batch = [[r["play_key"], r["at"].isoformat(), r["zone"], r["bulletin"], r["title"],
              r["kind"], r["reason"], r["plan"], r["topic"], r["status"], r["seconds"],
              r["row"]] for r in rows]
    try:  # PostgreSQL's JSON has no NaN/Infinity (json_body refuses them from devices)
        text = json.dumps(batch, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise Refused("có số không hợp lệ (NaN, vô cực) trong các dòng gửi lên.",
                      "bad_row") from None
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cur:
        cur.execute(_insert_sql(), [dev.pk, dev.station_id, received, text])
        return cur.rowcount


# --- heartbeats ---------------------------------------------------------------------------------

def _opt_time(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


# when this process last pruned a device's heartbeat history: once an hour is enough (a
# DELETE per heartbeat was a third of its cost); another process prunes on its own
PRUNE_EVERY = timedelta(hours=1)
_pruned: dict[str, datetime] = {}


def record_heartbeat(dev: Device, data: Any) -> dict:
    if not isinstance(data, dict):
        raise Refused("nhịp tim phải là một đối tượng JSON.", "bad_request")
    if len(canonical(data)) > 8192:
        raise Refused("nhịp tim lớn quá 8 KB.", "too_large", 413)
    received = now()

    def num(k, kind):
        v = data.get(k)
        return kind(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    ct = data.get("clock_trusted")
    fields = {
        "last_seen_at": received, "heartbeat_at": received, "last_heartbeat": data,
        "clock_trusted": ct if isinstance(ct, bool) else None,
        "unsent": num("unsent", int), "disk_free_mb": num("disk_free_mb", float),
        "signal_dbm": num("signal_dbm", int),
        "version": str(data.get("version") or "")[:40],
        "audio": str(data.get("audio") or "")[:200],
        "last_play_at": _opt_time(data.get("last_play")),
        "bundle": str(data.get("bundle") or "")[:64],
    }
    with transaction.atomic():  # one commit, not three
        Device.objects.filter(pk=dev.pk).update(**fields)
        Heartbeat.objects.create(device=dev, received_at=received, data=data)
        last = _pruned.get(dev.pk)
        if last is None or not timedelta(0) <= received - last < PRUNE_EVERY:
            Heartbeat.objects.filter(device=dev,
                                     received_at__lt=received - HEARTBEAT_KEEP).delete()
            _pruned[dev.pk] = received
    return {"bundle": current_etag(dev.station_id),
            "emergencies": Delivery.objects.filter(device=dev, finished_at__isnull=True,
                                                   failed_at__isnull=True).count()}


def current_etag(station_id: int) -> str | None:
    """The current bundle's etag alone (current_bundle also loads the manifest)."""
    return (Bundle.objects.filter(station_id=station_id).order_by("-created_at", "-id")
            .values_list("etag", flat=True).first())


def touch(dev: Device) -> None:
    """A request from the device: it is alive (cheap; at most once a minute)."""
    at = now()
    if dev.last_seen_at is None or at - dev.last_seen_at > timedelta(seconds=60):
        Device.objects.filter(pk=dev.pk).update(last_seen_at=at)


# --- emergencies ----------------------------------------------------------------------------------

def send_emergency(user, title: str, text: str, stations: Iterable[Station] = (),
                   devices: Iterable[Device | str] = (), zones: Iterable[str] = ()) -> Emergency:
    """Create the emergency and one delivery per chosen device (every active device of
    the chosen stations, plus the chosen devices) and push it on MQTT if the server has
    a bus. `user` None: the CLI (trusted)."""
    from loa.console.accounts.roles import display_name

    title, text = (title or "").strip(), (text or "").strip()
    if not text:
        raise LoaError("cần lời tin khẩn cấp.")
    if len(text) > 5000 or len(title) > 300:
        raise LoaError("tin khẩn cấp quá dài (tiêu đề tối đa 300, lời tối đa 5000 ký tự).")
    stations = list(stations)
    chosen = [d if isinstance(d, Device) else device(d) for d in devices]
    for st in stations + [d.station for d in chosen]:
        if user is not None and not can_manage(user, st):
            raise LoaError(f"tài khoản này không được gửi tin khẩn cấp tới {st.name}.")
    targets = {d.pk: d for d in Device.objects.filter(station__in=stations,
                                                       revoked_at__isnull=True)}
    targets.update({d.pk: d for d in chosen if d.revoked_at is None})
    if not targets:
        raise LoaError("không có cụm loa nào nhận tin: chọn đài hoặc cụm loa đang hoạt động.")
    at = now()
    bus = _bus
    with transaction.atomic():
        e = Emergency.objects.create(
            id="e-" + secrets.token_hex(5), title=title or "Tin khẩn cấp", text=text,
            zones=[z for z in zones if z], created_at=at,
            # without a bus here (the CLI, another process) the serving process pushes it
            # (dispatch_pending); devices polling over HTTP get it either way
            sent_at=at if bus is not None else None,
            created_by=user if user is not None else None,
            created_by_name=display_name(user) if user is not None else "")
        e.stations.set(sorted({d.station_id for d in targets.values()} | {s.pk for s in stations}))
        Delivery.objects.bulk_create([Delivery(emergency=e, device_id=pk) for pk in targets])
        ids = sorted(targets)
        payload = e.payload()
        if bus is not None:
            transaction.on_commit(lambda: _publish(bus, ids, payload))
        else:
            _notify_dispatcher()  # delivered on commit
    return e


DISPATCH_CHANNEL = "loa_fleet_dispatch"


def _notify_dispatcher() -> None:
    """Wake the serving process's dispatcher (PostgreSQL NOTIFY, sent when the current
    transaction commits); elsewhere it finds the work at its next poll."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"NOTIFY {DISPATCH_CHANNEL}")


def listen_for_dispatch():
    """A psycopg connection of its own LISTENing on DISPATCH_CHANNEL (autocommit), or None
    (SQLite, or the database cannot be reached now)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    import psycopg

    try:
        conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        conn.execute(f"LISTEN {DISPATCH_CHANNEL}")
    except psycopg.Error:
        log.warning("fleet dispatch: cannot LISTEN now; polling")
        return None
    return conn


def _publish(bus, device_ids: list[str], payload: dict) -> None:
    try:
        bus.publish_emergency(device_ids, payload)
    except Exception:  # devices still poll GET /api/v1/emergencies
        log.exception("mqtt: could not publish emergency %s", payload.get("id"))


def dispatch_pending() -> int:
    """In the process that has the bus: push emergencies made elsewhere (sent_at null),
    and take revoked devices' credentials off the broker. Returns what it did."""
    bus, admin = _bus, _broker_admin
    done = 0
    if bus is not None:
        out = []
        with transaction.atomic():
            for e in (Emergency.objects.select_for_update(skip_locked=True)
                      .filter(sent_at__isnull=True).order_by("created_at")[:100]):
                e.sent_at = now()
                e.save(update_fields=["sent_at"])
                ids = list(Delivery.objects.filter(emergency=e)
                           .values_list("device_id", flat=True))
                out.append((sorted(ids), e.payload()))
        for ids, payload in out:
            _publish(bus, ids, payload)
            done += 1
    if admin is not None:
        for dev_id in list(Device.objects.filter(revoked_at__isnull=False,
                                                 broker_removed_at__isnull=True)
                           .values_list("pk", flat=True)[:100]):
            try:
                admin.remove_device(dev_id)
            except Exception:
                log.exception("broker: could not remove device %s", dev_id)
                break
            Device.objects.filter(pk=dev_id).update(broker_removed_at=now())
            done += 1
    return done


def pending_emergencies(dev: Device) -> list[dict]:
    ds = (Delivery.objects.select_related("emergency")
          .filter(device=dev, finished_at__isnull=True, failed_at__isnull=True)
          .order_by("emergency__created_at"))
    return [d.emergency.payload() for d in ds]


def record_ack(device_id: str, emergency_id: str, stage: str, at: datetime | str | None,
               detail: str = "") -> bool:
    """A device's acknowledgement (HTTP or MQTT). Idempotent: the first time of each stage
    wins. False when that device was not sent that emergency (or the stage is unknown)."""
    if stage not in STAGES:
        return False
    if isinstance(at, str):
        at = _opt_time(at)
    recorded = now()
    if not isinstance(at, datetime) or at.tzinfo is None:
        at = recorded
    field = f"{stage}_at"
    with transaction.atomic():
        d = (Delivery.objects.select_for_update()
             .filter(emergency_id=emergency_id, device_id=device_id).first())
        if d is None:
            return False
        changed = []
        if getattr(d, field) is None:
            setattr(d, field, at)
            changed.append(field)
            if stage == "received":
                d.received_recorded_at = recorded
                changed.append("received_recorded_at")
        if detail and not d.detail:
            d.detail = str(detail)[:2000]
            changed.append("detail")
        if changed:
            d.save(update_fields=changed)
    return True


@dataclass
class Ack:
    device_id: str
    emergency_id: str
    stage: str
    at: Any  # datetime, ISO text or None (then: when recorded)
    detail: str = ""
    recorded: datetime | None = None  # when the server got it (fan-out is measured to it)


def record_acks(acks: list[Ack]) -> int:
    """Many acks at once (the MQTT listener's batches: a thousand devices acking one
    emergency within a second), with record_ack's rules: the first time of each stage
    wins, a device acks only what it was sent. Two queries whatever the count. Returns
    how many acks matched a delivery."""
    good = [a for a in acks if a.stage in STAGES and a.emergency_id and a.device_id]
    if not good:
        return 0
    matched = 0
    fields = {"detail", "received_recorded_at"} | {f"{s}_at" for s in STAGES}
    with transaction.atomic():
        found = {(d.emergency_id, d.device_id): d for d in Delivery.objects.select_for_update()
                 .filter(emergency_id__in={a.emergency_id for a in good},
                         device_id__in={a.device_id for a in good})}
        changed = {}
        for a in good:
            d = found.get((a.emergency_id, a.device_id))
            if d is None:
                continue
            matched += 1
            recorded = a.recorded or now()
            at = _opt_time(a.at) if isinstance(a.at, str) else a.at
            if not isinstance(at, datetime) or at.tzinfo is None:
                at = recorded
            field = f"{a.stage}_at"
            if getattr(d, field) is None:
                setattr(d, field, at)
                if a.stage == "received":
                    d.received_recorded_at = recorded
                changed[d.pk] = d
            if a.detail and not d.detail:
                d.detail = str(a.detail)[:2000]
                changed[d.pk] = d
        if changed:
            Delivery.objects.bulk_update(list(changed.values()), sorted(fields), batch_size=500)
    return matched


def ack_from_mqtt(device_id: str, payload: Any, recorded: datetime | None = None) -> Ack | None:
    """An ack message's payload {"id","stage","at","detail"} (the topic names the device)."""
    if not isinstance(payload, dict):
        return None
    return Ack(device_id, str(payload.get("id") or ""), str(payload.get("stage") or ""),
               payload.get("at"), str(payload.get("detail") or ""), recorded or now())
