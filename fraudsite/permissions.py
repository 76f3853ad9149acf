"""Each app names its permissions once, in its permissions.py, as has_perm takes them:
"app_label.codename". A model's Meta declares its own permissions from those names."""


def codename(permission):
    """The codename of "app_label.codename"."""
    return permission.split(".", 1)[1]
