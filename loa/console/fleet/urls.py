"""The device API, mounted at /api/v1/ (see docs/server.md for the protocol)."""

from django.urls import path

from loa.console.fleet import api

app_name = "fleet_api"
urlpatterns = [
    path("enroll", api.enroll, name="enroll"),
    path("bundle", api.bundle, name="bundle"),
    path("clips/<str:sha256>", api.clip, name="clip"),
    path("plays", api.plays, name="plays"),
    path("heartbeat", api.heartbeat, name="heartbeat"),
    path("emergencies", api.emergencies, name="emergencies"),
    path("emergencies/<str:emergency_id>/ack", api.ack, name="ack"),
]
