"""Replays run in a process of their own (proposals/replay_queue.py): a proposal can be queued for
one, and a running replay names its process (host, pid) and its last heartbeat. A replay that was
running in a web process's thread before this has neither: the replay process marks it failed once
it has not been heard of for STALE_SECONDS since it started."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('proposals', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalproposal',
            name='replay_host',
            field=models.CharField(blank=True, help_text='Where the replay process runs.', max_length=255),
        ),
        migrations.AddField(
            model_name='historicalproposal',
            name='replay_pid',
            field=models.PositiveIntegerField(blank=True, help_text="The replay process's id there.", null=True),
        ),
        migrations.AddField(
            model_name='historicalproposal',
            name='replay_queued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='proposal',
            name='replay_heartbeat_at',
            field=models.DateTimeField(blank=True, help_text="The replay process's last sign of life while it runs.", null=True),
        ),
        migrations.AddField(
            model_name='proposal',
            name='replay_host',
            field=models.CharField(blank=True, help_text='Where the replay process runs.', max_length=255),
        ),
        migrations.AddField(
            model_name='proposal',
            name='replay_pid',
            field=models.PositiveIntegerField(blank=True, help_text="The replay process's id there.", null=True),
        ),
        migrations.AddField(
            model_name='proposal',
            name='replay_queued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='historicalproposal',
            name='status',
            field=models.CharField(choices=[('draft', 'Draft'), ('queued', 'Replay queued'), ('replaying', 'Replaying'), ('replay_failed', 'Replay failed'), ('replayed', 'Replayed'), ('published', 'Approved and published'), ('rejected', 'Rejected')], db_index=True, default='draft', max_length=20),
        ),
        migrations.AlterField(
            model_name='proposal',
            name='status',
            field=models.CharField(choices=[('draft', 'Draft'), ('queued', 'Replay queued'), ('replaying', 'Replaying'), ('replay_failed', 'Replay failed'), ('replayed', 'Replayed'), ('published', 'Approved and published'), ('rejected', 'Rejected')], db_index=True, default='draft', max_length=20),
        ),
    ]
