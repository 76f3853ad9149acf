"""Administrators change the scoring policy (alerts/0004_roles made the group)."""

from django.db import migrations

from fraudsite import roles


def grant(apps, schema_editor):
    roles.grant(apps, "users", "Administrator", ["view_scoringpolicy", "change_scoringpolicy"])


class Migration(migrations.Migration):
    dependencies = [("users", "0005_scoring"), ("alerts", "0004_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
