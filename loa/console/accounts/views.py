"""Log in (throttled) and out."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.forms.utils import ErrorDict
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator

from loa.console.accounts import throttle
from loa.console.accounts.audit import client_address, record


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "Sai tên đăng nhập hoặc mật khẩu (chú ý chữ hoa, chữ thường).",
        "inactive": "Tài khoản này đã bị khóa; hỏi người quản trị.",
    }


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")[:150]
        wait = throttle.wait_seconds(username, client_address(request))
        if wait:
            form = self.get_form()
            minutes = max(1, -(-wait // 60))
            # refuse without checking the password at all (no full_clean)
            form._errors, form.cleaned_data = ErrorDict(), {}
            form.add_error(None, f"Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def get_default_redirect_url(self):
        """A server with no station schedule of its own opens on its stations (/dai/) for
        an account that sees at least one; else the overview."""
        from loa.console.station import has_schedule

        if not has_schedule():
            from loa.console.fleet.service import stations_for

            if stations_for(self.request.user).exists():
                return resolve_url("fleet_stations")
        return super().get_default_redirect_url()

    def form_valid(self, form):
        throttle.succeeded(form.get_user().get_username())
        return super().form_valid(form)

    def form_invalid(self, form):
        username = self.request.POST.get("username", "")[:150]
        if username:
            throttle.failed(username, client_address(self.request))
            record(self.request, "account.login_failed", username, "đăng nhập sai mật khẩu")
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    pass
