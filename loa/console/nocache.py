"""Middleware of the console.

Pages of a logged-in officer are never kept by the browser: Back after a save shows the
item as it is now (not "bản nháp" after Gửi duyệt), and after Đăng xuất Back shows nothing."""

from __future__ import annotations

from pathlib import Path

from django.utils.cache import add_never_cache_headers


def no_store(get_response):
    def middleware(request):
        response = get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not response.has_header("Cache-Control")
                and response.get("Content-Type", "").startswith("text/html")):
            add_never_cache_headers(response)
        return response
    return middleware


def station_paths(get_response):
    """Messages on a page name the station's files from its folder ("ba-vi.yaml, dòng 12"),
    not by the server's full path."""
    from django.conf import settings

    from loa.errors import reset_paths_shown, show_paths_from

    def middleware(request):
        folder = Path(settings.LOA_SCHEDULE).parent if settings.LOA_SCHEDULE else None
        token = show_paths_from(folder)
        try:
            return get_response(request)
        finally:
            reset_paths_shown(token)
    return middleware


def no_schedule(get_response):
    """On a server with no station schedule of its own (`loa serve --database` alone), a
    page that needs one explains that instead of failing with an error page."""
    from django.shortcuts import render

    from loa.console.station import NoSchedule

    def middleware(request):
        return get_response(request)

    def process_exception(request, exception):
        if not isinstance(exception, NoSchedule):
            return None
        return render(request, "pages/error.html", {
            "title": "Máy chủ chưa có lịch phát riêng",
            "message": "Máy chủ này quản lý các đài và cụm loa (chạy không có lịch phát của "
                       "riêng một đài), nên trang này không dùng được ở đây. Hãy mở trang "
                       "của từng đài trong mục Các đài."}, status=200)

    middleware.process_exception = process_exception
    return middleware
