"""Cases: a customer's open alerts worked as one, with an owner, notes and one decision."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from fraudsite.validation import has_control_characters

from .models import Alert, Case, CaseNote
from .permissions import ASSIGN_ALERT
from .reviews import (MAX_COMMENT_LENGTH, OPEN_STATUSES, HeldByColleague, ReviewError, require_valid_review,
                      review_alerts)
from .signals import case_decided

# A case is closed by a final decision; "needs follow-up" is for single alerts.
CASE_DECISIONS = ["confirmed_fraud", "false_positive"]


def open_case(customer, user):
    """The customer's open case, opened now (owned by user) if there is none, holding every open
    alert of the customer. Returns (case, created)."""
    try:
        with transaction.atomic():
            case = Case.objects.create(customer=customer, owner=user)
            Alert.objects.filter(verdict__customer=customer, review_status__in=OPEN_STATUSES,
                                 case=None).update(case=case)
            return case, True
    except IntegrityError:  # one_open_case_per_customer: someone opened it first
        return Case.objects.get(customer=customer, status=Case.Status.OPEN), False


def add_note(case, text, user):
    """A note on an open case (a decided case's record is closed)."""
    if case.status != Case.Status.OPEN:
        raise ReviewError("This case is decided: its record is closed to new notes.")
    if not isinstance(text, str) or not text.strip():
        raise ReviewError("A note needs some text.")
    if has_control_characters(text, multiline=True) or len(text) > MAX_COMMENT_LENGTH:
        raise ReviewError(f"A note is at most {MAX_COMMENT_LENGTH} characters, without control characters.")
    return CaseNote.objects.create(case=case, text=text.strip(), author=user, author_username=user.get_username())


def may_decide(case, user):
    """The case's owner decides it (anyone when it has none); a team lead may decide anyone's."""
    return case.owner_id in (None, user.pk) or user.has_perm(ASSIGN_ALERT)


def decide_case(case_pk, decision, comment, user):
    """Decide every open alert of the case (one audited review each) and close it, all or none. The
    owner decides; a team lead deciding a colleague's case is an override, said in the case's history
    (and, for each alert a colleague held, in the alert's events: see reviews)."""
    if decision not in CASE_DECISIONS:
        raise ReviewError(f"A case is decided as one of: {', '.join(CASE_DECISIONS)}.")
    require_valid_review(decision, comment)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_pk)
        if case.status != Case.Status.OPEN:
            raise ReviewError("This case is already decided.")
        if not may_decide(case, user):
            raise HeldByColleague(f"{case.owner.get_username()} owns this case: only they, or a team lead, decide it.")
        open_alerts = list(case.alerts.filter(review_status__in=OPEN_STATUSES).values_list("pk", flat=True))
        reviews = review_alerts(open_alerts, decision, comment, user) if open_alerts else []
        case.status, case.decision, case.decided_at = Case.Status.DECIDED, decision, timezone.now()
        case._history_user = user
        if case.owner_id not in (None, user.pk):
            case._change_reason = f"decided by {user.get_username()} over {case.owner.get_username()}'s ownership"
        case.save()
        case_decided.send(sender=Case, case=case, decided_by=user.get_username(),
                          alerts=list(case.alerts.order_by("pk").values_list("verdict__transaction_id", flat=True)))
    return reviews
