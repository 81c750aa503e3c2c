"""Province and commune pages (the server role); included at the console's root."""

from django.urls import path

from loa.console.fleet import views

urlpatterns = [
    path("dai/", views.stations, name="fleet_stations"),
    path("dai/<slug:slug>/", views.station, name="fleet_station"),
    path("dai/<slug:slug>/ma-dang-ky/", views.enroll_code, name="fleet_enroll_code"),
    path("dai/<slug:slug>/cum-loa/<str:device_id>/thu-hoi/", views.revoke, name="fleet_revoke"),
    path("tin-khan-cap/", views.emergencies, name="fleet_emergencies"),
    path("tin-khan-cap/<str:emergency_id>/", views.emergency, name="fleet_emergency"),
    path("bao-cao/", views.report, name="fleet_report"),
]
