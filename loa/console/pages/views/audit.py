"""Nhật ký thao tác: who changed or approved what, and when (admins, leaders)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path

from loa.console import station
from loa.console.accounts.models import AuditEntry
from loa.console.accounts.roles import roles_required

WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
PER_PAGE = 50

# action codes (English, stable) -> what an officer reads
ACTIONS_VI = {
    "account.login": "Đăng nhập",
    "account.logout": "Đăng xuất",
    "account.login_failed": "Đăng nhập sai mật khẩu",
    "user.add": "Thêm tài khoản",
    "user.roles": "Đổi vai trò",
    "user.name": "Đổi họ tên",
    "user.deactivate": "Khóa tài khoản",
    "user.reactivate": "Mở lại tài khoản",
    "user.password": "Đặt lại mật khẩu",
    "plan.upload": "Tải lên kế hoạch",
    "plan.draft": "Tạo bản nháp từ kế hoạch",
    "plan.import_start": "Bắt đầu đọc kế hoạch tải lên",
    "plan.import": "Nhập kế hoạch",  # entries written before Kế hoạch took the upload over
    "plan.import_failed": "Không đọc được kế hoạch tải lên",
    "bulletin.edit": "Sửa bản tin",
    "bulletin.submit": "Gửi duyệt bản tin",
    "bulletin.approve": "Duyệt bản tin",
    "bulletin.return": "Trả lại bản tin",
    "bulletin.reject": "Trả lại bản tin",
    "bulletin.retire": "Ngừng phát bản tin",
    "bulletin.record": "Thu giọng bản tin",
    "bulletin.listen": "Nghe thử bản tin",
    "emergency.send": "Phát khẩn cấp",
    "fleet.enroll_code": "Tạo mã đăng ký cụm loa",
    "fleet.revoke": "Thu hồi cụm loa",
    "emergency.failed": "Phát khẩn cấp không thành",
    "log.export": "Tải nhật ký phát",
    "log.report": "Tải báo cáo",
    "report.make": "Tải báo cáo",
}
# for codes no page has named above: "<object>.<verb>" read by parts
_OBJECTS_VI = {"account": "Tài khoản", "user": "Người dùng", "plan": "Kế hoạch",
               "bulletin": "Bản tin", "schedule": "Lịch phát", "zone": "Vùng loa",
               "session": "Buổi phát", "program": "Chương trình", "announcement": "Thông báo",
               "holiday": "Ngày nghỉ", "emergency": "Khẩn cấp", "log": "Nhật ký",
               "report": "Báo cáo", "review": "Duyệt", "service": "Máy phát",
               # the schedule's sections ("schedule.sessions.add")
               "station": "Thông tin đài", "zones": "Vùng loa", "sessions": "Buổi phát",
               "programs": "Chương trình", "announcements": "Thông báo",
               "holidays": "Ngày lễ", "skip_date": "Ngày nghỉ"}
_VERBS_VI = {"add": "thêm", "create": "thêm", "edit": "sửa", "update": "sửa", "save": "lưu",
             "delete": "xóa", "remove": "xóa", "approve": "duyệt", "return": "trả lại",
             "reject": "trả lại", "submit": "gửi duyệt", "send": "gửi", "export": "tải về",
             "download": "tải về", "upload": "tải lên", "retire": "ngừng phát",
             "listen": "nghe thử", "record": "thu giọng", "stop": "dừng", "start": "bắt đầu",
             "restart": "khởi động lại"}


def action_vi(code: str) -> str:
    if code in ACTIONS_VI:
        return ACTIONS_VI[code]
    parts = code.split(".")
    # "schedule.sessions.add": the thing is the part before the verb
    obj = parts[-2] if len(parts) > 2 else parts[0]
    words = [_OBJECTS_VI.get(obj, obj)]
    if len(parts) > 1:
        words.append(_VERBS_VI.get(parts[-1], parts[-1].replace("_", " ")))
    return ": ".join(words)


def vi_when(at: datetime | str, tz) -> str:
    """"06:30 thứ Hai 30/11/2026" in the station's zone."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    local = at.astimezone(tz) if tz is not None else at
    return f"{local:%H:%M} {WEEKDAYS_VI[local.weekday()]} {local:%d/%m/%Y}"


class FilterForm(forms.Form):
    person = forms.ChoiceField(label="Người làm", required=False)
    action = forms.ChoiceField(label="Việc", required=False)
    since = forms.DateField(label="Từ ngày", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages={"invalid": "Ngày bắt đầu không hợp lệ."})
    until = forms.DateField(label="Đến ngày", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages={"invalid": "Ngày kết thúc không hợp lệ."})

    def __init__(self, *args, people=(), actions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Tất cả")] + list(people)
        self.fields["action"].choices = [("", "Tất cả")] + list(actions)
        self.fields["person"].error_messages["invalid_choice"] = "Không có người này trong nhật ký."
        self.fields["action"].error_messages["invalid_choice"] = "Không có loại việc này."

    def clean(self):
        from loa.station.logs import FIRST_DAY, LAST_DAY

        data = super().clean()
        if any(d and not FIRST_DAY <= d <= LAST_DAY for d in (data.get("since"), data.get("until"))):
            raise forms.ValidationError("Ngày phải trong khoảng năm 1900 đến 9998.")
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“Từ ngày” phải trước hoặc bằng “Đến ngày”.")
        return data


def _choices():
    people = {}
    for username, full in AuditEntry.objects.values_list("username", "full_name").distinct():
        if username:
            people[username] = full or username
    codes = set(AuditEntry.objects.values_list("action", flat=True).distinct())
    # one line per label: "Trả lại bản tin" is bulletin.return and the older bulletin.reject
    by_label: dict[str, str] = {}
    for c in [*ACTIONS_VI, *sorted(codes - set(ACTIONS_VI))]:  # the table's own code first
        by_label.setdefault(action_vi(c), c)
    actions = sorted(((c, label) for label, c in by_label.items()), key=lambda a: a[1])
    return sorted(people.items(), key=lambda p: p[1]), actions


def _same_label(code: str) -> list[str]:
    """Every action code shown under the label of `code`."""
    codes = set(AuditEntry.objects.values_list("action", flat=True).distinct())
    return [c for c in codes | set(ACTIONS_VI) | {code} if action_vi(c) == action_vi(code)]


def _day_start(d: date, tz) -> datetime:
    return datetime.combine(d, time(0), tz)


@roles_required("admin", "leader")
def index(request):
    people, actions = _choices()
    form = FilterForm(request.GET or None, people=people, actions=actions)
    entries = AuditEntry.objects.all()
    tz = station.clock().now().tzinfo
    errors = []
    if form.is_bound:
        if form.is_valid():
            f = form.cleaned_data
            if f["person"]:
                entries = entries.filter(username=f["person"])
            if f["action"]:
                entries = entries.filter(action__in=_same_label(f["action"]))
            if f["since"]:
                entries = entries.filter(at__gte=_day_start(f["since"], tz))
            if f["until"]:
                entries = entries.filter(at__lt=_day_start(f["until"] + timedelta(days=1), tz))
        else:
            errors = [e for es in form.errors.values() for e in es]
            entries = entries.none()
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("trang"))
    query = request.GET.copy()
    query.pop("trang", None)
    rows = [{"when": vi_when(e.at, tz), "who": e.full_name or e.username or "(không rõ)",
             "username": e.username, "action": action_vi(e.action), "target": e.target,
             "detail": e.detail} for e in page.object_list]
    return render(request, "pages/audit/index.html", {
        "title": "Nhật ký thao tác", "form": form, "errors": errors, "rows": rows,
        "page": page, "query": query.urlencode()}, status=400 if errors else 200)


urlpatterns = [path("", index, name="audit")]
