from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("loa.console.fleet.urls")),
    path("", include("loa.console.pages.urls")),
]
handler403 = "loa.console.pages.views.errors.forbidden"
handler404 = "loa.console.pages.views.errors.not_found"
handler500 = "loa.console.pages.views.errors.server_error"
