"""Analysts see the lists; team leads and administrators (alerts' migration 0004_roles) manage them."""

from django.db import migrations

from fraudsite import roles

VIEW = ["view_watchlist", "view_listentry"]
MANAGE = VIEW + ["add_watchlist", "change_watchlist", "delete_watchlist",
                 "add_listentry", "change_listentry", "delete_listentry"]
GRANTS = {"Analyst": VIEW, "Team lead": MANAGE, "Administrator": MANAGE}


class Migration(migrations.Migration):
    dependencies = [
        ("watchlists", "0001_lists_and_entries"),
        ("alerts", "0004_roles"),
    ]
    operations = [roles.granting("watchlists", GRANTS)]
