"""Travel notices beyond one person's scope wait for a second person's approval: the field, the
permission (team leads hold it), and existing notices beyond the scope marked as waiting (they
leave users-config when their customers are next published: `manage.py republish_customers`)."""

from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from fraudsite import roles

# The scope as this migration applied it (users.models.within_scope may change later).
SCOPE_DAYS, SCOPE_RADIUS_KM = 31, 2_000


def grant_and_mark(apps, schema_editor):
    roles.grant(apps, "users", "Team lead", ["approve_travelnotice"])
    TravelNotice = apps.get_model("users", "TravelNotice")
    for notice in TravelNotice.objects.all():
        within = (notice.signal != "" and notice.radius_km is not None and notice.radius_km <= SCOPE_RADIUS_KM
                  and notice.ends_at - notice.starts_at <= timedelta(days=SCOPE_DAYS))
        if not within:
            TravelNotice.objects.filter(pk=notice.pk).update(approval="pending")


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0008_roles_proposals'),
        ('alerts', '0004_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='travelnotice',
            options={'ordering': ['customer', 'starts_at', 'id'], 'permissions': [('approve_travelnotice', "Can approve travel notices beyond one person's scope")]},
        ),
        migrations.AddField(
            model_name='historicaltravelnotice',
            name='approval',
            field=models.CharField(choices=[('not_needed', 'Within scope: applies at once'), ('pending', "Awaiting a second person's approval"), ('approved', 'Approved')], db_index=True, default='not_needed', editable=False, max_length=12),
        ),
        migrations.AddField(
            model_name='historicaltravelnotice',
            name='approved_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='historicaltravelnotice',
            name='approved_by',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='travelnotice',
            name='approval',
            field=models.CharField(choices=[('not_needed', 'Within scope: applies at once'), ('pending', "Awaiting a second person's approval"), ('approved', 'Approved')], db_index=True, default='not_needed', editable=False, max_length=12),
        ),
        migrations.AddField(
            model_name='travelnotice',
            name='approved_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='travelnotice',
            name='approved_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(grant_and_mark, migrations.RunPython.noop),
    ]
