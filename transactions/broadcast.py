"""Live verdicts for operators, through the channel layer (Redis between processes)."""

import json
import logging
from functools import lru_cache
from operator import itemgetter

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from fraudsite.loops import LoopThread

from . import context
from .verdicts import MEASUREMENTS, time_of

logger = logging.getLogger(__name__)

OPERATORS_GROUP = "operators"
OPERATORS_EVENT = "operators.messages"  # handled by AlertsConsumer.operators_messages
VERDICTS_EVENT = "operators.verdicts"  # handled by AlertsConsumer.operators_verdicts

MESSAGE_FIELDS = [
    "transaction_id", "user_id", "lat", "lng", "amount", "prev_lat", "prev_lng", "first_name", "last_name",
    *MEASUREMENTS, "is_fraud", "status", "reason", "reasons", *context.NAMES,
]
# What a pushed verdict carries, in this order: the worker sends value lists, which cost a fifth
# of the dicts to build at thousands a second (B1), and each web server makes the dicts.
# review_status is the alert's (alerts.Alert): "" for a verdict just stored, what
# Verdict.with_alert_state() gives for a page's verdicts.
PUSHED_FIELDS = [*MESSAGE_FIELDS, "review_status", "timestamp", "received_at"]
message_values = itemgetter(*MESSAGE_FIELDS)


def verdict_values(verdict):
    """The values of PUSHED_FIELDS of a stored verdict's row (times in epoch milliseconds, see
    transactions.verdicts) or of a Verdict with its alert's state (times in ISO 8601), ready for
    the channel layer."""
    if isinstance(verdict, dict):
        return [*message_values(verdict), "", verdict["timestamp"], verdict["received_at"]]
    return [*message_values(vars(verdict)), verdict.review_status,
            verdict.timestamp.isoformat(), verdict.received_at.isoformat()]


def message_of(values, holder=""):
    """The JSON message operators receive for one verdict, from its verdict_values (frauds flagged as alerts)."""
    message = dict(zip(PUSHED_FIELDS, values))
    message.update(type="verdict", alert=message["is_fraud"], holder=holder)
    for name in ("timestamp", "received_at"):
        if isinstance(message[name], int):
            message[name] = time_of(message[name]).isoformat()
    return message


def frame_of_verdicts(verdicts):
    """The WebSocket frame of a push of verdict_values: every operator's socket in this process
    gets the same push, so it is encoded once (kept by its values: a verdict pushed again with
    another review state is another frame)."""
    return _frame(tuple(map(tuple, verdicts)))


@lru_cache(maxsize=64)
def _frame(verdicts):
    return json.dumps([message_of(values) for values in verdicts])


def verdict_message(verdict):
    """The JSON message of a Verdict with its alert's state (Verdict.with_alert_state)."""
    return message_of(verdict_values(verdict), holder=verdict.holder or "")


class Pusher(LoopThread):
    """The verdict worker's loop for its pushes (fraudsite.loops): the channel layer keeps its
    Redis connection open from one push to the next; a connection per push was a tenth of the
    worker's time (B1)."""

    TIMEOUT_SECONDS = 10

    def __init__(self):
        super().__init__("operators-push")

    def run(self, coroutine):
        return super().run(coroutine, self.TIMEOUT_SECONDS)


def push_verdicts(verdicts, pusher=None):
    """Send the verdicts (stored rows, or Verdicts with their alert's state) to the operators group, as one channel-layer
    message per batch, through pusher if given. Returns False (and logs) when the layer is unreachable."""
    return not verdicts or _send({"type": VERDICTS_EVENT, "verdicts": [verdict_values(v) for v in verdicts]}, pusher)


def push_to_operators(messages):
    """Send JSON messages to every operator's socket, in one channel-layer message."""
    return not messages or _send({"type": OPERATORS_EVENT, "messages": messages})


def _send(event, pusher=None):
    group_send = get_channel_layer().group_send
    try:
        if pusher:
            pusher.run(group_send(OPERATORS_GROUP, event))
        else:
            async_to_sync(group_send)(OPERATORS_GROUP, event)
    except Exception as error:  # Redis down: the data is stored; pages show it when reloaded
        logger.warning("could not push %s to operators: %r", event["type"], error)
        return False
    return True


def layer_is_process_local():
    return isinstance(get_channel_layer(), InMemoryChannelLayer)
