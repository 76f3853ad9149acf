"""The three roles, as groups: each with what its work needs and nothing more. Add people to a
group in the admin (Authentication > Groups); administrators also need "staff status" to sign in
to the admin."""

from django.db import migrations

from fraudsite import roles

ANALYST = [
    "transactions.view_verdict", "transactions.review_verdict",  # the map, queue, alert and case pages
    "users.view_travelnotice", "users.add_travelnotice",  # from a case
]
TEAM_LEAD = ANALYST + [
    "alerts.assign_alert", "alerts.view_team", "users.change_travelnotice", "users.delete_travelnotice",
    "alerts.view_alertreview", "alerts.view_case", "alerts.view_alert", "alerts.view_alertevent",
]
ADMINISTRATOR = TEAM_LEAD + [
    "users.view_customer", "users.add_customer", "users.change_customer", "users.delete_customer",
    "transactions.view_transaction", "transactions.add_transaction", "transactions.view_deadletter",
    "outbox.view_outboxmessage",
    "auth.view_user", "auth.add_user", "auth.change_user", "auth.view_group",
]
ROLES = {"Analyst": ANALYST, "Team lead": TEAM_LEAD, "Administrator": ADMINISTRATOR}


def create_roles(apps, schema_editor):
    for name, permissions in ROLES.items():
        by_app = {}
        for permission in permissions:
            app_label, codename = permission.split(".")
            by_app.setdefault(app_label, []).append(codename)
        for app_label, codenames in by_app.items():
            roles.grant(apps, app_label, name, codenames)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alerts_for_fraud_verdicts"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("outbox", "0001_initial"),
        ("transactions", "0004_alertreview_moves_to_alerts"),
        ("users", "0004_travel_notices"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
