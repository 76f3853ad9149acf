"""Changing the detection thresholds of many customers at once: validated like the admin form,
all or nothing, with audit history, and published through the outbox (one record per customer)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from simple_history.utils import bulk_update_with_history

from fraudsite import detection_signals

from .models import Customer

# Every signal's thresholds (fraudsite/detection_signals.py): max_speed, then SIGNAL_FIELDS.
THRESHOLD_FIELDS = [threshold.name for threshold in detection_signals.thresholds()]


class InvalidThresholds(ValueError):
    """Changes refused; `errors` maps each refused customer's user_id to {field: [messages]}."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(
            f"{user_id}: {' '.join(m for messages in fields.values() for m in messages)}"
            for user_id, fields in errors.items()))


OFF = "off"  # in text input (command line, CSV): turns an optional signal off


def parse_threshold(field, text):
    """One threshold's value from text ('off' or, for an optional signal, '' clears it); ValueError
    with the field's own message when the text is not a value of that field."""
    model_field = Customer._meta.get_field(field)
    if text.strip() in (OFF, "") and model_field.null:
        return None
    try:
        return model_field.to_python(text.strip())
    except Exception as error:
        raise ValueError(f"{text!r}: {' '.join(getattr(error, 'messages', [str(error)]))}") from None


def unknown_fields(changes):
    unknown = sorted(set(changes) - set(THRESHOLD_FIELDS))
    return {"*": {name: ["Not a threshold."] for name in unknown}} if unknown else {}


def apply_changes(customer, changes):
    """Set the changes on the (unsaved) customer; {field: [messages]} of what the model refuses."""
    for name, value in changes.items():
        setattr(customer, name, value)
    try:
        customer.full_clean()
    except ValidationError as error:
        return error.message_dict
    return {}


def set_thresholds(customers, changes, changed_by=None, reason=""):
    """Apply {field: value} to every customer of the queryset; returns how many changed."""
    if unknown_fields(changes):
        raise InvalidThresholds(unknown_fields(changes))
    with transaction.atomic():
        customers = list(customers.select_for_update())
        errors = {}
        for customer in customers:
            refused = apply_changes(customer, changes)
            if refused:
                errors[customer.user_id] = refused
        if errors:
            raise InvalidThresholds(errors)
        if customers:
            bulk_update_with_history(customers, Customer, list(changes), default_user=changed_by,
                                     default_change_reason=reason)
    return len(customers)
