"""What the users-config topic says about customers, and how a change gets there.

Every change of a customer writes its users-config record to the outbox in the same database
transaction (Customer.save/delete and the customer QuerySet's bulk methods call this module);
the outbox publisher (`manage.py publish_outbox`) produces it. A customer's publication state is
read from its latest outbox row, so it is never out of step with what was sent.
"""

from django.db.models import OuterRef, Subquery

from fraudsite.topics import USERS_CONFIG
from outbox.models import OutboxMessage
from outbox.publisher import enqueue

# The further signals' thresholds, as published to users-config (after the name and max_speed).
SIGNAL_FIELDS = ["velocity_max_transactions", "velocity_window_minutes", "spend_factor", "usual_hour_start",
                 "usual_hour_end", "time_zone"]


def users_config_value(customer):
    """The users-config record of an active customer."""
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "max_speed": float(customer.max_speed),
        **{name: getattr(customer, name) for name in SIGNAL_FIELDS},
    }


def publish_customers(customers):
    """Queue each customer's current state (an inactive one as a tombstone) in the caller's transaction."""
    enqueue(USERS_CONFIG, {c.user_id: users_config_value(c) if c.active else None for c in customers})


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
