from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    from loa.console.accounts.audit import record

    record(request, "account.login", user.get_username(), "đăng nhập", user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    from loa.console.accounts.audit import record

    if user is not None:
        record(request, "account.logout", user.get_username(), "đăng xuất", user=user)
