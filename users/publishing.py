"""What the users-config topic says about customers, and how a change gets there.

Every change of a customer writes its users-config record to the outbox in the same database
transaction (Customer.save/delete and the customer QuerySet's bulk methods call this module);
the outbox publisher (`manage.py publish_outbox`) produces it. A customer's publication state is
read from its latest outbox row, so it is never out of step with what was sent.
"""

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery

from fraudsite.detection_sql import MAX_TRAVEL_NOTICES
from fraudsite.topics import USERS_CONFIG
from outbox.models import OutboxMessage
from outbox.publisher import enqueue

# The further signals' thresholds, as published to users-config (after the name and max_speed).
SIGNAL_FIELDS = ["velocity_max_transactions", "velocity_window_minutes", "spend_factor", "usual_hour_start",
                 "usual_hour_end", "time_zone"]


def _millis(moment):
    return round(moment.timestamp() * 1000)


def notice_value(notice):
    """A travel notice as users-config carries it (times as epoch milliseconds; signal "" = every signal)."""
    return {"starts_at": _millis(notice.starts_at), "ends_at": _millis(notice.ends_at), "signal": notice.signal,
            "center_lat": notice.center_lat, "center_lng": notice.center_lng, "radius_km": notice.radius_km}


def users_config_value(customer, notices, scoring):
    """The users-config record of an active customer, with its travel notices that have not ended
    and the scoring policy's fields (ScoringPolicy.published_fields)."""
    if len(notices) > MAX_TRAVEL_NOTICES:  # the detection job checks no more: refuse rather than drop one
        raise ValidationError(f"{customer.user_id} would have {len(notices)} travel notices in force; the "
                              f"detection job applies at most {MAX_TRAVEL_NOTICES}.")
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "max_speed": float(customer.max_speed),
        **{name: getattr(customer, name) for name in SIGNAL_FIELDS},
        "travel_notices": [notice_value(notice) for notice in notices],
        **scoring,
    }


def publish_customers(customers):
    """Queue each customer's current state (an inactive one as a tombstone) in the caller's transaction."""
    from .models import ScoringPolicy, notices_in_effect  # (the models module imports this one)

    customers = list(customers)
    scoring = ScoringPolicy.current().published_fields()
    notices = {}
    for notice in notices_in_effect([c.pk for c in customers]):
        notices.setdefault(notice.customer_id, []).append(notice)
    enqueue(USERS_CONFIG, {c.user_id: users_config_value(c, notices.get(c.pk, []), scoring) if c.active else None
                           for c in customers})


def publish_tombstones(user_ids):
    """Queue the removal of customers from users-config."""
    enqueue(USERS_CONFIG, dict.fromkeys(user_ids))


def publications():
    """The users-config outbox rows, newest first per customer."""
    return OutboxMessage.objects.filter(topic=USERS_CONFIG.role).order_by("-id")


def latest_publication(user_id):
    return publications().filter(key=user_id).first()


def with_publication_state(customers):
    """The customers annotated with their latest publication's sent_at, attempts and error."""
    latest = publications().filter(key=OuterRef("user_id"))
    return customers.annotate(
        publication_id=Subquery(latest.values("id")[:1]),
        publication_sent_at=Subquery(latest.values("sent_at")[:1]),
        publication_attempts=Subquery(latest.values("attempts")[:1]),
        publication_error=Subquery(latest.values("last_error")[:1]),
    )
