"""WebSocket consumers: a chat room broadcasting through the channel layer, an echo, and a
round trip through a background worker (``manage.py runworker chat-background``)."""

import json

from channels.consumer import AsyncConsumer, get_handler_name
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


class NoDatabaseMixin:
    """For consumers that never use Django's database: dispatch without Channels' per-message
    close_old_connections().

    Since Channels 4.2, AsyncConsumer.dispatch runs close_old_connections() through
    sync_to_async before every handler: one round trip through the process's single
    thread-sensitive worker thread per message. A group_send to a group with 500 members in a
    process queues 500 of them, and every member's handler waits for its turn: measured here,
    50-90 ms before the first member of a 1,000-member group got its message (docs/benchmark.md).
    A consumer that does use the ORM should keep the default dispatch (or use
    channels.db.database_sync_to_async, which closes old connections around each call)."""

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError("No handler for message type %s" % message["type"])
        await handler(message)


class ChatConsumer(NoDatabaseMixin, AsyncWebsocketConsumer):
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


class EchoConsumer(NoDatabaseMixin, AsyncWebsocketConsumer):
    """/ws/echo/: answers every text frame with {"echo": text, "pid", "process"}."""

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return
        me = identity()
        await self.send(text_data=json.dumps({"echo": text_data, "pid": me["pid"], "process": me["process"]}))


class SessionConsumer(NoDatabaseMixin, AsyncWebsocketConsumer):
    """/ws/session/: says on connect what the session (AuthMiddlewareStack's, from the session
    cookie the browser sent with the handshake) holds under "name", which /session/?name=... sets:
    {"session_name": ..., "pid", "process"}."""

    async def connect(self):
        await self.accept()
        me = identity()
        name = self.scope["session"].get("name")
        await self.send(text_data=json.dumps({"session_name": name, "pid": me["pid"], "process": me["process"]}))


BACKGROUND_CHANNEL = "chat-background"


class BackgroundProbeConsumer(NoDatabaseMixin, AsyncWebsocketConsumer):
    """/ws/background/: hands every text frame to the background worker through the channel layer
    and sends back what the worker answers: {"background": text, "worker": its identity}."""

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        if text_data is None:
            return
        await self.channel_layer.send(
            BACKGROUND_CHANNEL,
            {"type": "background.echo", "text": text_data[:MAX_MESSAGE], "reply_to": self.channel_name},
        )

    async def background_reply(self, event):
        await self.send(text_data=json.dumps({"background": event["text"], "worker": event["worker"]}))


class BackgroundConsumer(NoDatabaseMixin, AsyncConsumer):
    """The worker's consumer of the ``chat-background`` channel (``manage.py runworker
    chat-background``): answers each message to the consumer that sent it."""

    async def background_echo(self, message):
        await self.channel_layer.send(
            message["reply_to"], {"type": "background.reply", "text": message["text"], "worker": identity()}
        )
