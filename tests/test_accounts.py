"""Staff accounts: no role obtains through the admin more than it holds (a test per forbidden
escalation), roles change only with their own audited right, and maker-checker holds across the
accounts one person made."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from proposals.services import ProposalRefused, approve, create_proposal, replay_fingerprint
from tests.support.kafka import unique
from users.models import Customer

pytestmark = pytest.mark.django_db


def member(django_user_model, role, *codenames, superuser=False):
    user = django_user_model.objects.create_user(username=unique(role.split()[0].lower()), password="pw",
                                                 is_staff=True, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def administrator(django_user_model, client):
    user = member(django_user_model, "Administrator")
    client.force_login(user)
    return user


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_superuser(username=unique("operator"), password="operator-secret")


def make_account(client, username):
    """An account made in the admin's add form, as the signed-in user."""
    response = client.post(reverse("admin:auth_user_add"), {
        "username": username, "usable_password": "true", "password1": "a-long-pass-phrase-1",
        "password2": "a-long-pass-phrase-1"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    from django.contrib.auth import get_user_model
    return get_user_model().objects.get(username=username)


def change(client, account, **fields):
    """POST the account's admin change form with everything a client could send."""
    data = {"username": account.username, "first_name": "", "last_name": "", "email": "", "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", **fields}
    return client.post(reverse("admin:auth_user_change", args=[account.pk]), data)


def test_an_administrator_cannot_make_a_superuser(client, administrator):
    account = make_account(client, "newcomer")
    change(client, account, is_superuser="on")
    account.refresh_from_db()
    assert not account.is_superuser


def test_an_administrator_cannot_give_staff_status(client, administrator):
    account = make_account(client, "newcomer")
    change(client, account, is_staff="on")
    account.refresh_from_db()
    assert not account.is_staff


@pytest.mark.parametrize("role", ["Team lead", "Administrator", "Analyst"])
def test_an_administrator_cannot_grant_a_role(client, administrator, role):
    account = make_account(client, "newcomer")
    group = Group.objects.get(name=role)
    change(client, account, groups=[group.pk], roles=[group.pk])
    assert not account.groups.exists()


def test_an_administrator_cannot_grant_a_permission_directly(client, administrator):
    account = make_account(client, "newcomer")
    approve_permission = Permission.objects.get(codename="approve_proposal")
    change(client, account, user_permissions=[approve_permission.pk])
    account.refresh_from_db()
    assert not account.user_permissions.exists() and not account.has_perm("proposals.approve_proposal")


def test_an_administrator_cannot_set_the_operators_password(client, administrator, operator):
    url = reverse("admin:auth_user_password_change", args=[operator.pk])
    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": "taken-over-123", "password2": "taken-over-123",
                                 "usable_password": "true", "set-password": ""})
    assert response.status_code == 403
    operator.refresh_from_db()
    assert operator.check_password("operator-secret")


def test_an_administrator_cannot_change_an_account_that_can_do_more(client, administrator, django_user_model):
    lead = member(django_user_model, "Team lead")  # approves proposals, which administrators cannot
    assert client.get(reverse("admin:auth_user_password_change", args=[lead.pk])).status_code == 403
    assert change(client, lead, first_name="Mallory", is_active="").status_code == 403
    lead.refresh_from_db()
    assert lead.is_active and lead.first_name == ""
    assert client.get(reverse("admin:auth_user_change", args=[lead.pk])).status_code == 200  # may look, not touch


def test_an_administrator_cannot_take_over_a_fellow_administrators_account(client, administrator, django_user_model):
    peer = member(django_user_model, "Administrator")  # the same rights, another name in every audit trail
    url = reverse("admin:auth_user_password_change", args=[peer.pk])
    response = client.post(url, {"password1": "taken-over-123", "password2": "taken-over-123",
                                 "usable_password": "true", "set-password": ""})
    assert response.status_code == 403
    peer.refresh_from_db()
    assert peer.check_password("pw")


def test_an_administrator_still_makes_and_looks_after_accounts_within_its_own_rights(client, administrator):
    account = make_account(client, "newcomer")
    assert change(client, account, first_name="New", last_name="Comer").status_code == 302
    account.refresh_from_db()
    assert account.first_name == "New" and not account.is_staff and not account.groups.exists()
    response = client.post(reverse("admin:auth_user_password_change", args=[account.pk]), {
        "password1": "another-long-phrase-2", "password2": "another-long-phrase-2", "usable_password": "true",
        "set-password": ""})
    assert response.status_code == 302


def test_changing_roles_is_a_right_of_its_own_limited_to_roles_held_and_audited(client, django_user_model):
    account = django_user_model.objects.create_user(username=unique("newcomer"), password="pw")
    lead = member(django_user_model, "Team lead", "change_role", "view_user", "change_user")
    client.force_login(lead)
    analyst, team_lead, administrator = (Group.objects.get(name=name) for name in
                                         ("Analyst", "Team lead", "Administrator"))

    response = change(client, account, roles=[administrator.pk])  # holds none of its customer rights
    assert response.status_code == 200 and not account.groups.exists()
    assert change(client, account, roles=[analyst.pk, team_lead.pk]).status_code == 302
    assert set(account.groups.all()) == {analyst, team_lead}
    assert change(client, account, roles=[analyst.pk]).status_code == 302
    from accounts.models import RoleChange

    assert [(c.account_username, c.role, c.action, c.changed_by_username)
            for c in RoleChange.objects.order_by("id")] == [
        (account.username, "Analyst", "granted", lead.username),
        (account.username, "Team lead", "granted", lead.username),
        (account.username, "Team lead", "removed", lead.username)]


def test_staff_and_superuser_status_are_a_superusers_and_audited(client, operator):
    client.force_login(operator)
    account = make_account(client, "newcomer")
    assert change(client, account, is_staff="on").status_code == 302
    account.refresh_from_db()
    assert account.is_staff
    from accounts.models import RoleChange

    assert RoleChange.objects.filter(account=account, role="staff status", action="granted",
                                     changed_by=operator).exists()


def test_an_account_made_by_the_author_cannot_approve_the_authors_proposal(client, administrator, operator):
    """The issue's reproduction: an administrator drafts, makes an account, and that account, made a
    team lead (here by an unsuspecting superuser, since the administrator no longer can), approves."""
    lena = Customer.objects.create(user_id=unique("cust"), first_name="L", last_name="W", max_speed=10)
    proposal = create_proposal(author=administrator, reason="r", changes={lena.user_id: {"max_speed": 444}})
    proposal.status, proposal.replay_fingerprint = "replayed", replay_fingerprint(proposal)
    proposal.save()
    sock_puppet = make_account(client, "puppet")
    sock_puppet.groups.add(Group.objects.get(name="Team lead"))
    with pytest.raises(ProposalRefused, match="not through an account"):
        approve(proposal, user=sock_puppet.__class__.objects.get(pk=sock_puppet.pk))
    from accounts.rules import record_creation

    grandchild = sock_puppet.__class__.objects.create_user(username=unique("grandchild"))
    record_creation(grandchild, by=sock_puppet)  # made through the account the administrator made
    grandchild.groups.add(Group.objects.get(name="Team lead"))
    with pytest.raises(ProposalRefused, match="not through an account"):
        approve(proposal, user=grandchild.__class__.objects.get(pk=grandchild.pk))
    lena.refresh_from_db()
    assert lena.max_speed == 10
    approve(proposal, user=member(sock_puppet.__class__, "Team lead"))  # someone else's hands: published
    lena.refresh_from_db()
    assert lena.max_speed == 444
