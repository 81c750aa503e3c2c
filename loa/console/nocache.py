"""Pages of a logged-in officer are never kept by the browser: Back after a save shows the
item as it is now (not "bản nháp" after Gửi duyệt), and after Đăng xuất Back shows nothing."""

from __future__ import annotations

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
