"""AlertReview moves here from transactions without touching its rows: the model is taken over as
it stands (its table still transactions_alertreview), its content type (and so every permission
granted on it) is relabelled, and then the table is renamed to this app's name."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def relabel_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="transactions", model="alertreview").update(app_label="alerts")


def restore_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="alerts", model="alertreview").update(app_label="transactions")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("transactions", "0004_alertreview_moves_to_alerts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AlertReview",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("decision", models.CharField(choices=[("confirmed_fraud", "Confirmed fraud"),
                                                               ("false_positive", "False positive"),
                                                               ("needs_follow_up", "Needs follow-up")],
                                                      max_length=20)),
                        ("comment", models.TextField()),
                        ("reviewer_username", models.CharField(help_text="Kept if the user is deleted.",
                                                               max_length=150)),
                        ("decided_at", models.DateTimeField(auto_now_add=True)),
                        ("reviewer", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL,
                                                       to=settings.AUTH_USER_MODEL)),
                        ("verdict", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE,
                                                      related_name="reviews", to="transactions.verdict")),
                    ],
                    options={"ordering": ["-decided_at", "-id"], "db_table": "transactions_alertreview"},
                ),
            ],
        ),
        migrations.RunPython(relabel_content_type, restore_content_type),
        migrations.AlterModelTable(name="alertreview", table=None),
    ]
