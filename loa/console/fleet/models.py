"""The fleet's tables: provinces, stations, devices (players / IP loudspeaker clusters),
what they play (bundles, clips), what they played (plays), their health (heartbeats) and
the emergencies pushed to them. Times are aware; PostgreSQL keeps them as timestamptz."""

from __future__ import annotations

from django.conf import settings
from django.db import models

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


class Province(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Station(models.Model):
    """A commune station; its devices play its latest bundle."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    province = models.ForeignKey(Province, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="stations")
    tz = models.CharField(max_length=64, default=DEFAULT_TZ)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scope(models.Model):
    """Which stations an account sees: a whole province, or one station (a commune)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="fleet_scope")
    province = models.ForeignKey(Province, null=True, blank=True, on_delete=models.CASCADE)
    station = models.ForeignKey(Station, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(models.Q(province__isnull=False, station__isnull=True)
                       | models.Q(province__isnull=True, station__isnull=False)),
            name="fleet_scope_one_level")]


class Device(models.Model):
    """A player following the server (a commune's IP loudspeaker cluster)."""

    id = models.CharField(max_length=16, primary_key=True)  # "d-" + 10 hex
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=200)
    zones = models.JSONField(default=list)
    hostname = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)  # sha256 hex of the token
    enrolled_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    # when the broker forgot its MQTT credentials (the server process does it, even for a
    # `loa fleet revoke` run elsewhere)
    broker_removed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.JSONField(null=True, blank=True)
    # copied out of the last heartbeat: what a dashboard sorts and filters by
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    clock_trusted = models.BooleanField(null=True)
    unsent = models.IntegerField(null=True)
    version = models.CharField(max_length=40, blank=True)
    audio = models.CharField(max_length=200, blank=True)
    last_play_at = models.DateTimeField(null=True, blank=True)
    bundle = models.CharField(max_length=64, blank=True)
    disk_free_mb = models.FloatField(null=True)
    signal_dbm = models.IntegerField(null=True)

    class Meta:
        ordering = ["station__name", "name"]
        indexes = [models.Index(fields=["station", "name"])]

    def __str__(self) -> str:
        return self.name


class EnrollCode(models.Model):
    """A one-time code an admin hands to whoever installs a player."""

    code_hash = models.CharField(max_length=64, unique=True)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="codes")
    name = models.CharField(max_length=200)  # the device's name once enrolled
    zones = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")


class Clip(models.Model):
    """A produced clip, content-addressed: the file is <data>/server/clips/ab/<sha256>.wav."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    bytes = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class Bundle(models.Model):
    """What a station's devices play: files (schedule, bulletins) and clip hashes. The
    newest per station is current."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="bundles")
    etag = models.CharField(max_length=64)  # sha256 of the canonical manifest
    manifest = models.JSONField()
    clips = models.ManyToManyField(Clip, related_name="bundles")
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["station", "etag"],
                                               name="fleet_bundle_station_etag")]
        indexes = [models.Index(fields=["station", "-created_at", "-id"])]


class Play(models.Model):
    """One row of a device's as-played log, as uploaded (the whole upward row in `row`)."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="plays")
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="plays")
    play_key = models.CharField(max_length=200)
    at = models.DateTimeField()
    zone = models.CharField(max_length=100, blank=True)
    bulletin = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=500, blank=True)
    topic = models.CharField(max_length=100, blank=True)  # the plan outline id, IV.1.a
    plan = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20)
    reason = models.TextField(blank=True)
    seconds = models.FloatField(null=True)
    row = models.JSONField()
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "play_key"],
                                               name="fleet_play_device_key")]
        # few indexes: ingestion speed; a device's plays are found through the unique
        # (device, play_key) index's leading column
        indexes = [models.Index(fields=["station", "at"], name="fleet_play_station_at")]


class Heartbeat(models.Model):
    """A device's heartbeats, kept for HEARTBEAT_KEEP (service.py) then pruned."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="heartbeats")
    received_at = models.DateTimeField()
    data = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["device", "received_at"])]


class Emergency(models.Model):
    id = models.CharField(max_length=16, primary_key=True)  # "e-" + 10 hex
    title = models.CharField(max_length=300)
    text = models.TextField()
    zones = models.JSONField(default=list)  # [] = every zone of each device
    stations = models.ManyToManyField(Station, related_name="emergencies", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_by_name = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # sent_at is null until a server process with the MQTT bus has pushed it
        indexes = [models.Index(fields=["sent_at"], name="fleet_emergency_unsent",
                                condition=models.Q(sent_at__isnull=True))]

    def payload(self) -> dict:
        return {"id": self.id, "title": self.title, "text": self.text,
                "zones": list(self.zones or []),
                "sent_at": (self.sent_at or self.created_at).isoformat()}


class Delivery(models.Model):
    """One device's progress on one emergency; the first time of each stage wins."""

    emergency = models.ForeignKey(Emergency, on_delete=models.CASCADE,
                                  related_name="deliveries")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="deliveries")
    received_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    # when the server recorded each stage (fan-out time = acked - sent_at)
    received_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["emergency", "device"],
                                               name="fleet_delivery_once")]
        indexes = [models.Index(fields=["device", "finished_at"])]


class PlayDaily(models.Model):
    """Plays of one station's local day by status, plan and topic. PostgreSQL only: kept
    by triggers on the play table (rollup.py, migration 0004), read by the reports."""

    pk = models.CompositePrimaryKey("station", "day", "status", "plan", "topic")
    station = models.ForeignKey(Station, on_delete=models.DO_NOTHING, related_name="+")
    day = models.DateField()
    status = models.CharField(max_length=20)
    plan = models.CharField(max_length=300)
    topic = models.CharField(max_length=100)
    plays = models.IntegerField()
    seconds = models.FloatField()

    class Meta:
        managed = False
        db_table = "fleet_play_daily"
