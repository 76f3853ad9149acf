"""Issue 28. A submitted transaction and its verdict are related by their transaction_id, so the
link column Verdict.submitted (set by whichever of two writers came last, and missed when they
raced) goes: nothing is lost, every link it held is derived again, and so are the ones it missed.
Backwards, the column is filled from the transaction ids. Verdict conflicts are new, viewed by
administrators."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

from fraudsite import roles


def link_by_transaction_id(apps, schema_editor):
    Verdict, Transaction = apps.get_model("transactions", "Verdict"), apps.get_model("transactions", "Transaction")
    Verdict.objects.update(submitted=Subquery(
        Transaction.objects.filter(transaction_id=OuterRef("transaction_id")).values("pk")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('transactions', '0007_verdict_indexes_read'),
        ('alerts', '0004_roles'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, link_by_transaction_id),
        migrations.RemoveField(
            model_name='verdict',
            name='submitted',
        ),
        migrations.CreateModel(
            name='VerdictConflict',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('transaction_id', models.CharField(max_length=64)),
                ('record', models.JSONField(help_text="The differing record's fields as decoded (times in epoch milliseconds).")),
                ('kafka_topic', models.CharField(max_length=255)),
                ('kafka_partition', models.IntegerField()),
                ('kafka_offset', models.BigIntegerField()),
                ('recorded_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('verdict', models.ForeignKey(help_text='The stored verdict, which stays as it is.', on_delete=django.db.models.deletion.CASCADE, related_name='conflicts', to='transactions.verdict')),
            ],
            options={
                'ordering': ['-recorded_at', '-id'],
                'constraints': [models.UniqueConstraint(fields=('kafka_topic', 'kafka_partition', 'kafka_offset'), name='verdict_conflict_once')],
            },
        ),
        roles.granting("transactions", {"Administrator": ["view_verdictconflict"]}),
    ]
