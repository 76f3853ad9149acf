"""Administrators (alerts' migration 0004_roles) manage webhook endpoints and see deliveries."""

from django.db import migrations

from fraudsite import roles

PERMISSIONS = ["view_endpoint", "add_endpoint", "change_endpoint", "delete_endpoint",
               "view_delivery", "change_delivery", "view_deliveryattempt"]  # change_delivery: "retry now"


def grant(apps, schema_editor):
    roles.grant(apps, "webhooks", "Administrator", PERMISSIONS)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Administrator"):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="webhooks"))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("alerts", "0004_roles"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
