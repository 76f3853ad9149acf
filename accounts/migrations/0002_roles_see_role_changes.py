"""Team leads and administrators read the audit trail of roles (alerts/0004_roles made the groups).
Nobody's role holds accounts.change_role: a superuser grants roles, or gives that right to a person."""

from django.db import migrations

from fraudsite import roles


def grant(apps, schema_editor):
    for role in ("Team lead", "Administrator"):
        roles.grant(apps, "accounts", role, ["view_rolechange"])


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=["Team lead", "Administrator"]):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="accounts"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_accounts_and_role_changes"), ("alerts", "0004_roles")]
    operations = [migrations.RunPython(grant, revoke)]
