"""An alert's review state moves from its verdict to the alert, and the permission to review with
it (transactions.review_verdict becomes alerts.review_alert). Nothing is lost: every FRAUD verdict
without an alert gets one, each alert takes its verdict's status and time of decision (the
reviews and events stay as they are), and every group and user granted the old permission is
granted the new one before the old one goes. transactions' 0009 then drops the verdict's columns.
Backwards, the same in reverse."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery

from fraudsite.roles import make_permissions

OLD = ("transactions", "review_verdict")
NEW = ("alerts", "review_alert")


def _carry_grants(apps, source, target):
    """Grant target to every group and user granted source, then drop source (and so its grants)."""
    Permission = apps.get_model("auth", "Permission")
    old = Permission.objects.filter(content_type__app_label=source[0], codename=source[1]).first()
    make_permissions(apps, target[0])
    new = Permission.objects.get(content_type__app_label=target[0], codename=target[1])
    if old is None:
        return
    new.group_set.add(*old.group_set.all())
    new.user_set.add(*old.user_set.all())
    old.delete()


def _alerts_for_every_fraud_verdict(apps):
    Verdict, Alert = apps.get_model("transactions", "Verdict"), apps.get_model("alerts", "Alert")
    missing = Verdict.objects.filter(is_fraud=True, alert__isnull=True).values_list("pk", flat=True)
    Alert.objects.bulk_create((Alert(verdict_id=pk) for pk in missing.iterator(chunk_size=5000)),
                              batch_size=5000, ignore_conflicts=True)


def to_alerts(apps, schema_editor):
    _alerts_for_every_fraud_verdict(apps)
    Verdict, Alert = apps.get_model("transactions", "Verdict"), apps.get_model("alerts", "Alert")
    verdict = Verdict.objects.filter(pk=OuterRef("pk"))
    Alert.objects.filter(verdict__in=Verdict.objects.exclude(review_status="", reviewed_at=None)).update(
        review_status=Subquery(verdict.values("review_status")), reviewed_at=Subquery(verdict.values("reviewed_at")))
    _carry_grants(apps, OLD, NEW)


def to_verdicts(apps, schema_editor):
    Verdict, Alert = apps.get_model("transactions", "Verdict"), apps.get_model("alerts", "Alert")
    alert = Alert.objects.filter(pk=OuterRef("pk"))
    Verdict.objects.filter(alert__in=Alert.objects.exclude(review_status="", reviewed_at=None)).update(
        review_status=Subquery(alert.values("review_status")), reviewed_at=Subquery(alert.values("reviewed_at")))
    _carry_grants(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_alert_event_overridden"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("transactions", "0008_verdict_conflicts_link_by_transaction_id"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="alert",
            options={"permissions": [("review_alert", "Can review fraud alerts"),
                                     ("assign_alert", "Can assign alerts to colleagues"),
                                     ("view_team", "Can see the team's workload")]},
        ),
        migrations.AddField(
            model_name="alert",
            name="review_status",
            field=models.CharField(blank=True, choices=[("", "Open"), ("confirmed_fraud", "Confirmed fraud"),
                                                        ("false_positive", "False positive"),
                                                        ("needs_follow_up", "Needs follow-up")],
                                   db_default="", default="", max_length=20),
        ),
        migrations.AddField(
            model_name="alert",
            name="reviewed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        # (before the data: PostgreSQL builds no index on a table with changes pending in the transaction)
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["review_status", "reviewed_at"], name="alert_review_status"),
        ),
        migrations.RunPython(to_alerts, to_verdicts),
    ]
