"""Analysts see the lists; team leads and administrators (alerts' migration 0004_roles) manage them."""

from django.db import migrations

from fraudsite import roles

VIEW = ["view_watchlist", "view_listentry"]
MANAGE = VIEW + ["add_watchlist", "change_watchlist", "delete_watchlist",
                 "add_listentry", "change_listentry", "delete_listentry"]
GRANTS = {"Analyst": VIEW, "Team lead": MANAGE, "Administrator": MANAGE}


def grant(apps, schema_editor):
    for role, codenames in GRANTS.items():
        roles.grant(apps, "watchlists", role, codenames)


def revoke(apps, schema_editor):
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="watchlists"))


class Migration(migrations.Migration):
    dependencies = [
        ("watchlists", "0001_lists_and_entries"),
        ("alerts", "0004_roles"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
