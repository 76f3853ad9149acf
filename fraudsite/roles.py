"""For data migrations that grant an app's permissions to a role (the groups alerts' migration
0004_roles creates), or move grants from one permission to another."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def make_permissions(apps, app_label):
    """Make the app's permissions now: Django otherwise makes them only after every migration has run."""
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None


def grant(apps, app_label, role, codenames):
    """Give the group `role` the app's permissions `codenames`, making them first."""
    make_permissions(apps, app_label)
    permissions = list(apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label=app_label, codename__in=codenames))
    if missing := set(codenames) - {permission.codename for permission in permissions}:
        raise LookupError(f"{app_label} has no permissions {sorted(missing)}")
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=role)
    group.permissions.add(*permissions)


def revoke(apps, app_label, role, codenames):
    """Take the app's permissions `codenames` back from the group `role`."""
    for group in apps.get_model("auth", "Group").objects.filter(name=role):
        group.permissions.remove(*group.permissions.filter(content_type__app_label=app_label, codename__in=codenames))


def granting(app_label, grants):
    """A migration operation giving each role of grants ({role: [codename]}) those permissions of the
    app, and taking them back when migrated backwards."""
    def forwards(apps, schema_editor):
        for role, codenames in grants.items():
            grant(apps, app_label, role, codenames)

    def backwards(apps, schema_editor):
        for role, codenames in grants.items():
            revoke(apps, app_label, role, codenames)

    return migrations.RunPython(forwards, backwards)
