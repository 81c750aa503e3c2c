"""Readings of plans uploaded on the console's Kế hoạch page (OCR, LibreOffice: seconds).

A Django model rather than a station file: a job belongs to a console account (one at a
time per user, shown only to its owner) and lives only as long as the page needs it; the
plan itself is kept by the station (loa.station.plans) once read."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportJob(models.Model):
    RUNNING, DONE, FAILED = "running", "done", "failed"
    STATES = [(RUNNING, "đang đọc"), (DONE, "đã đọc xong"), (FAILED, "không đọc được")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="plan_imports")
    created = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=10, choices=STATES, default=RUNNING, db_index=True)
    names = models.JSONField(default=list)  # the files as the officer's device named them
    photos = models.BooleanField(default=False)  # photos of pages rather than one document
    pages_done = models.IntegerField(default=0)
    pages_total = models.IntegerField(default=0)
    result = models.JSONField(default=dict)  # title, issuer, number, topics, warnings (vi)
    errors = models.JSONField(default=list)  # Vietnamese, for the officer
    key = models.CharField(max_length=80, blank=True)  # the stored plan, once read
    shown = models.BooleanField(default=False)  # the officer has been shown the result
    workdir = models.CharField(max_length=500, blank=True)  # the upload, while it is read

    class Meta:
        ordering = ["-created", "-id"]
