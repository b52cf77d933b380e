"""HTTP to Django, WebSockets at /ws/notifications/, and the background channel ``mysite-tasks``
that ``manage.py runworker mysite-tasks`` consumes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from notes.consumers import NotificationsConsumer, TasksConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            URLRouter([path("ws/notifications/", NotificationsConsumer.as_asgi())])
        ),
        "channel": ChannelNameRouter({"mysite-tasks": TasksConsumer.as_asgi()}),
    }
)
