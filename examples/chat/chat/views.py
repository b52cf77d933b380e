import asyncio
import time

from channels.layers import get_channel_layer
from django.http import JsonResponse
from django.shortcuts import render

from .identity import identity

DEEP_TIMEOUT = 5.0


def index(request):
    return render(request, "chat/index.html", {"identity": identity()})


def session(request):
    """GET /session/?name=NAME stores NAME in the session (the session cookie carries it; the
    consumer of /ws/session/ reads it back) -> {"session_name", "pid", "process", "server"}: the
    server is the WSGI server's SERVER_SOFTWARE (gunicorn/...) or "asgi"."""
    if "name" in request.GET:
        request.session["name"] = request.GET["name"][:200]
    body = {"session_name": request.session.get("name"), "server": request.META.get("SERVER_SOFTWARE", "asgi")}
    body.update(identity())
    return JsonResponse(body)


async def _channel_layer_round_trip():
    """Send a message to a fresh channel of the layer and read it back (Redis up and usable)."""
    layer = get_channel_layer()
    started = time.monotonic()
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    message = await asyncio.wait_for(layer.receive(channel), DEEP_TIMEOUT)
    if message.get("type") != "health.ping":
        raise RuntimeError("unexpected message %r" % (message,))
    return {"backend": type(layer).__name__, "round_trip_ms": round((time.monotonic() - started) * 1000, 1)}


async def health(request):
    """GET /health/ -> {"status": "ok", "pid", "process", "release", "scheme", "client"} (the
    scheme and the client's address as the app sees them, through the proxy headers); ?deep=1
    also round-trips the channel layer (503 with the error when that fails)."""
    body = {"status": "ok", "scheme": request.scheme, "client": request.META.get("REMOTE_ADDR")}
    body.update(identity())
    if request.GET.get("deep") in ("1", "true", "yes"):
        try:
            body["channel_layer"] = await _channel_layer_round_trip()
        except Exception as exc:  # report any layer failure as unhealthy, never a 500 page
            body["status"] = "error"
            body["channel_layer"] = {"error": "%s: %s" % (type(exc).__name__, exc)}
            return JsonResponse(body, status=503)
    return JsonResponse(body)
