"""Live verdicts for operators, through the channel layer (Redis between processes)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

OPERATORS_GROUP = "operators"
VERDICTS_EVENT = "verdicts.stored"  # handled by AlertsConsumer.verdicts_stored

MESSAGE_FIELDS = [
    "transaction_id", "user_id", "lat", "lng", "amount", "prev_transaction_id", "prev_lat", "prev_lng",
    "first_name", "last_name", "max_speed", "distance_km", "elapsed_seconds", "speed_kmh",
    "is_fraud", "status", "reason", "reasons",
]


def verdict_message(verdict):
    """The JSON message operators receive for one verdict (a Verdict or its row; frauds flagged as alerts)."""
    values = verdict if isinstance(verdict, dict) else vars(verdict)
    message = {"type": "verdict", "alert": values["is_fraud"]}
    message.update({field: values[field] for field in MESSAGE_FIELDS})
    message["review_status"] = values.get("review_status", "")
    message["timestamp"] = values["timestamp"].isoformat()
    message["received_at"] = values["received_at"].isoformat()
    return message


def push_verdicts(verdicts):
    """Send the verdicts to the operators group, as one channel-layer message per batch. Returns
    False (and logs) when the layer is unreachable."""
    if not verdicts:
        return True
    event = {"type": VERDICTS_EVENT, "messages": [verdict_message(verdict) for verdict in verdicts]}
    try:
        async_to_sync(get_channel_layer().group_send)(OPERATORS_GROUP, event)
    except Exception as error:  # Redis down: the verdicts are stored; the page reloads them from history
        logger.warning("could not push verdicts to operators: %r", error)
        return False
    return True


def layer_is_process_local():
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
