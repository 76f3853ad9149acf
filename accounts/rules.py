"""What one staff account may do to another. The rule behind each: nobody obtains, through an
account, more than they hold themselves.

- A person manages (edits, sets the password of, deactivates) their own account and accounts that
  can do less than they can: every permission of the account is theirs, and they hold more (so not
  a peer's, whose sign-in would let them act under another name with the same rights); a
  superuser's only a superuser.
- Roles are granted and taken away with a separate right (accounts.change_role), and only roles
  whose every permission the granter holds. Staff and superuser status: superusers only.
- Every change of roles or status is a RoleChange row.
- Maker-checker: an account and the accounts it made (directly or through others) are one
  person's hands; one of them never checks another's work (`one_person`).
"""

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction

from .models import Account, RoleChange
from .permissions import CHANGE_ROLE

STATUSES = {"is_staff": "staff status", "is_superuser": "superuser status"}


def may_manage(actor, account):
    if actor.is_superuser or actor.pk == account.pk:
        return True
    return not account.is_superuser and account.get_all_permissions() < actor.get_all_permissions()


def grantable_roles(actor):
    """The groups actor may grant or take away: none without the right; those whose permissions they hold."""
    if actor.is_superuser:
        return Group.objects.order_by("name")
    if not actor.has_perm(CHANGE_ROLE):
        return Group.objects.none()
    held = actor.get_all_permissions()
    return Group.objects.filter(pk__in=[
        group.pk for group in Group.objects.prefetch_related("permissions__content_type")
        if {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} <= held]).order_by("name")


def record_creation(account, *, by):
    Account.objects.create(user=account, created_by=by)


@transaction.atomic
def set_roles(account, roles, *, by):
    """Make account's roles exactly `roles` (groups); PermissionDenied, nothing changed, if by may not."""
    current, wanted = set(account.groups.all()), set(roles)
    changed = current ^ wanted
    if not changed:
        return
    if not may_manage(by, account) or not changed <= set(grantable_roles(by)):
        raise PermissionDenied("You may grant or take away only roles you hold, with the right to change roles.")
    account.groups.remove(*(current - wanted))
    account.groups.add(*(wanted - current))
    for group in sorted(changed, key=lambda g: g.name):
        _record(account, group.name, group in wanted, by)


def set_status(account, *, by, **statuses):
    """Staff and superuser status (is_staff=..., is_superuser=...): superusers only, audited. The
    caller saves the account."""
    for field, value in statuses.items():
        if getattr(account, field) == value:
            continue
        if not by.is_superuser:
            raise PermissionDenied(f"Only a superuser changes {STATUSES[field]}.")
        setattr(account, field, value)
        _record(account, STATUSES[field], value, by)


def _record(account, role, granted, by):
    RoleChange.objects.create(account=account, account_username=account.get_username(), role=role,
                              action=RoleChange.Action.GRANTED if granted else RoleChange.Action.REMOVED,
                              changed_by=by, changed_by_username=by.get_username())


def makers(account):
    """The pks of whoever made account, whoever made them, and so on."""
    chain, pk = set(), account.pk
    while (pk := Account.objects.filter(user_id=pk).values_list("created_by_id", flat=True).first()) \
            and pk not in chain:
        chain.add(pk)
    return chain


def one_person(a, b):
    """True when a and b are the same account, or one made the other (directly or through accounts
    it made): a proposal's author and its checker must not be."""
    return a.pk == b.pk or a.pk in makers(b) or b.pk in makers(a)
