# The plan read is kept by the station's plans folder now, not pickled in the job.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("pages", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="importjob", name="plan"),
        migrations.RemoveField(model_name="importjob", name="drafted"),
        migrations.AddField(model_name="importjob", name="shown",
                            field=models.BooleanField(default=False)),
        migrations.AlterField(model_name="importjob", name="key",
                              field=models.CharField(blank=True, max_length=80)),
    ]
