"""WSGI entry point (Django's startproject file): plain HTTP only, for the Channels guide's split,
where a WSGI server serves the pages and Daphne only WebSockets (asgi.channels.daphne's
daphne_split runs gunicorn on it)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

application = get_wsgi_application()
