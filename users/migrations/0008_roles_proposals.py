"""Maker-checker in the roles: administrators draft and replay threshold proposals, team leads
check and approve them (a proposal's author can never approve it, whatever their role)."""

from django.db import migrations

from fraudsite import roles


def grant(apps, schema_editor):
    roles.grant(apps, "users", "Administrator", ["view_proposal", "add_proposal", "change_proposal"])
    roles.grant(apps, "users", "Team lead", ["view_proposal", "approve_proposal"])


class Migration(migrations.Migration):
    dependencies = [("users", "0007_proposals"), ("alerts", "0004_roles")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
