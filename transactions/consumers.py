from collections import Counter

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .broadcast import OPERATORS_GROUP, message_of
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

    async def operators_messages(self, event):
        for message in event["messages"]:
            await self.send_json(message)

    async def operators_verdicts(self, event):
        for values in event["verdicts"]:
            await self.send_json(message_of(values))

    @staticmethod
    async def _allowed(user):
        from channels.db import database_sync_to_async

        return await database_sync_to_async(user.has_perm)(VIEW_VERDICT)
