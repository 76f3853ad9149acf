"""Administrators manage the machine clients' API keys and look up decisions (alerts/0004_roles
made the group)."""

from django.db import migrations

from fraudsite import roles

CODENAMES = ["view_clientkey", "add_clientkey", "change_clientkey", "view_decision"]


def grant(apps, schema_editor):
    roles.grant(apps, "api", "Administrator", CODENAMES)


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("alerts", "0004_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
