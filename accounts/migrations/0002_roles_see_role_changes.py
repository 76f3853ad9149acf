"""Team leads and administrators read the audit trail of roles (alerts/0004_roles made the groups).
Nobody's role holds accounts.change_role: a superuser grants roles, or gives that right to a person."""

from django.db import migrations

from fraudsite import roles


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_accounts_and_role_changes"), ("alerts", "0004_roles")]
    operations = [roles.granting("accounts", {role: ["view_rolechange"] for role in ("Team lead", "Administrator")})]
