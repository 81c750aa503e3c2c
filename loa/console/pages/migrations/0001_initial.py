import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("created", models.DateTimeField(db_index=True)),
                ("state", models.CharField(choices=[("running", "đang đọc"),
                                                    ("done", "đã đọc xong"),
                                                    ("failed", "không đọc được")],
                                           db_index=True, default="running", max_length=10)),
                ("names", models.JSONField(default=list)),
                ("photos", models.BooleanField(default=False)),
                ("pages_done", models.IntegerField(default=0)),
                ("pages_total", models.IntegerField(default=0)),
                ("result", models.JSONField(default=dict)),
                ("errors", models.JSONField(default=list)),
                ("plan", models.BinaryField(null=True)),
                ("key", models.CharField(blank=True, max_length=80)),
                ("drafted", models.TextField(blank=True)),
                ("workdir", models.CharField(blank=True, max_length=500)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                           related_name="plan_imports",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created", "-id"]},
        ),
    ]
