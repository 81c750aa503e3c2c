"""Error pages in Vietnamese (never Django's English ones, never a traceback)."""

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render


@login_not_required
def forbidden(request, exception=None):
    return render(request, "pages/error.html", {
        "title": "Không có quyền",
        "message": "Tài khoản của bạn không có quyền làm việc này. "
                   "Hỏi người quản trị nếu bạn cần quyền."}, status=403)


@login_not_required
def not_found(request, exception=None):
    return render(request, "pages/error.html", {
        "title": "Không tìm thấy",
        "message": "Trang hoặc mục bạn tìm không có (có thể đã bị xóa hoặc đổi tên)."},
        status=404)


@login_not_required
def server_error(request):
    return render(request, "pages/error.html", {
        "title": "Có lỗi",
        "message": "Máy chủ gặp lỗi khi làm việc này; chưa có gì bị thay đổi dở dang. "
                   "Hãy thử lại, nếu vẫn lỗi thì báo cán bộ kỹ thuật."}, status=500)


@login_not_required
def csrf_failure(request, reason=""):
    return render(request, "pages/error.html", {
        "title": "Phiên làm việc đã hết hạn",
        "message": "Trang này đã mở quá lâu hoặc từ một trang khác. "
                   "Hãy tải lại trang rồi làm lại; chưa có gì được lưu."}, status=403)
