"""The daily rollup of plays (loa/console/fleet/rollup.py): a table kept by triggers on
PostgreSQL; nothing on SQLite. The model is unmanaged: Django only reads it."""

from django.db import migrations, models

from loa.console.fleet import rollup


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("fleet", "0003_play_indexes"),
    ]

    operations = [
        migrations.RunPython(_run(rollup.INSTALL), _run(rollup.DROP)),
        migrations.CreateModel(
            name="PlayDaily",
            fields=[
                ("pk", models.CompositePrimaryKey("station", "day", "status", "plan", "topic",
                                                  blank=True, editable=False, primary_key=True,
                                                  serialize=False)),
                ("station", models.ForeignKey(on_delete=models.deletion.DO_NOTHING,
                                              related_name="+", to="fleet.station")),
                ("day", models.DateField()),
                ("status", models.CharField(max_length=20)),
                ("plan", models.CharField(max_length=300)),
                ("topic", models.CharField(max_length=100)),
                ("plays", models.IntegerField()),
                ("seconds", models.FloatField()),
            ],
            options={"db_table": "fleet_play_daily", "managed": False},
        ),
    ]
