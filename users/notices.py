"""Travel notices: creating them (the admin, the API and case pages call this), approving the broad
ones, and reading them.

A notice is validated like the admin form (the model's clean), saved with the customer's
users-config record queued in the same transaction, and recorded in its history. One beyond the
scope one person may set (models.within_scope) waits for someone else to approve it.
"""

from dataclasses import dataclass
from datetime import datetime, timezone

from django.db import transaction
from django.utils import timezone as django_timezone

from accounts.rules import one_person
from fraudsite.validation import finite_float, has_control_characters

from .models import TravelNotice
from .permissions import APPROVE_TRAVELNOTICE


class NoticeRefused(Exception):
    """An approval that may not happen; the message says why."""


@dataclass(frozen=True)
class Region:
    """A circle on the map: transactions within radius_km of (lat, lng)."""

    lat: float
    lng: float
    radius_km: float


def create_travel_notice(customer, *, starts_at, ends_at, signal="", reason, region=None, user):
    """Create a travel notice for customer; raises ValidationError ({field: [message]}) when it is not
    acceptable. signal: a fraud reason code, or "" for every signal; region: a Region, or None for
    everywhere."""
    center = (None, None, None) if region is None else (region.lat, region.lng, region.radius_km)
    notice = TravelNotice(
        customer=customer, starts_at=starts_at, ends_at=ends_at, signal=signal,
        reason=reason.strip() if isinstance(reason, str) else reason,
        center_lat=center[0], center_lng=center[1], radius_km=center[2], created_by=user,
    )
    notice.full_clean()
    notice._history_user = user  # (outside a request too)
    notice.save()  # (locks the customer and checks the limit of notices in force again)
    return notice


def approve_travel_notice(notice, *, user):
    """Put a notice awaiting approval into effect (published to the job with the customer's record).
    The approver needs the permission and must have had no hand in the notice: not its creator nor
    anyone who changed it, nor an account any of them made or that made them."""
    with transaction.atomic():
        notice = TravelNotice.objects.select_for_update().get(pk=notice.pk)
        if not user.has_perm(APPROVE_TRAVELNOTICE):
            raise NoticeRefused("You may not approve travel notices.")
        if notice.approval != TravelNotice.Approval.PENDING:
            raise NoticeRefused(f"Travel notice {notice.pk} awaits no approval.")
        if notice.ends_at <= django_timezone.now():
            raise NoticeRefused(f"Travel notice {notice.pk} has ended.")
        hands = {record.history_user for record in notice.history.select_related("history_user")} | {notice.created_by}
        if any(one_person(user, hand) for hand in hands - {None}):
            raise NoticeRefused(f"Travel notice {notice.pk} must be approved by someone who neither made nor changed "
                                "it, and not through an account any of them made.")
        notice.approval, notice.approved_by, notice.approved_at = (TravelNotice.Approval.APPROVED, user,
                                                                   django_timezone.now())
        notice._change_reason, notice._history_user = f"approved by {user.get_username()}", user
        notice.save()
    return notice


def _time(data, name, errors):
    value = data.get(name)
    moment = None
    if isinstance(value, str) and not has_control_characters(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    if value is None:
        errors[name] = ["This field is required."]
    elif moment is None:
        errors[name] = ["Must be an ISO-8601 time such as 2026-07-01T00:00:00Z."]
    elif moment.tzinfo is None:
        errors[name] = ["Give a time zone (e.g. a trailing Z for UTC)."]
    else:
        return moment
    return None


def _region(value, errors):
    if value is None:
        return None
    numbers = {name: finite_float(value.get(name)) if isinstance(value, dict) else None
               for name in ("lat", "lng", "radius_km")}
    if not isinstance(value, dict) or None in numbers.values():
        errors["region"] = ["Must be null (everywhere) or {lat, lng, radius_km}, all numbers."]
        return None
    return Region(**numbers)


def parse_notice_request(data):
    """(keyword arguments of create_travel_notice, errors) for an API body {starts_at, ends_at,
    signal?, reason, region?}; the model validates the values themselves."""
    if not isinstance(data, dict):
        return None, {"__all__": ["The body must be a JSON object."]}
    errors = {}
    fields = {"starts_at": _time(data, "starts_at", errors), "ends_at": _time(data, "ends_at", errors),
              "signal": data.get("signal", ""), "reason": data.get("reason"),
              "region": _region(data.get("region"), errors)}
    for name in ("signal", "reason"):
        if not isinstance(fields[name], str):
            errors[name] = ["Must be a string."]
    return (None, errors) if errors else (fields, {})


def notice_message(notice):
    """A notice as the API shows it."""
    return {
        "id": notice.pk, "user_id": notice.customer.user_id,
        "starts_at": notice.starts_at.astimezone(timezone.utc).isoformat(),
        "ends_at": notice.ends_at.astimezone(timezone.utc).isoformat(),
        "signal": notice.signal, "reason": notice.reason,
        "region": None if notice.radius_km is None else {
            "lat": notice.center_lat, "lng": notice.center_lng, "radius_km": notice.radius_km},
        "created_by": notice.created_by.get_username() if notice.created_by else None,
        "created_at": notice.created_at.isoformat(),
        "approval": notice.approval,  # pending: not applied until someone else approves it
        "approved_by": notice.approved_by.get_username() if notice.approved_by else None,
    }
