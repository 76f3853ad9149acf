"""Live verdicts for operators, through the channel layer (Redis between processes)."""

import logging
from operator import itemgetter

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

OPERATORS_GROUP = "operators"
OPERATORS_EVENT = "operators.messages"  # handled by AlertsConsumer.operators_messages

MESSAGE_FIELDS = [
    "transaction_id", "user_id", "lat", "lng", "amount", "prev_transaction_id", "prev_lat", "prev_lng",
    "first_name", "last_name", "max_speed", "distance_km", "elapsed_seconds", "speed_kmh",
    "is_fraud", "status", "reason", "reasons",
]


message_values = itemgetter(*MESSAGE_FIELDS)


def verdict_message(verdict):
    """The JSON message operators receive for one verdict (a Verdict or its row; frauds flagged as alerts)."""
    values = verdict if isinstance(verdict, dict) else vars(verdict)
    message = dict(zip(MESSAGE_FIELDS, message_values(values)))  # the worker builds thousands a second
    message.update(type="verdict", alert=values["is_fraud"], review_status=values.get("review_status", ""),
                   holder=values.get("holder") or "",  # who works the alert, when the page asked
                   timestamp=values["timestamp"].isoformat(), received_at=values["received_at"].isoformat())
    return message


def push_verdicts(verdicts):
    """Send the verdicts to the operators group, as one channel-layer message per batch. Returns
    False (and logs) when the layer is unreachable."""
    return push_to_operators([verdict_message(verdict) for verdict in verdicts])


def push_to_operators(messages):
    """Send JSON messages to every operator's socket, in one channel-layer message."""
    if not messages:
        return True
    try:
        async_to_sync(get_channel_layer().group_send)(OPERATORS_GROUP, {"type": OPERATORS_EVENT, "messages": messages})
    except Exception as error:  # Redis down: the data is stored; pages show it when reloaded
        logger.warning("could not push %s to operators: %r", messages[0]["type"], error)
        return False
    return True


def layer_is_process_local():
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
