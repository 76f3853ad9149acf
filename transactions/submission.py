"""Validating a submitted transaction and producing it to card-transactions."""

import re
import uuid
from datetime import datetime, timedelta, timezone

from confluent_kafka import KafkaException
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone as django_timezone

from fraudsite.kafka import DeliveryFailed, produce_and_confirm, shared_producer
from fraudsite.topics import CARD_TRANSACTIONS
from fraudsite.validation import finite_float, has_control_characters
from users.models import Customer

from . import context
from .models import Transaction

TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class DuplicateTransaction(Exception):
    pass


class KafkaUnavailable(Exception):
    pass


def _number(data, name, low, high, errors, low_inclusive=True):
    raw = data.get(name)
    value = finite_float(raw)
    if raw is None:
        errors[name] = ["This field is required."]
    elif value is None:
        errors[name] = ["Must be a number."]
    elif value < low or (value == low and not low_inclusive) or value > high:
        bound = ">" if not low_inclusive else ">="
        errors[name] = [f"Must be {bound} {low:g} and <= {high:g}."]
    else:
        return float(value)
    return None


def _timestamp(value, errors):
    """Epoch milliseconds or an ISO-8601 string; must lie within the accepted window around now."""
    if value is None:
        return django_timezone.now()
    millis = finite_float(value)  # None for a bool, a string, or a number no float holds
    if millis is not None:
        try:
            moment = datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            moment = None
    elif isinstance(value, str) and not has_control_characters(value):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is None:
            errors["timestamp"] = ["Give a time zone (e.g. a trailing Z for UTC)."]
            return None
    else:
        moment = None
    if moment is None:
        errors["timestamp"] = ["Must be epoch milliseconds or an ISO-8601 time such as 2026-01-31T12:00:00Z."]
        return None
    now = django_timezone.now()
    if moment > now + timedelta(seconds=settings.TRANSACTION_MAX_FUTURE_SECONDS):
        errors["timestamp"] = [f"More than {settings.TRANSACTION_MAX_FUTURE_SECONDS} s in the future."]
    elif moment < now - timedelta(seconds=settings.TRANSACTION_MAX_PAST_SECONDS):
        errors["timestamp"] = [f"More than {settings.TRANSACTION_MAX_PAST_SECONDS} s in the past."]
    else:
        return moment
    return None


def active_customer(user_id):
    return active_customers([user_id]).get(user_id)


def active_customers(user_ids):
    """{user id: the active Customer} of those that are."""
    return {customer.user_id: customer for customer in Customer.objects.filter(user_id__in=user_ids, active=True)}


def validate(data, find_customer=active_customer):
    """(cleaned, errors) for a submission {user_id, amount, lat, lng, transaction_id?, timestamp?,
    and the optional context of transactions/context.py}. find_customer(user_id) -> the active
    Customer or None (the decision path's is cached)."""
    if not isinstance(data, dict):
        return None, {"__all__": ["The body must be a JSON object."]}
    errors = {}
    cleaned = {
        "lat": _number(data, "lat", -90, 90, errors),
        "lng": _number(data, "lng", -180, 180, errors),
        "amount": _number(data, "amount", 0, settings.TRANSACTION_MAX_AMOUNT, errors, low_inclusive=False),
        "timestamp": _timestamp(data.get("timestamp"), errors),
        **context.clean_context(data, errors),
    }
    transaction_id = data.get("transaction_id")
    if transaction_id is None:
        cleaned["transaction_id"] = uuid.uuid4().hex
    elif not isinstance(transaction_id, str) or not TRANSACTION_ID.match(transaction_id):
        errors["transaction_id"] = ["1 to 64 letters, digits, '_', '.', ':' or '-'."]
    else:
        cleaned["transaction_id"] = transaction_id
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        errors["user_id"] = ["This field is required."]
    elif has_control_characters(user_id):
        errors["user_id"] = ["Must not contain control characters."]
    else:
        cleaned["customer"] = find_customer(user_id)
        if cleaned["customer"] is None:
            errors["user_id"] = [f"No active customer {user_id[:64]!r}."]
    return (None, errors) if errors else (cleaned, {})


def kafka_value(cleaned):
    """The card-transactions record of a validated submission, Avro-encoded."""
    return CARD_TRANSACTIONS.codec().encode({
        "timestamp": int(cleaned["timestamp"].timestamp() * 1000),
        "transaction_id": cleaned["transaction_id"],
        "lat": cleaned["lat"], "lng": cleaned["lng"], "amount": cleaned["amount"],
        **context.values_of(cleaned),
    })


def submit(cleaned, user=None):
    """Record the transaction and produce it; nothing is recorded unless the broker acknowledged it."""
    value = kafka_value(cleaned)
    try:
        with transaction.atomic():
            submitted = Transaction.objects.create(
                transaction_id=cleaned["transaction_id"], customer=cleaned["customer"],
                timestamp=cleaned["timestamp"], lat=cleaned["lat"], lng=cleaned["lng"], amount=cleaned["amount"],
                **context.values_of(cleaned),
                submitted_by=user if user is not None and user.is_authenticated else None,
            )
            produce_and_confirm(shared_producer(), CARD_TRANSACTIONS.name,
                                CARD_TRANSACTIONS.encode_key(cleaned["customer"].user_id), value)
    except IntegrityError:
        raise DuplicateTransaction(cleaned["transaction_id"]) from None
    except (DeliveryFailed, KafkaException, BufferError) as error:
        raise KafkaUnavailable(str(error)) from error
    return submitted
