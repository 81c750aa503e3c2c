from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "loa.console.accounts"
    label = "accounts"
    verbose_name = "Tài khoản"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.validators import ProhibitNullCharactersValidator

        from loa.console.accounts import signals  # noqa: F401  (login/logout are audited)

        # every form field refuses NUL; Django has no Vietnamese words for it
        ProhibitNullCharactersValidator.message = (
            "Có ký tự NUL (\\x00) không hợp lệ; hãy gõ lại hoặc dán lại phần chữ này.")
