from django.urls import re_path

from . import consumers

# Room names: what a channel layer group name allows (ASCII letters, digits, '-', '_', '.').
websocket_urlpatterns = [
    re_path(r"^ws/chat/(?P<room_name>[A-Za-z0-9_.-]{1,80})/$", consumers.ChatConsumer.as_asgi()),
    re_path(r"^ws/echo/$", consumers.EchoConsumer.as_asgi()),
    re_path(r"^ws/session/$", consumers.SessionConsumer.as_asgi()),
    re_path(r"^ws/background/$", consumers.BackgroundProbeConsumer.as_asgi()),
]

# Channels a background worker consumes (manage.py runworker <channel>).
channel_routes = {consumers.BACKGROUND_CHANNEL: consumers.BackgroundConsumer.as_asgi()}
