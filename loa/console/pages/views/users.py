"""Người dùng: accounts and their roles (admins). Same rules as `loa users`
(loa/console/accounts/users.py); accounts are locked, never deleted."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, update_session_auth_hash
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path

from loa.console import station
from loa.console.accounts import users as accounts
from loa.console.accounts.roles import ROLE_HELP, ROLES, display_name, roles_required
from loa.console.pages.views.audit import vi_when
from loa.errors import LoaError

ROLE_CHOICES = [(code, f"{name} ({ROLE_HELP[code]})") for code, name in ROLES.items()]
_PASSWORD_HELP = "Ít nhất 8 ký tự, không quá phổ biến, không giống tên đăng nhập hay họ tên."


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=ROLE_CHOICES, label="Vai trò", error_messages={
            "required": "Chọn ít nhất một vai trò.",
            "invalid_choice": "Vai trò không hợp lệ."}, **kwargs)


class PasswordsForm(forms.Form):
    password1 = forms.CharField(label="Mật khẩu", strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), help_text=_PASSWORD_HELP,
        error_messages={"required": "Hãy nhập mật khẩu."})
    password2 = forms.CharField(label="Nhập lại mật khẩu", strip=False,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                error_messages={"required": "Hãy nhập lại mật khẩu."})

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and \
                data["password1"] != data["password2"]:
            raise forms.ValidationError("Hai lần nhập mật khẩu không khớp.")
        return data


class AddForm(PasswordsForm):
    username = forms.CharField(label="Tên đăng nhập", max_length=150, help_text=(
        "Chữ, số và @ . + - _ (không dấu cách), ví dụ: binh.tran"),
        error_messages={"required": "Hãy nhập tên đăng nhập.",
                        "max_length": "Tên đăng nhập tối đa 150 ký tự."})
    full_name = forms.CharField(label="Họ tên", max_length=150, error_messages={
        "required": "Hãy nhập họ tên (hiện trên các trang và trong nhật ký).",
        "max_length": "Họ tên tối đa 150 ký tự."})
    roles = RolesField()
    field_order = ["username", "full_name", "roles", "password1", "password2"]


class EditForm(forms.Form):
    full_name = forms.CharField(label="Họ tên", max_length=150, error_messages={
        "required": "Hãy nhập họ tên.", "max_length": "Họ tên tối đa 150 ký tự."})
    roles = RolesField()


def _errors(form) -> list[str]:
    return [e for es in form.errors.values() for e in es]


def _target(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise Http404("không có tài khoản này")
    return user


@roles_required("admin")
def index(request):
    tz = station.clock().now().tzinfo
    rows = []
    for u in get_user_model().objects.order_by("-is_active", "first_name", "username") \
            .prefetch_related("groups"):
        held = {g.name for g in u.groups.all()}
        rows.append({"user": u, "name": display_name(u),
                     "roles": ", ".join(ROLES[r] for r in ROLES if r in held) or "(không)",
                     "last": vi_when(u.last_login, tz) if u.last_login else "chưa đăng nhập"})
    return render(request, "pages/users/index.html", {"title": "Người dùng", "rows": rows})


@roles_required("admin")
def add(request):
    form = AddForm(request.POST or None)
    errors = []
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                accounts.add_user(d["username"], d["password1"], d["roles"], d["full_name"],
                                  request=request)
            except LoaError as exc:
                errors = [p.message[:1].upper() + p.message[1:] for p in exc.problems]
            else:
                messages.success(request, f"Đã tạo tài khoản cho {d['full_name']}.")
                return redirect("users")
        else:
            errors = _errors(form)
    return render(request, "pages/users/add.html", {
        "title": "Thêm tài khoản", "form": form, "errors": errors},
        status=400 if errors else 200)


def _edit_page(request, user, *, form=None, pw_form=None, errors=(), status=200):
    held = [r for r in ROLES if user.groups.filter(name=r).exists()]
    return render(request, "pages/users/edit.html", {
        "title": display_name(user), "target": user,
        "form": form or EditForm(initial={"full_name": user.first_name, "roles": held}),
        "pw_form": pw_form or PasswordsForm(), "errors": errors,
        "is_self": user.pk == request.user.pk}, status=status)


def _vi(exc: LoaError) -> list[str]:
    return [p.message[:1].upper() + p.message[1:] for p in exc.problems]


@roles_required("admin")
def edit(request, username):
    user = _target(username)
    if request.method != "POST":
        return _edit_page(request, user)
    form = EditForm(request.POST)
    if not form.is_valid():
        return _edit_page(request, user, form=form, errors=_errors(form), status=400)
    try:
        accounts.update_user(user.username, roles=form.cleaned_data["roles"],
                             full_name=form.cleaned_data["full_name"], request=request)
    except LoaError as exc:
        return _edit_page(request, user, form=form, errors=_vi(exc), status=400)
    messages.success(request, f"Đã lưu tài khoản của {form.cleaned_data['full_name']}.")
    return redirect("users")


@roles_required("admin")
def set_active(request, username):
    user = _target(username)
    if request.method != "POST":
        return redirect("user-edit", username=user.username)
    active = request.POST.get("active") == "1"
    try:
        accounts.set_active(user.username, active, request=request)
    except LoaError as exc:
        return _edit_page(request, user, errors=_vi(exc), status=400)
    messages.success(request, f"Đã {'mở lại' if active else 'khóa'} tài khoản của "
                              f"{display_name(user)}.")
    return redirect("users")


@roles_required("admin")
def password(request, username):
    user = _target(username)
    if request.method != "POST":
        return redirect("user-edit", username=user.username)
    pw_form = PasswordsForm(request.POST)
    if not pw_form.is_valid():
        return _edit_page(request, user, pw_form=pw_form, errors=_errors(pw_form), status=400)
    try:
        accounts.set_password(user.username, pw_form.cleaned_data["password1"], request=request)
    except LoaError as exc:
        return _edit_page(request, user, pw_form=pw_form, errors=_vi(exc), status=400)
    if user.pk == request.user.pk:  # one's own new password must not log oneself out
        update_session_auth_hash(request, get_user_model().objects.get(pk=user.pk))
    messages.success(request, f"Đã đặt lại mật khẩu cho {display_name(user)}; hãy báo mật "
                              "khẩu mới cho họ trực tiếp.")
    return redirect("users")


urlpatterns = [
    path("", index, name="users"),
    path("them/", add, name="user-add"),
    path("<str:username>/", edit, name="user-edit"),
    path("<str:username>/trang-thai/", set_active, name="user-active"),
    path("<str:username>/mat-khau/", password, name="user-password"),
]
