"""WebSocket consumers: a chat room broadcasting through the channel layer, and an echo."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

from .identity import identity

MAX_MESSAGE = 4096


def _message_of(text):
    """The chat message in a received text frame: {"message": ...} JSON, or the raw text."""
    try:
        data = json.loads(text)
    except ValueError:
        return text[:MAX_MESSAGE]
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])[:MAX_MESSAGE]
    return text[:MAX_MESSAGE]


class ChatConsumer(AsyncWebsocketConsumer):
    """/ws/chat/<room>/: joins the group chat_<room>; every text received goes to the whole group
    (all processes, through the channel layer) as {"message", "pid", "process"} of the sender."""

    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.group_name = "chat_%s" % self.room_name
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()
        hello = {"type": "hello", "room": self.room_name}
        hello.update(identity())
        await self.send(text_data=json.dumps(hello))

    async def disconnect(self, code):
        if hasattr(self, "group_name"):
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return
        me = identity()
        await self.channel_layer.group_send(
            self.group_name,
            {
                "type": "chat.message",
                "message": _message_of(text_data),
                "pid": me["pid"],
                "process": me["process"],
            },
        )

    async def chat_message(self, event):
        await self.send(
            text_data=json.dumps(
                {"type": "message", "message": event["message"], "pid": event["pid"], "process": event["process"]}
            )
        )


class EchoConsumer(AsyncWebsocketConsumer):
    """/ws/echo/: answers every text frame with {"echo": text, "pid", "process"}."""

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return
        me = identity()
        await self.send(text_data=json.dumps({"echo": text_data, "pid": me["pid"], "process": me["process"]}))
