"""How a list entry's value is checked: with the transaction contract's own check of the field the
list's kind matches (transactions/context.py), so an entry is spelled exactly as the transactions
it should match are stored."""

from django.core.exceptions import ValidationError

from transactions import context
from users.models import user_id_validator

CONTEXT_CHECKS = {field.name: field.clean for field in context.FIELDS}


def _customer(value):
    try:
        user_id_validator(value)  # the Customer's own check
    except ValidationError:
        raise ValueError("A customer's user id: 1 to 64 letters, digits, '_', '.' or '-'.") from None
    return value


def clean_value(kind, value):
    """The value as stored and matched; ValueError with the message to show when it is no value of kind."""
    check = _customer if kind.column == "user_id" else CONTEXT_CHECKS[kind.column]
    return check(value.strip())
