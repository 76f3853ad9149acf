"""Operators' decisions on alerts (FRAUD verdicts): one function every entry point calls, so the
map page, the alert pages, the API, bulk decisions, cases and the admin record decisions the same way.

A hold is binding: an alert that an analyst holds is decided by that analyst only. A team lead (the
assign permission) may decide it anyway; that override is an AlertEvent ("decided over the holder")
next to the review. An alert nobody holds may be decided by any reviewer."""

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from fraudsite.validation import has_control_characters
from transactions.models import Verdict

from . import live
from .models import DECISIONS, Alert, AlertEvent, AlertReview, ReviewStatus
from .permissions import ASSIGN_ALERT
from .signals import alert_reviewed

MAX_COMMENT_LENGTH = 2000
# Alerts still waiting for an operator: never decided, or decided to need a follow-up.
OPEN_STATUSES = (ReviewStatus.OPEN, ReviewStatus.NEEDS_FOLLOW_UP)


class ReviewError(ValueError):
    """A decision that cannot be recorded; the message says why."""


class HeldByColleague(ReviewError):
    """The alert (or case) is a colleague's: only they, or a team lead, decide it."""


def held_by_others(alerts, user):
    """The alerts (Alert rows, holder loaded) that someone other than user holds."""
    return [alert for alert in alerts if alert.holder_id not in (None, user.pk)]


def check_hold(alerts, user):
    """HeldByColleague unless user may decide these alerts; returns the holds a team lead overrides."""
    held = held_by_others(alerts, user)
    if held and not user.has_perm(ASSIGN_ALERT):
        names = ", ".join(sorted(f"{alert.verdict.transaction_id} ({alert.holder.get_username()})" for alert in held))
        raise HeldByColleague(f"Held by a colleague: {names}. Only the holder, or a team lead, decides a held alert.")
    return held


def validate_review(decision, comment):
    """{field: [message]} of what is wrong with a decision and its comment (empty when fine)."""
    errors = {}
    if not isinstance(decision, str) or decision not in DECISIONS:
        errors["decision"] = [f"Must be one of: {', '.join(DECISIONS)}."]
    if not isinstance(comment, str) or not comment.strip():
        errors["comment"] = ["Say why: a comment is required."]
    elif has_control_characters(comment, multiline=True):
        errors["comment"] = ["Must not contain control characters other than line breaks and tabs."]
    elif len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = [f"At most {MAX_COMMENT_LENGTH} characters."]
    return errors


def require_valid_review(decision, comment):
    if errors := validate_review(decision, comment):
        raise ReviewError(" ".join(message for messages in errors.values() for message in messages))


def not_an_alert(verdict):
    """Why the verdict cannot be reviewed, or None when it is an alert."""
    return None if verdict.is_fraud else f"{verdict.transaction_id} is not an alert: its verdict is {verdict.status}."


def review_alert(verdict_pk, decision, comment, user):
    """Record an operator's decision on an alert and make it the alert's status. Returns the review."""
    return review_alerts([verdict_pk], decision, comment, user)[0]


def review_alerts(verdict_pks, decision, comment, user):
    """The same decision and comment on several alerts, all or none, one audited review each.
    A final decision takes the alert out of its holder's hands. Returns the reviews."""
    require_valid_review(decision, comment)
    if not verdict_pks:
        raise ReviewError("Choose at least one alert.")
    with transaction.atomic():
        alerts = list(Alert.objects.select_for_update(of=("self",)).filter(pk__in=verdict_pks).order_by("pk")
                      .select_related("holder", "verdict"))
        if missing := set(verdict_pks) - {alert.pk for alert in alerts}:
            raise ReviewError(_why_not_alerts(missing))
        overridden = check_hold(alerts, user)
        reviews = [_record(alert, decision, comment.strip(), user) for alert in alerts]
        AlertEvent.objects.bulk_create([AlertEvent(
            alert=alert, action=AlertEvent.Action.OVERRIDDEN, actor=user, actor_username=user.get_username(),
            holder_username=alert.holder.get_username()) for alert in overridden])
        if decision not in OPEN_STATUSES:
            release_holders([alert.pk for alert in alerts])
        alert_reviewed.send(sender=AlertReview, reviews=reviews)
    return reviews


def _why_not_alerts(verdict_pks):
    for verdict in Verdict.objects.filter(pk__in=verdict_pks):
        if problem := not_an_alert(verdict):
            return problem
    return f"{len(verdict_pks)} of the chosen alerts no longer exist."


def _record(alert, decision, comment, user):
    """The review, and the alert's state it becomes (the verdict is never changed)."""
    review = AlertReview.objects.create(verdict=alert.verdict, decision=decision, comment=comment,
                                        reviewer=user, reviewer_username=user.get_username())
    alert.review_status, alert.reviewed_at = decision, review.decided_at
    alert.save(update_fields=["review_status", "reviewed_at"])
    return review


def release_holders(verdict_pks):
    """Decided alerts leave their holders' hands (inside the deciding transaction)."""
    held = list(Alert.objects.filter(pk__in=verdict_pks, holder__isnull=False)
                .values_list("verdict__transaction_id", flat=True))
    Alert.objects.filter(pk__in=verdict_pks).update(holder=None, held_since=None)
    transaction.on_commit(lambda: live.push_holders([(transaction_id, None) for transaction_id in held]))


def counts_by_status():
    """{review status: number of alerts}, every status present."""
    counts = {row["review_status"]: row["n"] for row in
              Alert.objects.order_by().values("review_status").annotate(n=Count("pk"))}
    return {value: counts.get(value, 0) for value, _ in ReviewStatus.choices}


def open_alerts():
    return Alert.objects.filter(review_status__in=OPEN_STATUSES).order_by("verdict__received_at")


def review_message(review):
    return {
        "transaction_id": review.verdict.transaction_id, "decision": review.decision,
        "decision_label": review.get_decision_display(), "comment": review.comment,
        "reviewer": review.reviewer_username, "decided_at": timezone.localtime(review.decided_at).isoformat(),
    }
