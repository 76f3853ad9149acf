"""Who works which alert: take the next one, assign, release. Each step is one transaction that
locks the alert's row, so two analysts can never hold the same alert, and each is audited."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import live
from .models import Alert, AlertEvent
from .permissions import ASSIGN_ALERT, REVIEW_ALERT
from .reviews import OPEN_STATUSES, ReviewError


def open_unheld():
    return Alert.objects.filter(holder=None, review_status__in=OPEN_STATUSES)


def take_next(user):
    """Give the user the oldest open alert nobody holds, or None when there is none. SKIP LOCKED:
    analysts taking at the same moment each lock a different row instead of queueing for one."""
    with transaction.atomic():
        alert = (open_unheld().order_by("verdict__received_at", "pk")
                 .select_for_update(skip_locked=True, of=("self",)).first())
        if alert is None:
            return None
        _hand_over(alert, user, AlertEvent.Action.TAKEN, user)
    return alert


def assign(verdict_pk, holder, by):
    """Give the alert to a colleague who may review alerts (assigning to oneself is taking it)."""
    if holder != by and not by.has_perm(ASSIGN_ALERT):
        raise ReviewError("You may not assign alerts to colleagues.")
    if not holder.is_active or not holder.has_perm(REVIEW_ALERT):
        raise ReviewError(f"{holder.get_username()} may not review alerts.")
    with transaction.atomic():
        alert = _locked_open(verdict_pk)
        if alert.holder_id == holder.pk:
            raise ReviewError(f"{holder.get_username()} already holds this alert.")
        if alert.holder_id not in (None, by.pk) and not by.has_perm(ASSIGN_ALERT):
            raise ReviewError(f"{alert.holder.get_username()} holds this alert.")
        action = AlertEvent.Action.TAKEN if holder == by else AlertEvent.Action.ASSIGNED
        _hand_over(alert, holder, action, by)
    return alert


def release(verdict_pk, by):
    """Put the alert back in the queue; only its holder, or someone who may assign, can."""
    with transaction.atomic():
        alert = _locked(verdict_pk)
        if alert.holder_id is None:
            raise ReviewError("Nobody holds this alert.")
        if alert.holder_id != by.pk and not by.has_perm(ASSIGN_ALERT):
            raise ReviewError(f"{alert.holder.get_username()} holds this alert.")
        _hand_over(alert, None, AlertEvent.Action.RELEASED, by)
    return alert


def _locked(verdict_pk):
    alert = (Alert.objects.select_for_update(of=("self",)).filter(pk=verdict_pk)
             .select_related("holder", "verdict").first())
    if alert is None:
        raise ReviewError("This verdict is not an alert.")
    return alert


def _locked_open(verdict_pk):
    alert = _locked(verdict_pk)
    if alert.review_status not in OPEN_STATUSES:
        raise ReviewError("This alert is decided.")
    return alert


def _hand_over(alert, holder, action, by):
    alert.holder, alert.held_since = holder, (timezone.now() if holder else None)
    alert.save(update_fields=["holder", "held_since"])
    AlertEvent.objects.create(alert=alert, action=action, actor=by, actor_username=by.get_username(),
                              holder_username=holder.get_username() if holder else "")
    transaction.on_commit(lambda: live.push_holders([(alert.verdict.transaction_id, holder)]))


def reviewers():
    """Everyone an alert can be assigned to: active users allowed to review, directly or by group."""
    app_label, name = REVIEW_ALERT.split(".")
    grant = Q(content_type__app_label=app_label, codename=name)
    allowed = Permission.objects.filter(grant)
    return (get_user_model().objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(user_permissions__in=allowed) | Q(groups__permissions__in=allowed))
            .distinct().order_by("username"))
