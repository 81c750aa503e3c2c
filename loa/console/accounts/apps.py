from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "loa.console.accounts"
    label = "accounts"
    verbose_name = "Tài khoản"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loa.console.accounts import signals  # noqa: F401  (login/logout are audited)
