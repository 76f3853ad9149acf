from django.db import migrations


def make_alerts(apps, schema_editor):
    """Every FRAUD verdict stored before the workbench becomes an alert nobody holds."""
    Verdict = apps.get_model("transactions", "Verdict")
    Alert = apps.get_model("alerts", "Alert")
    frauds = Verdict.objects.filter(is_fraud=True).values_list("pk", flat=True).iterator(chunk_size=5000)
    batch = []
    for pk in frauds:
        batch.append(Alert(verdict_id=pk))
        if len(batch) == 5000:
            Alert.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    Alert.objects.bulk_create(batch, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_workbench")]
    operations = [migrations.RunPython(make_alerts, migrations.RunPython.noop)]
