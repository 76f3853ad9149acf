"""Live verdicts for operators, through the channel layer (Redis between processes)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

OPERATORS_GROUP = "operators"
VERDICT_EVENT = "verdict.stored"  # handled by AlertsConsumer.verdict_stored

MESSAGE_FIELDS = [
    "transaction_id", "user_id", "lat", "lng", "amount", "prev_transaction_id", "prev_lat", "prev_lng",
    "first_name", "last_name", "max_speed", "distance_km", "elapsed_seconds", "speed_kmh",
    "is_fraud", "status", "reason",
]


def verdict_message(verdict):
    """The JSON message operators receive for one verdict (frauds flagged as alerts)."""
    message = {"type": "verdict", "alert": verdict.is_fraud}
    message.update({field: getattr(verdict, field) for field in MESSAGE_FIELDS})
    message["timestamp"] = verdict.timestamp.isoformat()
    message["received_at"] = verdict.received_at.isoformat()
    return message


def push_verdicts(verdicts):
    """Send each verdict to the operators group. Returns False (and logs) when the layer is unreachable."""
    messages = [{"type": VERDICT_EVENT, "message": verdict_message(verdict)} for verdict in verdicts]
    try:
        async_to_sync(_send_all)(get_channel_layer(), messages)
    except Exception as error:  # Redis down: the verdicts are stored; the page reloads them from history
        logger.warning("could not push verdicts to operators: %r", error)
        return False
    return True


async def _send_all(layer, messages):
    for message in messages:  # one event loop hop for the whole batch
        await layer.group_send(OPERATORS_GROUP, message)


def layer_is_process_local():
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
