from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "loa.console.pages"
    label = "pages"
    verbose_name = "Trang"
