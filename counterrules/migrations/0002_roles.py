"""Analysts, team leads and administrators (alerts' migration 0004_roles) see the counter rules; a
change is a proposal (proposals' permissions), so nobody edits a rule in place."""

from django.db import migrations

from fraudsite import roles

GRANTS = {role: ["view_counterrule"] for role in ("Analyst", "Team lead", "Administrator")}


class Migration(migrations.Migration):
    dependencies = [
        ("counterrules", "0001_rules"),
        ("alerts", "0004_roles"),
    ]
    operations = [roles.granting("counterrules", GRANTS)]
