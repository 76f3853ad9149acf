"""Analysts, team leads and administrators (alerts' migration 0004_roles) see the counter rules; a
change is a proposal (proposals' permissions), so nobody edits a rule in place."""

from django.db import migrations

from fraudsite import roles

GRANTS = {role: ["view_counterrule"] for role in ("Analyst", "Team lead", "Administrator")}


def grant(apps, schema_editor):
    for role, codenames in GRANTS.items():
        roles.grant(apps, "counterrules", role, codenames)


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="counterrules"))


class Migration(migrations.Migration):
    dependencies = [
        ("counterrules", "0001_rules"),
        ("alerts", "0004_roles"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
