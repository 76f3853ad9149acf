"""Administrators (alerts' migration 0004_roles) manage webhook endpoints and see deliveries."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

PERMISSIONS = ["view_endpoint", "add_endpoint", "change_endpoint", "delete_endpoint",
               "view_delivery", "change_delivery", "view_deliveryattempt"]  # change_delivery: "retry now"


def grant(apps, schema_editor):
    app_config = apps.get_app_config("webhooks")
    app_config.models_module = True  # permissions are otherwise made after all migrations
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name="Administrator")
    group.permissions.add(*apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="webhooks", codename__in=PERMISSIONS))


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
