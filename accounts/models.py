"""Who made each sign-in account, and every change of roles: the facts that keep one person from
granting themselves more than they hold, or checking their own work through an account they made."""

from django.conf import settings
from django.db import models

from fraudsite.permissions import codename

from .permissions import CHANGE_ROLE


class Account(models.Model):
    """A sign-in account's origin. Accounts made outside the admin (createsuperuser, the demo data)
    have no row: nobody known made them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="account")
    # PROTECT: deleting the maker would break the chain that maker-checker compares.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [(codename(CHANGE_ROLE), "Can change staff roles (only to roles they hold themselves)")]

    def __str__(self):
        return self.user.get_username()


class RoleChange(models.Model):
    """The audit trail of roles (and of staff and superuser status): never edited."""

    class Action(models.TextChoices):
        GRANTED = "granted", "Granted"
        REMOVED = "removed", "Removed"

    account = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    account_username = models.CharField(max_length=150)
    role = models.CharField(max_length=150, help_text="A group's name, or staff status, or superuser status.")
    action = models.CharField(max_length=10, choices=Action.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_by_username = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.account_username}: {self.role} {self.action} by {self.changed_by_username}"
