"""/ws/notifications/: every client is in one group; {"say": text} reaches all of them on any
host, {"ask": text} goes to the background worker (channel ``mysite-tasks``), which answers the
asking client alone."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.consumer import AsyncConsumer

from .identity import identity

GROUP = "notifications"
TASKS = "mysite-tasks"


class NotificationsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        # forwarded_proto: what nginx says the client came over ("https" for wss://)
        headers = dict(self.scope["headers"])
        await self.send_json({"hello": True, "forwarded_proto": headers.get(b"x-forwarded-proto", b"").decode(),
                              **identity()})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if "say" in content:
            await self.channel_layer.group_send(GROUP, {"type": "notify", "text": str(content["say"]),
                                                        "sender": identity()})
        elif "ask" in content:
            await self.channel_layer.send(TASKS, {"type": "task.ask", "text": str(content["ask"]),
                                                  "reply_to": self.channel_name})

    async def notify(self, event):
        await self.send_json({"said": event["text"], "sender": event["sender"], "receiver": identity()})

    async def task_answer(self, event):
        await self.send_json({"answer": event["text"], "worker": event["worker"]})


class TasksConsumer(AsyncConsumer):
    async def task_ask(self, event):
        await self.channel_layer.send(event["reply_to"], {"type": "task.answer", "text": event["text"][::-1],
                                                          "worker": identity()})
