"""Administrators (alerts' migration 0004_roles) manage webhook endpoints and see deliveries."""

from django.db import migrations

from fraudsite import roles

PERMISSIONS = ["view_endpoint", "add_endpoint", "change_endpoint", "delete_endpoint",
               "view_delivery", "change_delivery", "view_deliveryattempt"]  # change_delivery: "retry now"


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("alerts", "0004_roles"),
    ]
    operations = [roles.granting("webhooks", {"Administrator": PERMISSIONS})]
