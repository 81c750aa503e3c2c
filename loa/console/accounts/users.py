"""Accounts by command (`loa users`): the first admin is made here; admins then use the
Người dùng page. Same rules as the page: Django's password validators, known roles."""

from __future__ import annotations

from dataclasses import dataclass

from loa.errors import LoaError


@dataclass(frozen=True)
class Account:
    username: str
    full_name: str
    roles: tuple[str, ...]
    active: bool


def _roles_vi(roles) -> str:
    from loa.console.accounts.roles import ROLES

    return ", ".join(ROLES[r] for r in ROLES if r in roles)


def check_roles(roles: list[str]) -> list[str]:
    from loa.console.accounts.roles import ROLES

    names = {**{k: k for k in ROLES}, **{v.lower(): k for k, v in ROLES.items()},
             "bien-tap": "editor", "lanh-dao": "leader", "ky-thuat": "technician",
             "quan-tri": "admin"}
    out = []
    for r in roles:
        code = names.get(r.strip().lower())
        if code is None:
            known = ", ".join(f"{k} ({v})" for k, v in ROLES.items())
            raise LoaError(f"không có vai trò '{r}'. Các vai trò: {known}.")
        if code not in out:
            out.append(code)
    if not out:
        raise LoaError("cần ít nhất một vai trò (--role).")
    return out


def check_password(password: str, username: str, full_name: str = "") -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    probe = get_user_model()(username=username, first_name=full_name)
    try:
        validate_password(password, probe)
    except ValidationError as exc:
        raise LoaError("mật khẩu chưa đủ mạnh: " + " ".join(exc.messages)) from None


def add_user(username: str, password: str, roles: list[str], full_name: str = "") -> Account:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from loa.console.accounts.audit import record

    User = get_user_model()
    username = username.strip()
    if not username or len(username) > 150 or not all(c.isalnum() or c in "@.+-_"
                                                      for c in username):
        raise LoaError(f"tên đăng nhập '{username}' chỉ được gồm chữ, số và @ . + - _ "
                       "(tối đa 150 ký tự).")
    codes = check_roles(roles)
    if User.objects.filter(username__iexact=username).exists():
        raise LoaError(f"tài khoản '{username}' đã có.")
    check_password(password, username, full_name)
    with transaction.atomic():
        user = User.objects.create_user(username, password=password, first_name=full_name.strip())
        user.groups.set([Group.objects.get_or_create(name=c)[0] for c in codes])
        record(None, "user.add", username, f"tạo tài khoản, vai trò: {_roles_vi(codes)} "
               "(bằng lệnh loa users)", user=user)
    return Account(user.username, full_name.strip(), tuple(codes), True)


def set_password(username: str, password: str) -> None:
    from django.contrib.auth import get_user_model

    from loa.console.accounts.audit import record

    User = get_user_model()
    user = User.objects.filter(username__iexact=username.strip()).first()
    if user is None:
        raise LoaError(f"không có tài khoản '{username}'.")
    check_password(password, user.username, user.first_name)
    user.set_password(password)
    user.save()
    record(None, "user.password", user.username, "đặt lại mật khẩu (bằng lệnh loa users)",
           user=user)


def list_users() -> list[Account]:
    from django.contrib.auth import get_user_model

    from loa.console.accounts.roles import ROLES

    out = []
    for u in get_user_model().objects.order_by("username").prefetch_related("groups"):
        roles = tuple(r for r in ROLES if r in {g.name for g in u.groups.all()})
        out.append(Account(u.username, u.first_name, roles, u.is_active))
    return out
