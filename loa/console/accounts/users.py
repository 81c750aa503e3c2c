"""Accounts by command (`loa users`): the first admin is made here; admins then use the
Người dùng page. Same rules as the page: Django's password validators, known roles."""

from __future__ import annotations

import unicodedata
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


def _by_cli(request) -> str:
    return "" if request is not None else " (bằng lệnh loa users)"


def check_username(username: str) -> str:
    # Django stores and logs in by the NFKC form: "ａdmin" is "admin" (checked as such)
    username = unicodedata.normalize("NFKC", username.strip())
    if not username or len(username) > 150 or not all(c.isalnum() or c in "@.+-_"
                                                      for c in username):
        raise LoaError(f"tên đăng nhập '{username[:60]}' chỉ được gồm chữ, số và @ . + - _ "
                       "(tối đa 150 ký tự).")
    return username


def add_user(username: str, password: str, roles: list[str], full_name: str = "", *,
             request=None) -> Account:
    """Create an account. From the console `request` says who did it (audited as them)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from loa.console.accounts.audit import record

    User = get_user_model()
    username = check_username(username)
    codes = check_roles(roles)
    full_name = full_name.strip()
    if len(full_name) > 150:
        raise LoaError("họ tên dài quá 150 ký tự.")
    # SQLite's iexact folds ASCII only: "BÌNH" and "bình" would both be let in
    folded = username.casefold()
    taken = next((u for u in User.objects.values_list("username", flat=True)
                  if u.casefold() == folded), None)
    if taken is not None:
        raise LoaError(f"tài khoản '{taken}' đã có.")
    check_password(password, username, full_name)
    with transaction.atomic():
        user = User.objects.create_user(username, password=password, first_name=full_name)
        user.groups.set([Group.objects.get_or_create(name=c)[0] for c in codes])
        who = full_name or username
        record(request, "user.add", who, f"tạo tài khoản {username}, vai trò: "
               f"{_roles_vi(codes)}{_by_cli(request)}", user=None if request else user)
    return Account(user.username, full_name, tuple(codes), True)


def _get(username: str):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(
        username__iexact=unicodedata.normalize("NFKC", username.strip())).first()
    if user is None:
        raise LoaError(f"không có tài khoản '{username}'.")
    return user


def _account(user) -> Account:
    from loa.console.accounts.roles import ROLES

    held = {g.name for g in user.groups.all()}
    return Account(user.username, user.first_name, tuple(r for r in ROLES if r in held),
                   user.is_active)


def _other_active_admins(user) -> int:
    from django.contrib.auth import get_user_model

    return (get_user_model().objects.filter(is_active=True, groups__name="admin")
            .exclude(pk=user.pk).distinct().count())


def update_user(username: str, *, roles: list[str] | None = None,
                full_name: str | None = None, actor=None, request=None) -> Account:
    """Change an account's roles and/or full name. Nobody takes away their own admin role,
    and the last active admin keeps it (else nobody could manage accounts)."""
    from django.contrib.auth.models import Group
    from django.db import transaction

    from loa.console.accounts.audit import record

    actor = actor if actor is not None else getattr(request, "user", None)
    with transaction.atomic():
        user = _get(username)
        before = _account(user)
        changes = []
        if roles is not None:
            codes = check_roles(roles)
            if "admin" in before.roles and "admin" not in codes:
                if actor is not None and actor.pk == user.pk:
                    raise LoaError("bạn không thể tự bỏ vai trò Quản trị của mình; hãy nhờ một "
                                   "người quản trị khác.")
                if user.is_active and not _other_active_admins(user):
                    raise LoaError(f"'{user.first_name or user.username}' là người quản trị cuối "
                                   "cùng còn hoạt động; hãy cho người khác vai trò Quản trị "
                                   "trước.")
            if set(codes) != set(before.roles):
                user.groups.set([Group.objects.get_or_create(name=c)[0] for c in codes])
                changes.append(("user.roles", f"vai trò: {_roles_vi(before.roles) or '(không)'}"
                                f" → {_roles_vi(codes)}"))
        if full_name is not None:
            full_name = full_name.strip()
            if len(full_name) > 150:
                raise LoaError("họ tên dài quá 150 ký tự.")
            if full_name != user.first_name:
                changes.append(("user.name", f"họ tên: «{user.first_name}» → «{full_name}»"))
                user.first_name = full_name
                user.save(update_fields=["first_name"])
        who = user.first_name or user.username
        for action, detail in changes:
            record(request, action, who, detail + _by_cli(request),
                   user=None if request else user)
    user._loa_roles = None
    return _account(user)


def set_active(username: str, active: bool, *, actor=None, request=None) -> Account:
    """Lock (or unlock) an account. Never deleted: the audit and the log keep naming it."""
    from django.db import transaction

    from loa.console.accounts.audit import record

    actor = actor if actor is not None else getattr(request, "user", None)
    with transaction.atomic():
        user = _get(username)
        if user.is_active == active:
            return _account(user)
        if not active and user.groups.filter(name="admin").exists() and not \
                _other_active_admins(user):
            raise LoaError(f"'{user.first_name or user.username}' là người quản trị cuối cùng "
                           "còn hoạt động; không thể khóa tài khoản này.")
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:  # sessions of a locked account end now, not at their expiry
            _end_sessions(user)
        record(request, "user.reactivate" if active else "user.deactivate",
               user.first_name or user.username,
               ("mở lại tài khoản" if active else "khóa tài khoản") + _by_cli(request),
               user=None if request else user)
    return _account(user)


def _end_sessions(user) -> None:
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    for s in Session.objects.filter(expire_date__gte=timezone.now()).iterator():
        if str(s.get_decoded().get("_auth_user_id")) == str(user.pk):
            s.delete()


def set_password(username: str, password: str, *, request=None) -> None:
    from loa.console.accounts.audit import record

    user = _get(username)
    check_password(password, user.username, user.first_name)
    user.set_password(password)
    user.save()
    record(request, "user.password", user.first_name or user.username,
           "đặt lại mật khẩu" + _by_cli(request), user=None if request else user)


def list_users() -> list[Account]:
    from django.contrib.auth import get_user_model

    from loa.console.accounts.roles import ROLES

    out = []
    for u in get_user_model().objects.order_by("username").prefetch_related("groups"):
        roles = tuple(r for r in ROLES if r in {g.name for g in u.groups.all()})
        out.append(Account(u.username, u.first_name, roles, u.is_active))
    return out
