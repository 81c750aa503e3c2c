"""Province and commune pages of the server role: stations, one station's clusters,
emergencies sent to communes or clusters, and reports across stations.

Every view starts from service.stations_for(user): what is outside the account's scope
is 404, as if it did not exist (a commune never learns another commune's names)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from loa.console.accounts import audit
from loa.console.accounts.roles import roles_required
from loa.console.fleet import queries, reports, service
from loa.console.fleet.models import Delivery, Device, Emergency, Province, Scope
from loa.errors import LoaError
from loa.log import period as periods

REFRESH_S = 5  # the emergency page reloads itself while a cluster has not finished...
FOLLOW_FOR = timedelta(hours=1)  # ...for this long: a cluster off for days is shown, not polled


def _scope(request):
    """The account's stations; 404 for an account outside the fleet."""
    stations = service.stations_for(request.user)
    if not stations.exists():
        raise Http404
    return stations


def _station(request, slug: str):
    st = _scope(request).filter(slug=slug).first()
    if st is None:
        raise Http404
    return st


def scope_name(user) -> str:
    """'Tỉnh Bình Phước' / the commune's station / 'Tất cả các đài' for a superuser."""
    sc = Scope.objects.filter(user=user).select_related("province", "station").first()
    if sc is not None and sc.province is not None:
        return sc.province.name
    if sc is not None and sc.station is not None:
        return sc.station.name
    provinces = list(Province.objects.filter(stations__isnull=False).distinct()[:2])
    return provinces[0].name if len(provinces) == 1 else "Tất cả các đài"


# --- Các đài ------------------------------------------------------------------------------------

@roles_required()
def stations(request):
    rows = queries.station_rows(_scope(request).select_related("province"))
    return render(request, "fleet/stations.html", {
        "title": "Các đài", "rows": rows, "scope": scope_name(request.user),
        "down_minutes": int(queries.DOWN_AFTER.total_seconds() // 60)})


ZONE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


class CodeForm(forms.Form):
    name = forms.CharField(label="Tên cụm loa", max_length=200,
                           error_messages={"required": "cần tên cụm loa, ví dụ \"Cụm loa "
                                                       "thôn Đoài\"."})
    zones = forms.MultipleChoiceField(label="Vùng phát của cụm loa", required=False,
                                      widget=forms.CheckboxSelectMultiple)
    zone_ids = forms.CharField(label="Vùng phát (mã vùng, cách nhau bằng dấu phẩy)",
                               required=False, max_length=500)
    hours = forms.IntegerField(label="Mã dùng được trong (giờ)", initial=24, min_value=1,
                               max_value=720, error_messages={
                                   "min_value": "thời hạn ít nhất 1 giờ.",
                                   "max_value": "thời hạn tối đa 720 giờ (30 ngày).",
                                   "invalid": "thời hạn phải là số giờ."})

    def __init__(self, *args, zone_names: dict[str, str], **kw):
        super().__init__(*args, **kw)
        # the station's schedule names its zones: tick them; without one, type their ids
        if zone_names:
            self.fields["zones"].choices = list(zone_names.items())
            self.fields["zones"].error_messages["invalid_choice"] = (
                "vùng '%(value)s' không có trong lịch phát của đài; hãy chọn lại.")
            del self.fields["zone_ids"]
        else:
            del self.fields["zones"]

    def clean_zone_ids(self):
        ids = [z.strip() for z in (self.cleaned_data.get("zone_ids") or "").split(",")
               if z.strip()]
        bad = [z for z in ids if not ZONE_ID.match(z)]
        if bad:
            raise forms.ValidationError(
                f"mã vùng '{bad[0]}' không hợp lệ: chỉ chữ thường không dấu, số và dấu gạch "
                "ngang, ví dụ thon-doai.")
        return ids

    def zone_list(self) -> list[str]:
        return list(self.cleaned_data.get("zones") or self.cleaned_data.get("zone_ids") or [])


def zone_names(st) -> dict[str, str]:
    """Zone id -> name from the station's current schedule (the bundle's)."""
    import yaml

    b = service.current_bundle(st)
    if b is None:
        return {}
    try:
        doc = yaml.safe_load(b.manifest["files"][b.manifest["schedule"]])
        return {str(z["id"]): str(z.get("name") or z["id"]) for z in doc.get("zones") or []
                if isinstance(z, dict) and z.get("id")}
    except Exception:  # an unreadable schedule still shows its clusters, by zone id
        return {}


def _station_page(request, st, form=None, code=None, status=200):
    row = queries.station_rows([st])[0]
    names = zone_names(st)
    for d in row.devices:  # names, not ids
        d.zones_shown = ", ".join(names.get(z, z) for z in d.device.zones) or "mọi vùng"
    return render(request, "fleet/station.html", {
        "title": st.name, "st": st, "row": row, "tz": queries.zone_of(st),
        "bundle": service.current_bundle(st), "manage": service.can_manage(request.user, st),
        "form": form or CodeForm(zone_names=names), "code": code,
        "emergencies": Emergency.objects.filter(stations=st).order_by("-created_at")[:5],
    }, status=status)


@roles_required()
def station(request, slug: str):
    return _station_page(request, _station(request, slug))


@roles_required()
@require_POST
def enroll_code(request, slug: str):
    """The code is shown once, on this response (only its hash is kept)."""
    st = _station(request, slug)
    if not service.can_manage(request.user, st):
        raise _forbidden()
    form = CodeForm(request.POST, zone_names=zone_names(st))
    if not form.is_valid():
        return _station_page(request, st, form=form, status=400)
    try:
        code = service.create_enroll_code(st, form.cleaned_data["name"], form.zone_list(),
                                          hours=form.cleaned_data["hours"], user=request.user)
    except LoaError as e:
        form.add_error(None, str(e))
        return _station_page(request, st, form=form, status=400)
    audit.record(request, "fleet.enroll_code", st.name, f"cụm loa: {form.cleaned_data['name']}")
    response = _station_page(request, st, code={"code": code, "name": form.cleaned_data["name"],
                                                "hours": form.cleaned_data["hours"]})
    response["Cache-Control"] = "no-store"
    return response


def _forbidden():
    from django.core.exceptions import PermissionDenied

    return PermissionDenied()


def _device(request, slug: str, device_id: str):
    st = _station(request, slug)
    dev = Device.objects.filter(pk=device_id, station=st).first()
    if dev is None:
        raise Http404
    return st, dev


@roles_required()
def revoke(request, slug: str, device_id: str):
    """GET: confirm; POST: revoke (its token stops working at once)."""
    st, dev = _device(request, slug, device_id)
    if not service.can_manage(request.user, st):
        raise _forbidden()
    if request.method != "POST":
        return render(request, "fleet/revoke.html", {"title": "Thu hồi cụm loa", "st": st,
                                                     "dev": dev})
    service.revoke_device(dev.pk, user=request.user)
    audit.record(request, "fleet.revoke", dev.name, f"đài: {st.name}")
    messages.success(request, f"Đã thu hồi {dev.name}: cụm loa này không còn nhận lịch, "
                              "không gửi được nhật ký nữa.")
    return redirect("fleet_station", slug=st.slug)


# --- Tin khẩn cấp --------------------------------------------------------------------------------

class EmergencyForm(forms.Form):
    title = forms.CharField(label="Tiêu đề", required=False, max_length=300,
                            error_messages={"max_length": "tiêu đề quá dài (tối đa "
                                                          "%(limit_value)d ký tự)."})
    text = forms.CharField(label="Lời tin khẩn cấp", max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 5}),
                           error_messages={"required": "cần lời tin khẩn cấp.",
                                           "max_length": "lời tin quá dài (tối đa "
                                                         "%(limit_value)d ký tự)."})
    stations = forms.MultipleChoiceField(label="Gửi tới các xã (mọi cụm loa của xã)",
                                         required=False, widget=forms.CheckboxSelectMultiple)
    devices = forms.MultipleChoiceField(label="Hoặc từng cụm loa", required=False,
                                        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, stations, devices, **kw):
        super().__init__(*args, **kw)
        self.station_map = {str(s.pk): s for s in stations}
        self.device_map = {d.pk: d for d in devices}
        self.fields["stations"].choices = [(k, s.name) for k, s in self.station_map.items()]
        self.fields["devices"].choices = [(d.pk, f"{d.name} ({d.station.name})")
                                          for d in devices]
        for f in ("stations", "devices"):
            self.fields[f].error_messages["invalid_choice"] = (
                "lựa chọn không còn hợp lệ (đài hoặc cụm loa đã thay đổi); hãy chọn lại.")

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("stations") and not data.get("devices"):
            raise forms.ValidationError("hãy chọn ít nhất một xã hoặc một cụm loa.")
        return data


def _emergency_form(request, data=None):
    managed = [s for s in _scope(request).order_by("name")
               if service.can_manage(request.user, s)]
    devices = (Device.objects.filter(station__in=managed, revoked_at__isnull=True)
               .select_related("station").order_by("station__name", "name"))
    return EmergencyForm(data, stations=managed, devices=list(devices)), managed


def _visible_emergencies(request):
    return Emergency.objects.filter(stations__in=_scope(request)).distinct()


@roles_required()
def emergencies(request):
    if request.method == "POST":
        form, managed = _emergency_form(request, request.POST)
        if not managed:
            raise _forbidden()
        if form.is_valid():
            try:
                e = service.send_emergency(
                    request.user, form.cleaned_data["title"], form.cleaned_data["text"],
                    stations=[form.station_map[k] for k in form.cleaned_data["stations"]],
                    devices=[form.device_map[k] for k in form.cleaned_data["devices"]])
            except LoaError as err:
                form.add_error(None, str(err))
            else:
                audit.record(request, "emergency.send", e.title,
                             f"{e.deliveries.count()} cụm loa; {e.text[:200]}")
                return redirect("fleet_emergency", emergency_id=e.pk)
        status = 400
    else:
        form, managed = _emergency_form(request)
        status = 200
    recent = _visible_emergencies(request).order_by("-created_at")[:20]
    return render(request, "fleet/emergencies.html", {
        "title": "Tin khẩn cấp", "form": form if managed else None, "recent": recent},
        status=status)


@roles_required()
def emergency(request, emergency_id: str):
    e = _visible_emergencies(request).filter(pk=emergency_id).first()
    if e is None:
        raise Http404
    ds = list(Delivery.objects.filter(emergency=e, device__station__in=_scope(request))
              .select_related("device", "device__station")
              .order_by("device__station__name", "device__name"))
    done = [d for d in ds if d.finished_at or d.failed_at]
    counts = {"received": sum(1 for d in ds if d.received_at),
              "finished": sum(1 for d in ds if d.finished_at),
              "failed": sum(1 for d in ds if d.failed_at and not d.finished_at)}
    complete = len(done) == len(ds)
    response = render(request, "fleet/emergency.html", {
        "title": e.title, "e": e, "deliveries": ds, "counts": counts, "complete": complete,
        "refresh": None if complete or queries.now() - e.created_at > FOLLOW_FOR else REFRESH_S,
        "stations": sorted({d.device.station.name for d in ds})})
    response["Cache-Control"] = "no-store"
    return response


# --- Báo cáo ------------------------------------------------------------------------------------

KINDS = {"quy": "Quý", "nua": "6 tháng", "nam": "Năm", "khoang": "Từ ngày … đến ngày"}


def _period(q, today: date) -> periods.Period:
    kind = q.get("ky") or "quy"
    year = (q.get("nam") or str(today.year)).strip()
    if kind == "quy":
        return periods.quarter(f"{year}Q{q.get('quy') or (today.month - 1) // 3 + 1}")
    if kind == "nua":
        return periods.half(f"{year}H{q.get('nua') or (1 if today.month <= 6 else 2)}")
    if kind == "nam":
        return periods.year(year)
    if kind == "khoang":
        if not q.get("tu") or not q.get("den"):
            raise LoaError("chọn cả ngày bắt đầu và ngày kết thúc.")
        return periods.date_range(q["tu"], q["den"])
    raise LoaError("chọn kỳ báo cáo: quý, 6 tháng, năm hoặc từ ngày … đến ngày.")


def _download(body: bytes, name: str, content_type: str) -> HttpResponse:
    r = HttpResponse(body, content_type=content_type)
    r["Content-Disposition"] = f'attachment; filename="{name}"'
    r["Cache-Control"] = "no-store"
    return r


@roles_required()
def report(request):
    scope = _scope(request).order_by("name")
    today = queries.now().astimezone(reports.TZ).date()
    q = request.GET
    ctx = {"title": "Báo cáo", "kinds": KINDS, "q": q, "stations": scope,
           "year": q.get("nam") or today.year, "today": today,
           "quarter": q.get("quy") or str((today.month - 1) // 3 + 1),
           "half": q.get("nua") or ("1" if today.month <= 6 else "2")}
    try:
        period = _period(q, today)
    except LoaError as e:
        ctx["error"] = str(e)
        return render(request, "fleet/report.html", ctx, status=400)
    fmt = q.get("tai")
    if fmt == "json":
        st = scope.filter(slug=q.get("dai") or "").first()
        if st is None:
            raise Http404
        since, until = period.bounds(queries.zone_of(st))
        r = StreamingHttpResponse(reports.upward_json(st, since, until),
                                  content_type="application/json; charset=utf-8")
        r["Content-Disposition"] = f'attachment; filename="{st.slug}-{period.code}.json"'
        return r
    rep = reports.build(scope_name(request.user), scope, period, q.get("ke_hoach") or "")
    if fmt == "xlsx":
        return _download(reports.write_xlsx(rep), f"bao-cao-{period.code}.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt == "docx":
        return _download(reports.write_docx(rep), f"bao-cao-{period.code}.docx",
                         "application/vnd.openxmlformats-officedocument.wordprocessingml"
                         ".document")
    ctx.update(rep=rep, period=period, total=rep.total,
               plans=rep.plans,
               query=q.urlencode())
    return render(request, "fleet/report.html", ctx)
