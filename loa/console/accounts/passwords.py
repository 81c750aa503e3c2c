"""Password rules with Vietnamese messages where Django's translation has none."""

from django.contrib.auth import hashers, password_validation
from django.core.exceptions import ValidationError


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def validate(self, password, user=None):
        if len(password) < self.min_length:
            raise ValidationError(f"Mật khẩu quá ngắn: cần ít nhất {self.min_length} ký tự.",
                                  code="password_too_short")

    def get_help_text(self):
        return f"Mật khẩu cần ít nhất {self.min_length} ký tự."


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane). Django's default takes
    100 MiB a login: on a Pi three officers logging in at once would need 300 MiB. The
    parameters are stored in each hash, so a change re-hashes at the next login."""

    memory_cost = 19456
    time_cost = 2
    parallelism = 1
