"""Proposal (and its history) now belongs to the proposals app (proposals/migrations/0001_initial.py
takes over its tables, rows and permissions); here it only leaves this app's model state. No table
is touched."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0009_travel_notice_approval"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.RemoveField(model_name="proposal", name="author"),
            migrations.RemoveField(model_name="proposal", name="decided_by"),
            migrations.DeleteModel(name="HistoricalProposal"),
            migrations.DeleteModel(name="Proposal"),
        ]),
    ]
