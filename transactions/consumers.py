from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .alerts import OPERATORS_GROUP

VIEW_PERMISSION = "transactions.view_verdict"


class AlertsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/alerts/: every stored verdict, live, for signed-in operators allowed to view verdicts."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await self._allowed(user):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(OPERATORS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(OPERATORS_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Operators only listen; anything they send is ignored."""

    @classmethod
    async def decode_json(cls, text_data):
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None  # junk from a client is ignored, not a server error

    async def verdicts_stored(self, event):
        for message in event["messages"]:
            await self.send_json(message)

    @staticmethod
    async def _allowed(user):
        from channels.db import database_sync_to_async

        return await database_sync_to_async(user.has_perm)(VIEW_PERMISSION)
