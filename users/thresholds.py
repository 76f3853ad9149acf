"""Changing the detection thresholds of many customers at once: validated like the admin form,
all or nothing, with audit history, and published through the outbox (one record per customer)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_update_with_history

from .models import Customer
from .publishing import SIGNAL_FIELDS

THRESHOLD_FIELDS = ["max_speed", *SIGNAL_FIELDS]


class InvalidThresholds(ValueError):
    """Changes refused; `errors` maps each refused customer's user_id to {field: [messages]}."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(
            f"{user_id}: {' '.join(m for messages in fields.values() for m in messages)}"
            for user_id, fields in errors.items()))


def set_thresholds(customers, changes, changed_by=None, reason=""):
    """Apply {field: value} to every customer of the queryset; returns how many changed."""
    unknown = sorted(set(changes) - set(THRESHOLD_FIELDS))
    if unknown:
        raise InvalidThresholds({"*": {name: ["Not a threshold."] for name in unknown}})
    with transaction.atomic():
        customers = list(customers.select_for_update())
        errors = {}
        for customer in customers:
            for name, value in changes.items():
                setattr(customer, name, value)
            try:
                customer.full_clean()
            except ValidationError as error:
                errors[customer.user_id] = error.message_dict
        if errors:
            raise InvalidThresholds(errors)
        if customers:
            bulk_update_with_history(customers, Customer, list(changes), default_user=changed_by,
                                     default_change_reason=reason)
    return len(customers)
