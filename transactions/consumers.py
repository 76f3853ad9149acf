import json
from collections import Counter

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .broadcast import OPERATORS_EVENT, OPERATORS_GROUP, VERDICTS_EVENT, frame_of_verdicts
from .permissions import VIEW_VERDICT

# Close codes (4000-4999 are the application's): not signed in or not allowed; too many sockets.
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY_SOCKETS = 4429

# Open sockets per user in this web server process.
_open_sockets = Counter()


class AlertsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/alerts/: every stored verdict and every change of an alert's holder, live, for signed-in
    operators allowed to view verdicts."""

    counted_user = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await self._allowed(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if _open_sockets[user.pk] >= settings.WEBSOCKETS_PER_USER:
            # Accepted, then closed: a refused handshake could not say why.
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY_SOCKETS, reason=f"at most {settings.WEBSOCKETS_PER_USER} per user")
            return
        # Counted before any await, so that sockets connecting at once cannot all pass the check.
        _open_sockets[user.pk] += 1
        self.counted_user = user.pk
        try:
            await self.channel_layer.group_add(OPERATORS_GROUP, self.channel_name)
            await self.accept()
        except BaseException:  # disconnect() is not called for a socket that failed to connect
            self._release()
            raise

    async def disconnect(self, code):
        if self.counted_user is None:
            return  # refused: never counted, never in the group
        self._release()
        await self.channel_layer.group_discard(OPERATORS_GROUP, self.channel_name)

    def _release(self):
        _open_sockets[self.counted_user] -= 1
        if _open_sockets[self.counted_user] <= 0:
            del _open_sockets[self.counted_user]
        self.counted_user = None

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Operators only listen: whatever a client sends (text, JSON of any depth, binary) is
        ignored unread, so that no frame can fail the socket."""

    # One frame per channel-layer message, holding its messages as a list, encoded once per web
    # process for all its sockets. A frame per verdict, each encoded by each socket (and the
    # database connections checked before each), cost so much per socket that at 200 verdicts/s
    # to 100 operators the process fell minutes behind and the layer dropped what no socket took.
    async def dispatch(self, message):
        if message["type"] in (OPERATORS_EVENT, VERDICTS_EVENT):
            # Channels closes stale database connections before every handler, on a thread; these
            # handlers use no database.
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    async def operators_messages(self, event):
        await self.send(text_data=json.dumps(event["messages"]))

    async def operators_verdicts(self, event):
        await self.send(text_data=frame_of_verdicts(event["verdicts"]))

    @staticmethod
    async def _allowed(user):
        from channels.db import database_sync_to_async

        return await database_sync_to_async(user.has_perm)(VIEW_VERDICT)
