"""Proposal and its history move here from the users app without touching a row: the models are
taken over as they stand (their tables still users_proposal and users_historicalproposal), their
content types (and so every permission granted on them, and the admin's log) are relabelled, and
then the tables are renamed to this app's names."""

import django.core.validators
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

MODELS = ["proposal", "historicalproposal"]


def relabel_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="users", model__in=MODELS).update(app_label="proposals")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="proposals", model__in=MODELS).update(app_label="users")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("users", "0010_proposals_move_to_their_app"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
                migrations.CreateModel(
                    name='HistoricalProposal',
                    fields=[
                        ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                        ('created_at', models.DateTimeField(blank=True, editable=False)),
                        ('reason', models.CharField(help_text='Why: what the change should achieve.', max_length=500)),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('replaying', 'Replaying'), ('replayed', 'Replayed'), ('published', 'Approved and published'), ('rejected', 'Rejected')], db_index=True, default='draft', max_length=20)),
                        ('changes', models.JSONField(help_text='{user_id: {threshold field: new value}}')),
                        ('replay_days', models.PositiveSmallIntegerField(default=30, help_text='How many days of stored transactions, up to now, the replay judges.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(366)])),
                        ('replay_started_at', models.DateTimeField(blank=True, null=True)),
                        ('replay_finished_at', models.DateTimeField(blank=True, null=True)),
                        ('replay_window_start', models.DateTimeField(blank=True, null=True)),
                        ('replay_window_end', models.DateTimeField(blank=True, null=True)),
                        ('replay_result', models.JSONField(blank=True, null=True)),
                        ('replay_fingerprint', models.CharField(blank=True, max_length=64)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('decision_reason', models.CharField(blank=True, max_length=500)),
                        ('history_id', models.AutoField(primary_key=True, serialize=False)),
                        ('history_date', models.DateTimeField(db_index=True)),
                        ('history_change_reason', models.CharField(max_length=100, null=True)),
                        ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                        ('author', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('decided_by', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'historical proposal',
                        'verbose_name_plural': 'historical proposals',
                        'ordering': ('-history_date', '-history_id'),
                        'get_latest_by': ('history_date', 'history_id'),
                'db_table': 'users_historicalproposal',
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name='Proposal',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('reason', models.CharField(help_text='Why: what the change should achieve.', max_length=500)),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('replaying', 'Replaying'), ('replayed', 'Replayed'), ('published', 'Approved and published'), ('rejected', 'Rejected')], db_index=True, default='draft', max_length=20)),
                        ('changes', models.JSONField(help_text='{user_id: {threshold field: new value}}')),
                        ('replay_days', models.PositiveSmallIntegerField(default=30, help_text='How many days of stored transactions, up to now, the replay judges.', validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(366)])),
                        ('replay_progress', models.PositiveSmallIntegerField(default=0, help_text='Percent.')),
                        ('replay_message', models.CharField(blank=True, max_length=500)),
                        ('replay_started_at', models.DateTimeField(blank=True, null=True)),
                        ('replay_finished_at', models.DateTimeField(blank=True, null=True)),
                        ('replay_window_start', models.DateTimeField(blank=True, null=True)),
                        ('replay_window_end', models.DateTimeField(blank=True, null=True)),
                        ('replay_result', models.JSONField(blank=True, null=True)),
                        ('replay_fingerprint', models.CharField(blank=True, max_length=64)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('decision_reason', models.CharField(blank=True, max_length=500)),
                        ('author', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['-created_at'],
                        'permissions': [('approve_proposal', 'Can approve threshold proposals (publishes them)')],
                'db_table': 'users_proposal',
                    },
                ),
        ]),
        migrations.RunPython(relabel_content_types, restore_content_types),
        migrations.AlterModelTable(name="historicalproposal", table=None),
        migrations.AlterModelTable(name="proposal", table=None),
    ]
