"""The three roles, as groups: each with what its work needs and nothing more. Add people to a
group in the admin (Authentication > Groups); administrators also need "staff status" to sign in
to the admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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
    # Permissions are otherwise made after all migrations have run (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for permission in permissions:
            app_label, codename = permission.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


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
