"""A verdict no longer carries its alert's review state: alerts' 0006 copied it to the alert
(alerts.Alert). The analytics index of alerts by arrival is rebuilt without the column."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("transactions", "0008_verdict_conflicts_link_by_transaction_id"),
        ("alerts", "0006_alert_review_state"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="verdict",
            options={"ordering": ["-received_at"]},
        ),
        migrations.RemoveIndex(
            model_name="verdict",
            name="verdict_alerts_by_arrival",
        ),
        migrations.RemoveField(
            model_name="verdict",
            name="review_status",
        ),
        migrations.RemoveField(
            model_name="verdict",
            name="reviewed_at",
        ),
        migrations.AddIndex(
            model_name="verdict",
            index=models.Index(condition=models.Q(("is_fraud", True)), fields=["received_at"],
                               include=("id", "reasons"), name="verdict_alerts_by_arrival"),
        ),
    ]
