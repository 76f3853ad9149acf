"""Customers are published through the outbox: what was still to be published (unsynced customers,
pending deletions) becomes outbox rows, then the per-customer sync columns and PendingTombstone go
(the publication state is read from the outbox)."""

from django.db import migrations

USERS_CONFIG = "users_config"  # the topic's role in fraudsite/topics.py at the time of this migration
SIGNAL_FIELDS = ["velocity_max_transactions", "velocity_window_minutes", "spend_factor", "usual_hour_start",
                 "usual_hour_end", "time_zone"]


def queue_what_was_unpublished(apps, schema_editor):
    Customer = apps.get_model("users", "Customer")
    PendingTombstone = apps.get_model("users", "PendingTombstone")
    OutboxMessage = apps.get_model("outbox", "OutboxMessage")
    rows = [OutboxMessage(topic=USERS_CONFIG, key=user_id, value=None)
            for user_id in PendingTombstone.objects.values_list("user_id", flat=True)]
    for customer in Customer.objects.exclude(sync_state="synced"):
        value = None
        if customer.active:
            value = {"first_name": customer.first_name, "last_name": customer.last_name,
                     "max_speed": float(customer.max_speed),
                     **{name: getattr(customer, name) for name in SIGNAL_FIELDS}}
        rows.append(OutboxMessage(topic=USERS_CONFIG, key=customer.user_id, value=value))
    OutboxMessage.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0001_initial"),
        ("users", "0002_further_signals"),
    ]

    operations = [
        migrations.RunPython(queue_what_was_unpublished, migrations.RunPython.noop),
        migrations.DeleteModel(name="PendingTombstone"),
        migrations.RemoveField(model_name="customer", name="sync_error"),
        migrations.RemoveField(model_name="customer", name="sync_state"),
        migrations.RemoveField(model_name="customer", name="synced_at"),
    ]
