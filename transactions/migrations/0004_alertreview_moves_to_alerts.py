"""AlertReview now belongs to the alerts app (alerts/migrations/0001_initial.py takes over its
table and rows); here it only leaves this app's model state. The table is not touched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0003_further_signals_and_reviews"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="AlertReview")]),
    ]
