"""Every page module owns its URLs; this file only gathers them."""

from django.urls import include, path

from loa.console.accounts.roles import roles_required
from loa.console.accounts.views import LoginView, LogoutView

urlpatterns = [
    path("dang-nhap/", LoginView.as_view(), name="login"),
    path("dang-xuat/", roles_required()(LogoutView.as_view()), name="logout"),
    path("", include("loa.console.pages.views.overview")),
    path("ke-hoach/", include("loa.console.pages.views.plans")),
    path("nhap-ke-hoach/", include("loa.console.pages.views.plan_import")),
    path("ban-tin/", include("loa.console.pages.views.bulletins")),
    path("duyet/", include("loa.console.pages.views.review")),
    path("lich-phat/", include("loa.console.pages.views.schedule")),
    path("khan-cap/", include("loa.console.pages.views.emergency")),
    path("nhat-ky/", include("loa.console.pages.views.logbook")),
    path("nguoi-dung/", include("loa.console.pages.views.users")),
    path("thao-tac/", include("loa.console.pages.views.audit")),
]
