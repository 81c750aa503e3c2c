from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "loa.console.fleet"
    label = "fleet"
    verbose_name = "Các đài và cụm loa"
    default_auto_field = "django.db.models.BigAutoField"
