"""Khẩn cấp: type a message or pick an approved bulletin, tick villages, confirm, then
"Phát ngay" hands it to the running `loa run` and the page follows it until it has aired.

Nothing here decides what is allowed to air: loa.station.send_emergency and the daemon
check the zones and the approval again; this page only makes the officer's choice clear."""

from __future__ import annotations

import re
import threading
import time

from django import forms
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path

from loa import station as svc
from loa.console import station
from loa.console.accounts import audit
from loa.console.accounts.roles import roles_required
from loa.errors import LoaError
from loa.station.emergency import EMERGENCY_ID, emergency_zones, short_title

SESSION_KEY = "loa_emergencies"  # {id: {"title", "zones"}} of the emergencies sent from here
KEEP = 10
POLL_MS = 1500
# One "Phát ngay" at a time in this console; the same words to the same villages again
# within REPEAT_S (a double click, two officers at once) follows the first, not airs twice.
REPEAT_S = 60
_sending = threading.Lock()
_recent: dict[tuple, tuple[float, str, str, list[str]]] = {}  # what -> (at, id, title, zones)


class EmergencyForm(forms.Form):
    text = forms.CharField(label="Lời tin khẩn cấp", required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 5}),
                           error_messages={"max_length": "lời tin quá dài (tối đa %(limit_value)d "
                                                         "ký tự, đang có %(show_value)d)."})
    title = forms.CharField(label="Tiêu đề (không bắt buộc)", required=False, max_length=200,
                            error_messages={"max_length": "tiêu đề quá dài (tối đa "
                                                          "%(limit_value)d ký tự)."})
    bulletin = forms.ChoiceField(label="Hoặc chọn một bản tin đã duyệt", required=False,
                                 error_messages={"invalid_choice": "bản tin đã chọn không có "
                                                 "hoặc chưa được duyệt; hãy chọn lại."})
    zones = forms.MultipleChoiceField(
        label="Phát tới các vùng", widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "hãy chọn ít nhất một vùng phát.",
                        "invalid_choice": "không có vùng '%(value)s' trong lịch phát; chỉ chọn "
                                          "các vùng của đài."})

    def __init__(self, *args, zones: dict[str, str], approved: list[svc.Approved], **kw):
        super().__init__(*args, **kw)
        self.approved = {a.key: a for a in approved}
        self.zone_names = zones
        self.fields["zones"].choices = list(zones.items())
        self.fields["bulletin"].choices = [("", "— không, tôi tự nhập lời —")] + [
            (a.key, a.title) for a in approved]

    def clean(self):
        data = super().clean()
        text, key = (data.get("text") or "").strip(), data.get("bulletin")
        if "bulletin" in self.errors:
            return data
        if not text and not key:
            raise forms.ValidationError("hãy nhập lời tin khẩn cấp hoặc chọn một bản tin đã "
                                        "duyệt.")
        if text and key:
            raise forms.ValidationError("chỉ nhập lời hoặc chọn một bản tin, không cả hai.")
        if text and not any(ch.isalnum() for ch in text):
            raise forms.ValidationError("lời tin khẩn cấp không có chữ nào.")
        data["text"] = text
        picked = set(data.get("zones") or ())
        data["zones"] = [z for z in self.zone_names if z in picked]  # the schedule's order
        return data

    # what will be read and where, for the confirm page and the audit
    @property
    def chosen(self) -> svc.Approved | None:
        return self.approved.get(self.cleaned_data.get("bulletin") or "")

    @property
    def heading(self) -> str:
        b = self.chosen
        if b is not None:
            return b.title
        return self.cleaned_data.get("title") or short_title(self.cleaned_data["text"])

    @property
    def words(self) -> str:
        b = self.chosen
        return b.text if b is not None else self.cleaned_data["text"]

    @property
    def where(self) -> list[str]:
        return [self.zone_names[z] for z in self.cleaned_data["zones"]]


def _form(request, data=None) -> tuple[EmergencyForm, bool]:
    try:
        schedule_zones = station.load().zone_names()
    except LoaError:
        schedule_zones = {}
    zones, running = emergency_zones(schedule_zones)
    approved = svc.approved_bulletins(station.bulletin_files())
    return EmergencyForm(data, zones=zones, approved=approved), running


@roles_required("editor", "leader")
def index(request):
    """GET: the form; POST step=confirm: the confirm page; step=send: Phát ngay."""
    if request.method != "POST":
        form, running = _form(request)
        return render(request, "pages/emergency/form.html",
                      {"title": "Khẩn cấp", "form": form, "running": running})
    form, running = _form(request, request.POST)
    step = request.POST.get("step")
    if step == "edit" or not form.is_valid():
        status = 200 if step == "edit" else 400
        return render(request, "pages/emergency/form.html",
                      {"title": "Khẩn cấp", "form": form, "running": running}, status=status)
    if step != "send":
        return render(request, "pages/emergency/confirm.html",
                      {"title": "Xác nhận tin khẩn cấp", "form": form, "running": running})
    return _send(request, form, running)


def _keep(request, eid: str, title: str, zones: list[str]) -> None:
    kept = request.session.get(SESSION_KEY, {})
    kept[eid] = {"title": title, "zones": zones}
    request.session[SESSION_KEY] = dict(list(kept.items())[-KEEP:])


def _send(request, form: EmergencyForm, running: bool):
    zones = list(form.cleaned_data["zones"])
    b = form.chosen
    what = (str(b.path), b.id) if b is not None else (form.heading, form.words)
    what += (str(station.schedule_path()), *sorted(zones))
    with _sending:
        now = time.monotonic()
        for k in [k for k, v in _recent.items() if now - v[0] > REPEAT_S]:
            del _recent[k]
        if what in _recent:
            _, eid, title, zone_ids = _recent[what]
            _keep(request, eid, title, zone_ids)
            messages.info(request, f"Tin khẩn cấp “{title}” vừa được gửi tới đúng các vùng "
                                   "này; không phát lại lần nữa.")
            return redirect("emergency_progress", emergency_id=eid)
        try:
            if b is not None:
                sent = svc.send_emergency(bulletins=b.path, bulletin_id=b.id, zones=zones)
            else:
                sent = svc.send_emergency(form.cleaned_data["text"],
                                          title=form.cleaned_data.get("title") or None,
                                          zones=zones)
        except LoaError as exc:
            audit.record(request, "emergency.failed", form.heading,
                         f"không phát được tới {', '.join(form.where)}: {exc}")
            return render(request, "pages/emergency/confirm.html",
                          {"title": "Xác nhận tin khẩn cấp", "form": form, "running": running,
                           "send_error": str(exc)}, status=400)
        _recent[what] = (time.monotonic(), sent.id, sent.title, list(sent.zone_ids))
    names = ", ".join(sent.zone_names)
    audit.record(request, "emergency.send", sent.title,
                 f"phát ngay tới {names} (mã {sent.id}); lời: {form.words[:300]}")
    _keep(request, sent.id, sent.title, list(sent.zone_ids))
    messages.success(request, f"Máy phát đã nhận tin khẩn cấp “{sent.title}” và phát ngay "
                              f"tới {names}.")
    return redirect("emergency_progress", emergency_id=sent.id)


def _progress(request, emergency_id: str):
    if not re.fullmatch(EMERGENCY_ID, emergency_id):
        raise Http404("không có tin khẩn cấp này")
    try:
        names = svc.names_of(station.load())
    except LoaError:
        names = None
    zones, running = emergency_zones(
        names.zones if names is not None else {})
    known = request.session.get(SESSION_KEY, {}).get(emergency_id, {})
    from loa.clock import DEFAULT_TZ

    progress = svc.emergency_progress(emergency_id, known.get("zones", []),
                                      svc.Names(DEFAULT_TZ, zones), running)
    if not progress.zones:
        raise Http404("không có tin khẩn cấp này")
    return progress, known.get("title") or progress.title or emergency_id


@roles_required("editor", "leader")
def progress_page(request, emergency_id: str):
    progress, title = _progress(request, emergency_id)
    return render(request, "pages/emergency/progress.html", {
        "title": "Tin khẩn cấp", "heading": title, "progress": progress,
        "emergency_id": emergency_id, "poll_ms": POLL_MS})


@roles_required("editor", "leader")
def progress_json(request, emergency_id: str):
    progress, title = _progress(request, emergency_id)
    return JsonResponse({
        "state": progress.state, "state_vi": progress.state_vi, "done": progress.done,
        "zones": [{"zone": z.zone_name, "status": z.status, "status_vi": z.status_vi,
                   "reason": z.reason} for z in progress.zones]})


urlpatterns = [
    path("", index, name="emergency"),
    path("<str:emergency_id>/", progress_page, name="emergency_progress"),
    path("<str:emergency_id>/trang-thai.json", progress_json, name="emergency_status"),
]
