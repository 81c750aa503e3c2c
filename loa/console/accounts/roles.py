"""The four roles of a station's staff, enforced on the server for every view.

A role is a Django group named by its code; one person may hold several (in a small
commune one officer is editor and technician)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied

ROLES = {
    "editor": "Biên tập",
    "leader": "Lãnh đạo",
    "technician": "Kỹ thuật",
    "admin": "Quản trị",
}
ROLE_HELP = {
    "editor": "nhập kế hoạch, sửa bản nháp, thu giọng, xếp lịch phát",
    "leader": "duyệt bản tin hoặc trả lại kèm nhận xét",
    "technician": "vùng loa, thiết bị, tình trạng máy phát",
    "admin": "quản lý tài khoản",
}


def user_roles(user) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_loa_roles", None)
    if cached is None:
        cached = frozenset(n for n in user.groups.values_list("name", flat=True) if n in ROLES)
        user._loa_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    """True if the user holds any of `roles` (no roles given: any logged-in user)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return not roles or bool(user_roles(user) & set(roles))


def display_name(user) -> str:
    return (user.get_full_name() or user.get_username()).strip()


def roles_required(*roles: str) -> Callable:
    """Allow the view to users holding one of `roles`; `()` allows any logged-in user.

    The roles are kept on the view (`loa_roles`) so a test can check every URL."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def wrap(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded.loa_roles = frozenset(roles)
        return guarded

    return wrap


def context(request) -> dict:
    """Template context: the user's roles, for the menu (the server still checks)."""
    held = user_roles(getattr(request, "user", None))
    return {"loa_roles": held, "role_names": [ROLES[r] for r in ROLES if r in held]}
