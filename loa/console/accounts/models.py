from django.db import models


class AuditEntry(models.Model):
    """One state change done through the console (or `loa users`): who, when, what."""

    at = models.DateTimeField(db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    full_name = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=60, db_index=True)  # e.g. "bulletin.approve"
    target = models.CharField(max_length=500, blank=True)  # by name, Vietnamese
    detail = models.TextField(blank=True)  # Vietnamese
    address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.target}"


class LoginFailure(models.Model):
    """A wrong password: counted per account and per address to slow down guessing."""

    at = models.DateTimeField(db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
